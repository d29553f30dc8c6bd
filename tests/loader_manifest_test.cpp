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

// The first line of every manifest of the current format.
const std::string kFormat = "manifest = 1.0\n";

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
                              "manifest = 1.4\n"
                              "\n"
                              "  name = fast  \n"
                              "library = sub/libltc_fast.so\n"
                              "abi = 1.3\n"
                              "libtorch = 2.11\n"
                              "version = 2.0.1\n"
                              "description = C# bindings = fun\n"
                              "future_key = ignored\n");
  const Manifest manifest = ReadManifest(path);
  EXPECT_EQ(manifest.path, path);
  EXPECT_EQ(manifest.format_major, 1u);
  EXPECT_EQ(manifest.format_minor, 4u);
  EXPECT_EQ(manifest.name, "fast");
  EXPECT_EQ(manifest.library, dir.path() / "sub" / "libltc_fast.so");
  EXPECT_EQ(manifest.abi_major, 1u);
  EXPECT_EQ(manifest.abi_minor, 3u);
  EXPECT_EQ(manifest.libtorch, "2.11");
  EXPECT_EQ(manifest.version, "2.0.1");
  EXPECT_EQ(manifest.description, "C# bindings = fun");
}

TEST(Manifest, KeepsAnAbsoluteLibrary) {
  TempDir dir;
  const auto path = dir.Write("a.ltcplugin", kFormat + "name = a\nlibrary = /opt/x/liba.so\nabi = 1.0\n");
  EXPECT_EQ(ReadManifest(path).library, "/opt/x/liba.so");
}

TEST(Manifest, ReadsWhatTheBuildWrites) {
  const Manifest manifest = ReadManifest(CaseDir("good") / "good.ltcplugin");
  EXPECT_EQ(manifest.name, "good");
  EXPECT_EQ(manifest.library, loader_test::CaseLibrary("good"));
  EXPECT_EQ(manifest.version, "0.0.1-test");
  EXPECT_EQ(manifest.format_major, kManifestFormatMajor);
  EXPECT_EQ(manifest.format_minor, kManifestFormatMinor);
  EXPECT_EQ(manifest.abi_major, static_cast<uint32_t>(LTC_PLUGIN_ABI_MAJOR));
  EXPECT_EQ(manifest.abi_minor, static_cast<uint32_t>(LTC_PLUGIN_ABI_MINOR));
  EXPECT_EQ(manifest.libtorch, "") << "the test plugin links no LibTorch";
}

TEST(Manifest, ErrorsNameTheFileAndLine) {
  TempDir dir;
  const std::string file = (dir.path() / "broken.ltcplugin").string();
  EXPECT_EQ(ManifestError(dir, "name = a\n\njust words\n"), file + ":3: expected `key = value`");
  EXPECT_EQ(ManifestError(dir, " = value\n"), file + ":1: expected `key = value`");
  EXPECT_EQ(ManifestError(dir, "name = a\nname = b\n"), file + ":2: key 'name' appears twice");
  EXPECT_EQ(ManifestError(dir, "name = a\nlibrary = l.so\nabi = 1.0\n"),
            file + ": missing required key 'manifest'");
  EXPECT_EQ(ManifestError(dir, kFormat + "name = a\nlibrary = l.so\n"),
            file + ": missing required key 'abi'");
  EXPECT_EQ(ManifestError(dir, kFormat + "name = a\nabi = 1.0\n"),
            file + ": missing required key 'library'");
  EXPECT_EQ(ManifestError(dir, kFormat + "name =\nlibrary = l.so\nabi = 1.0\n"),
            file + ":2: name is empty");
  EXPECT_EQ(ManifestError(dir, kFormat + "name = a,b\nlibrary = l.so\nabi = 1.0\n"),
            file + ":2: name 'a,b' contains ',', '/' or a space");
  EXPECT_EQ(ManifestError(dir, kFormat + "name = a\nlibrary =\nabi = 1.0\n"),
            file + ":3: library is empty");
}

TEST(Manifest, VersionsMustBeMajorDotMinor) {
  TempDir dir;
  const std::string file = (dir.path() / "broken.ltcplugin").string();
  for (const std::string version : {"1", "1.", ".1", "1.x", "1.1.1", "-1.0", "one.two"}) {
    EXPECT_EQ(ManifestError(dir, kFormat + "name = a\nlibrary = l.so\nabi = " + version + "\n"),
              file + ":4: abi '" + version + "' is not MAJOR.MINOR");
    EXPECT_EQ(ManifestError(dir, "manifest = " + version + "\nname = a\nlibrary = l.so\nabi = 2.0\n"),
              file + ":1: manifest '" + version + "' is not MAJOR.MINOR");
    EXPECT_EQ(ManifestError(dir, kFormat + "name = a\nlibrary = l.so\nabi = 2.0\nlibtorch = " +
                                     version + "\n"),
              file + ":5: libtorch '" + version + "' is not MAJOR.MINOR");
  }
}

// A newer format major may mean something else by any key: nothing else is
// read (here the required keys are missing), and the reason says to update.
TEST(Manifest, NewerFormatMajorIsRefusedUnread) {
  TempDir dir;
  const auto path = dir.Write("next.ltcplugin", "manifest = 2.0\nplugin = next\n");
  try {
    ReadManifest(path);
    ADD_FAILURE() << "a format 2.0 manifest was read";
  } catch (const UnsupportedManifestError& error) {
    EXPECT_EQ(std::string(error.what()),
              path.string() + ":1: manifest format 2.0 is newer than this loader reads (1.0); "
                              "update ltc-plugins");
  }
  const std::vector<PluginListing> listings = ListPlugins({{dir.path(), "LTC_PLUGIN_PATH"}});
  ASSERT_EQ(listings.size(), 1u);
  EXPECT_EQ(listings[0].name, "next") << "named by its file, as its name is unread";
  EXPECT_FALSE(listings[0].available);
  EXPECT_THAT(listings[0].reason, HasSubstr("unsupported manifest: " + path.string() +
                                            ":1: manifest format 2.0 is newer"));
}

TEST(Manifest, NewerFormatMinorIsRead) {
  TempDir dir;
  const auto path = dir.Write("a.ltcplugin", "manifest = 1.7\nname = a\nlibrary = l.so\n"
                                             "abi = 2.0\nsigned_by = someone\n");
  EXPECT_EQ(ReadManifest(path).name, "a");
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
  const auto broken = dir.Write("fast.ltcplugin", kFormat + "name = fast\n");
  EXPECT_THAT(loader_test::SelectError("fast", {{dir.path(), "LTC_PLUGIN_PATH"}}),
              HasSubstr("\n  fast: malformed manifest: " + broken.string() +
                        ": missing required key 'library'"));
}

// A manifest that declares another major is refused without loading its
// library (here: one that does not even exist).
TEST(Manifest, OtherMajorIsRefusedUnloaded) {
  for (const std::string abi : {"1.1", "3.0"}) {
    TempDir dir;
    dir.Write("next.ltcplugin",
              kFormat + "name = next\nlibrary = libltc_next.so\nabi = " + abi + "\n");
    const std::vector<PluginListing> listings = ListPlugins({{dir.path(), "LTC_PLUGIN_PATH"}});
    ASSERT_EQ(listings.size(), 1u);
    EXPECT_EQ(listings[0].abi, abi);
    EXPECT_EQ(listings[0].reason, "ABI " + abi + " not supported by host " + HostAbi());
  }
}

// A plugin built for another LibTorch is refused before its library is
// loaded (here it does not exist): two LibTorch versions abort a process.
TEST(Manifest, OtherLibTorchIsRefusedUnloaded) {
  TempDir dir;
  dir.Write("ts.ltcplugin",
            kFormat + "name = ts\nlibrary = libltc_ts.so\nabi = " + HostAbi() + "\nlibtorch = 2.11\n");
  const std::vector<SearchDirectory> directories{{dir.path(), "LTC_PLUGIN_PATH"}};
  const std::vector<PluginListing> listings = ListPlugins(directories, HostTraits{"1.13"});
  ASSERT_EQ(listings.size(), 1u);
  EXPECT_EQ(listings[0].libtorch, "2.11");
  EXPECT_EQ(listings[0].reason, "built for LibTorch 2.11, this host runs 1.13");
  try {
    SelectBackend("ts", directories, {}, HostTraits{"1.13"});
    ADD_FAILURE() << "a LibTorch 2.11 plugin was chosen by a 1.13 host";
  } catch (const LoaderError& error) {
    EXPECT_THAT(error.what(), HasSubstr("\n  ts: " + (dir.path() / "libltc_ts.so").string() +
                                        ": built for LibTorch 2.11, this host runs 1.13"));
  }
  // The same LibTorch, or a host without one, goes on to load it.
  EXPECT_THAT(ListPlugins(directories, HostTraits{"2.11"})[0].reason, HasSubstr("not loadable"));
  EXPECT_THAT(ListPlugins(directories)[0].reason, HasSubstr("not loadable"));
}

// A manifest without the key is a plugin that links no LibTorch: any host.
TEST(Manifest, NoLibTorchKeyLoadsInAnyHost) {
  const std::vector<PluginListing> listings = ListPlugins(CaseDirs({"good"}), HostTraits{"1.13"});
  ASSERT_EQ(listings.size(), 1u);
  EXPECT_TRUE(listings[0].available) << listings[0].reason;
}

}  // namespace
}  // namespace ltc
