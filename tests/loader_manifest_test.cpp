// Manifests: what a packager writes, and what a user sees when it is wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_util.h"

namespace ltc {
namespace {

using loader_test::CaseDir;
using loader_test::CaseDirs;
using loader_test::HostAbi;
using loader_test::TempDir;
using ::testing::HasSubstr;

// The text of the std::runtime_error ReadManifest throws for `text`.
std::string ManifestError(const TempDir& dir, const std::string& text) {
  const auto path = dir.Write("broken.ltcplugin", text);
  try {
    ReadManifest(path);
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  ADD_FAILURE() << "ReadManifest accepted:\n" << text;
  return {};
}

TEST(Manifest, ReadsEveryKey) {
  TempDir dir;
  const auto path = dir.Write("fast.ltcplugin",
                              "# a comment\n"
                              "\n"
                              "  name = fast  \n"
                              "library = sub/libltc_fast.so\n"
                              "abi = 1.3\n"
                              "version = 2.0.1\n"
                              "description = C# bindings = fun\n"
                              "future_key = ignored\n");
  const Manifest manifest = ReadManifest(path);
  EXPECT_EQ(manifest.path, path);
  EXPECT_EQ(manifest.name, "fast");
  EXPECT_EQ(manifest.library, dir.path() / "sub" / "libltc_fast.so");
  EXPECT_EQ(manifest.abi_major, 1u);
  EXPECT_EQ(manifest.abi_minor, 3u);
  EXPECT_EQ(manifest.version, "2.0.1");
  EXPECT_EQ(manifest.description, "C# bindings = fun");
}

TEST(Manifest, KeepsAnAbsoluteLibrary) {
  TempDir dir;
  const auto path = dir.Write("a.ltcplugin", "name = a\nlibrary = /opt/x/liba.so\nabi = 1.0\n");
  EXPECT_EQ(ReadManifest(path).library, "/opt/x/liba.so");
}

TEST(Manifest, ReadsWhatTheBuildWrites) {
  const Manifest manifest = ReadManifest(CaseDir("good") / "good.ltcplugin");
  EXPECT_EQ(manifest.name, "good");
  EXPECT_EQ(manifest.library, loader_test::CaseLibrary("good"));
  EXPECT_EQ(manifest.version, "0.0.1-test");
}

TEST(Manifest, ErrorsNameTheFileAndLine) {
  TempDir dir;
  const std::string file = (dir.path() / "broken.ltcplugin").string();
  EXPECT_EQ(ManifestError(dir, "name = a\n\njust words\n"), file + ":3: expected `key = value`");
  EXPECT_EQ(ManifestError(dir, " = value\n"), file + ":1: expected `key = value`");
  EXPECT_EQ(ManifestError(dir, "name = a\nname = b\n"), file + ":2: key 'name' appears twice");
  EXPECT_EQ(ManifestError(dir, "name = a\nlibrary = l.so\n"),
            file + ": missing required key 'abi'");
  EXPECT_EQ(ManifestError(dir, "name = a\nabi = 1.0\n"), file + ": missing required key 'library'");
  EXPECT_EQ(ManifestError(dir, "name =\nlibrary = l.so\nabi = 1.0\n"), file + ":1: name is empty");
  EXPECT_EQ(ManifestError(dir, "name = a,b\nlibrary = l.so\nabi = 1.0\n"),
            file + ":1: name 'a,b' contains ',', '/' or a space");
  EXPECT_EQ(ManifestError(dir, "name = a\nlibrary =\nabi = 1.0\n"), file + ":2: library is empty");
}

TEST(Manifest, AbiMustBeMajorDotMinor) {
  TempDir dir;
  const std::string file = (dir.path() / "broken.ltcplugin").string();
  for (const std::string abi : {"1", "1.", ".1", "1.x", "1.1.1", "-1.0", "one.two"}) {
    EXPECT_EQ(ManifestError(dir, "name = a\nlibrary = l.so\nabi = " + abi + "\n"),
              file + ":3: abi '" + abi + "' is not MAJOR.MINOR");
  }
}

TEST(Manifest, MissingFileIsAnError) {
  TempDir dir;
  EXPECT_THROW(ReadManifest(dir.path() / "absent.ltcplugin"), std::runtime_error);
}

// A broken manifest costs only its own plugin: the others are still listed
// and chosen, and the broken one explains itself.
TEST(Manifest, MalformedManifestIsARejectedCandidate) {
  TempDir dir;
  const auto broken = dir.Write("good.ltcplugin", "this is not a manifest\n");
  std::vector<SearchDirectory> directories{{dir.path(), "LTC_PLUGIN_PATH"}};
  directories.push_back(CaseDirs({"good"}).front());

  const std::vector<PluginListing> listings = ListPlugins(directories);
  ASSERT_EQ(listings.size(), 2u);
  EXPECT_EQ(listings[0].name, "good");
  EXPECT_EQ(listings[0].path, broken);
  EXPECT_FALSE(listings[0].available);
  EXPECT_EQ(listings[0].reason,
            "malformed manifest: " + broken.string() + ":1: expected `key = value`");
  EXPECT_TRUE(listings[1].available);

  const auto client = SelectBackend("good", directories);
  EXPECT_EQ(client->plugin().path(), loader_test::CaseLibrary("good"));
}

TEST(Manifest, MalformedManifestReasonReachesTheUser) {
  TempDir dir;
  const auto broken = dir.Write("fast.ltcplugin", "name = fast\n");
  EXPECT_THAT(loader_test::SelectError("fast", {{dir.path(), "LTC_PLUGIN_PATH"}}),
              HasSubstr("\n  fast: malformed manifest: " + broken.string() +
                        ": missing required key 'library'"));
}

// A manifest that declares another major is refused without loading its
// library (here: one that does not even exist).
TEST(Manifest, OtherMajorIsRefusedUnloaded) {
  for (const std::string abi : {"1.1", "3.0"}) {
    TempDir dir;
    dir.Write("next.ltcplugin", "name = next\nlibrary = libltc_next.so\nabi = " + abi + "\n");
    const std::vector<PluginListing> listings = ListPlugins({{dir.path(), "LTC_PLUGIN_PATH"}});
    ASSERT_EQ(listings.size(), 1u);
    EXPECT_EQ(listings[0].abi, abi);
    EXPECT_EQ(listings[0].reason, "ABI " + abi + " not supported by host " + HostAbi());
  }
}

}  // namespace
}  // namespace ltc
