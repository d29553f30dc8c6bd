// Choosing a backend: search order, preference lists, what is logged, and
// what a user reads when nothing works.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "loader_test_util.h"

namespace ltc {
namespace {

using loader_test::CaseDir;
using loader_test::CaseDirs;
using loader_test::CaseLibrary;
using loader_test::HostAbi;
using loader_test::LogCapture;
using loader_test::ScopedEnv;
using loader_test::SelectError;
using loader_test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// An anchor whose ltc-plugins directory does not exist, for tests that
// search LTC_PLUGIN_PATH alone.
const std::filesystem::path kNoAnchor = "/nonexistent-ltc-anchor";

std::string PathOf(std::initializer_list<std::string> cases) {
  std::string path;
  for (const std::string& test_case : cases) {
    path += (path.empty() ? "" : ":") + CaseDir(test_case).string();
  }
  return path;
}

TEST(PluginSearchPath, VariableFirstThenAnchor) {
  ScopedEnv path("LTC_PLUGIN_PATH", "/a::/b:");
  const std::vector<SearchDirectory> directories = PluginSearchPath("/anchor");
  ASSERT_EQ(directories.size(), 3u);
  EXPECT_EQ(directories[0].path, "/a");
  EXPECT_EQ(directories[0].origin, "LTC_PLUGIN_PATH");
  EXPECT_EQ(directories[1].path, "/b");
  EXPECT_EQ(directories[2].path, "/anchor/ltc-plugins");
  EXPECT_EQ(directories[2].origin, "next to libltc_host.so");
}

TEST(PluginSearchPath, AnchorAloneWithoutVariable) {
  ScopedEnv path("LTC_PLUGIN_PATH", std::nullopt);
  const std::vector<SearchDirectory> directories = PluginSearchPath("/anchor");
  ASSERT_EQ(directories.size(), 1u);
  EXPECT_EQ(directories[0].path, "/anchor/ltc-plugins");
}

TEST(BackendRequest, EmptyMeansLtcBackendThenTsCpu) {
  {
    ScopedEnv backend("LTC_BACKEND", "good,ts_cpu");
    EXPECT_EQ(BackendRequest::Resolve("").text, "good,ts_cpu");
    EXPECT_EQ(BackendRequest::Resolve("mine").text, "mine");
  }
  {
    ScopedEnv backend("LTC_BACKEND", "");
    EXPECT_EQ(BackendRequest::Resolve("").text, "ts_cpu");
  }
  ScopedEnv backend("LTC_BACKEND", std::nullopt);
  EXPECT_EQ(BackendRequest::Resolve("").text, "ts_cpu");
}

TEST(BackendRequest, EntriesAreTrimmedAndEmptyOnesDropped) {
  EXPECT_EQ(BackendRequest::Resolve(" ts_cuda, ts_cpu ,,").entries,
            (std::vector<std::string>{"ts_cuda", "ts_cpu"}));
}

// The host asks the same question of the request it is given again.
TEST(BackendRequest, NamesAPluginByNameOrByPath) {
  const auto plugin = Plugin::Load(CaseLibrary("good"));
  EXPECT_TRUE(BackendRequest::Resolve("ts_cuda, good").Names(*plugin));
  EXPECT_TRUE(BackendRequest::Resolve(CaseLibrary("good").string()).Names(*plugin));
  EXPECT_FALSE(BackendRequest::Resolve("ts_cuda").Names(*plugin));
  EXPECT_FALSE(BackendRequest::Resolve("goo,goods").Names(*plugin));
}

TEST(Options, ParsedWithTheirTypes) {
  const ClientOptions options =
      ParseOptions("flag=true, off=false,count=12, scale=0.5,big=1e3,name=ts 2,neg=-3");
  EXPECT_EQ(options.at("flag"), OptionValue(true));
  EXPECT_EQ(options.at("off"), OptionValue(false));
  EXPECT_EQ(options.at("count"), OptionValue(int64_t{12}));
  EXPECT_EQ(options.at("scale"), OptionValue(0.5));
  EXPECT_EQ(options.at("big"), OptionValue(1000.0));
  EXPECT_EQ(options.at("name"), OptionValue(std::string("ts 2")));
  EXPECT_EQ(options.at("neg"), OptionValue(int64_t{-3}));
}

TEST(Options, MalformedEntriesAreNamed) {
  EXPECT_THROW(ParseOptions("flag"), std::invalid_argument);
  EXPECT_THROW(ParseOptions("=1"), std::invalid_argument);
  try {
    ParseOptions("a=1,a=2");
    ADD_FAILURE() << "a repeated option was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "option 'a' is given twice");
  }
}

TEST(Options, GivenOnesOverrideTheVariable) {
  ScopedEnv variable("LTC_PLUGIN_OPTIONS", "pool_mb=64,optimize=false");
  const ClientOptions options = ResolveOptions({{"pool_mb", int64_t{128}}});
  EXPECT_EQ(options.at("pool_mb"), OptionValue(int64_t{128}));
  EXPECT_EQ(options.at("optimize"), OptionValue(false));
}

TEST(Options, AMalformedVariableIsNamed) {
  ScopedEnv variable("LTC_PLUGIN_OPTIONS", "pool_mb");
  try {
    ResolveOptions({});
    ADD_FAILURE() << "a malformed LTC_PLUGIN_OPTIONS was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "LTC_PLUGIN_OPTIONS: option 'pool_mb' is not name=value");
  }
}

TEST(Options, ScopedToOnePlugin) {
  const ClientOptions all{{"pool_mb", int64_t{1}},
                          {"ts_cpu.pool_mb", int64_t{2}},
                          {"ts_cuda.streams", int64_t{3}}};
  EXPECT_EQ(OptionsFor(all, "ts_cpu"), (ClientOptions{{"pool_mb", int64_t{2}}}));
  EXPECT_EQ(OptionsFor(all, "ts_cuda"),
            (ClientOptions{{"pool_mb", int64_t{1}}, {"streams", int64_t{3}}}));
  EXPECT_EQ(OptionsFor(all, "ts"), (ClientOptions{{"pool_mb", int64_t{1}}}));
}

TEST(SelectBackend, EmptyRequestUsesLtcBackend) {
  ScopedEnv backend("LTC_BACKEND", "good");
  EXPECT_EQ(SelectBackend("", CaseDirs({"good"}))->plugin().name(), "good");
}

TEST(SelectBackend, PreferenceListFallsBackAndWarns) {
  LogCapture log;
  const auto client = SelectBackend("init_fails,good", CaseDirs({"init_fails", "good"}));
  EXPECT_EQ(client->plugin().path(), CaseLibrary("good"));
  EXPECT_THAT(log.text(), HasSubstr("warning LTC backend good is used because the ones before "
                                    "it failed: init_fails: " +
                                    CaseLibrary("init_fails").string() +
                                    ": init failed: frobnicator not connected\n"));
  EXPECT_THAT(log.text(),
              HasSubstr("info LTC backend good 0.0.1-test from " + CaseLibrary("good").string()));
}

TEST(SelectBackend, FirstWorkingEntryWinsQuietly) {
  LogCapture log;
  const auto client = SelectBackend("good,init_fails", CaseDirs({"init_fails", "good"}));
  EXPECT_EQ(client->plugin().path(), CaseLibrary("good"));
  EXPECT_THAT(log.text(), Not(HasSubstr("warning")));
  EXPECT_THAT(log.text(), Not(HasSubstr("frobnicator")));
}

TEST(SelectBackend, BlanksAndEmptyEntriesAreSkipped) {
  LogCapture log;
  const auto client = SelectBackend(" , nope ,good ", CaseDirs({"good"}));
  EXPECT_EQ(client->plugin().name(), "good");
  EXPECT_THAT(log.text(), HasSubstr("failed: nope: not found\n"));
}

TEST(SelectBackend, DebugLogShowsEveryStep) {
  LogCapture log;
  SelectBackend("init_fails,good", CaseDirs({"init_fails", "good"}));
  const std::string good = CaseLibrary("good").string();
  const std::string init_fails = CaseLibrary("init_fails").string();
  EXPECT_THAT(log.text(), HasSubstr("debug choosing an LTC backend for \"init_fails,good\"\n"));
  EXPECT_THAT(log.text(),
              HasSubstr("debug searching " + CaseDir("good").string() + " (LTC_PLUGIN_PATH)\n"));
  EXPECT_THAT(log.text(),
              HasSubstr("debug manifest " + (CaseDir("good") / "good.ltcplugin").string() +
                        ": name good, ABI " + HostAbi() + ", LibTorch none, library " + good +
                        "\n"));
  EXPECT_THAT(log.text(), HasSubstr("debug " + init_fails + ": plugin init_fails 0.0.1-test, ABI " +
                                    HostAbi() + "\n"));
  EXPECT_THAT(log.text(), HasSubstr("debug init_fails: " + init_fails +
                                    ": rejected: init failed: frobnicator not connected\n"));
  EXPECT_THAT(log.text(), HasSubstr("debug good: " + good + ": chosen\n"));
}

TEST(SelectBackend, LoadsAnAbsolutePath) {
  const auto client = SelectBackend(CaseLibrary("good").string(), {});
  EXPECT_EQ(client->plugin().name(), "good");
  EXPECT_EQ(client->plugin().path(), CaseLibrary("good"));
}

TEST(SelectBackend, MissingAbsolutePathSaysWhy) {
  TempDir dir;
  const std::string missing = (dir.path() / "libltc_gone.so").string();
  EXPECT_EQ(SelectError(missing, {}),
            "no LTC backend could be loaded for \"" + missing + "\"\n" +
                "  searched: no directories\n" + "  " + missing + ": not loadable: " + missing +
                ": cannot open shared object file: No such file or directory");
}

// Same-named plugins are tried in search order: a bad one does not stop a
// good one behind it.
TEST(SelectBackend, SameNameFallsThroughInSearchOrder) {
  ScopedEnv path("LTC_PLUGIN_PATH", PathOf({"dup_a", "dup_b"}));
  LogCapture log;
  const auto client = SelectBackend("dup", PluginSearchPath(kNoAnchor));
  EXPECT_EQ(client->plugin().path(), CaseLibrary("dup_b", "dup"));
  EXPECT_THAT(log.text(), HasSubstr("warning LTC backend dup is used because the ones before it "
                                    "failed: dup: " +
                                    CaseLibrary("dup_a", "dup").string() +
                                    ": init failed: frobnicator not connected\n"));
}

TEST(SelectBackend, FirstInSearchOrderWins) {
  ScopedEnv path("LTC_PLUGIN_PATH", PathOf({"dup_b", "dup_a"}));
  LogCapture log;
  const auto client = SelectBackend("dup", PluginSearchPath(kNoAnchor));
  EXPECT_EQ(client->plugin().path(), CaseLibrary("dup_b", "dup"));
  EXPECT_THAT(log.text(), Not(HasSubstr("frobnicator")));
}

TEST(SelectBackend, SameNameWarnsNamingEveryPlace) {
  ScopedEnv path("LTC_PLUGIN_PATH", PathOf({"dup_b", "dup_a"}));
  LogCapture log;
  SelectBackend("dup", PluginSearchPath(kNoAnchor));
  EXPECT_THAT(log.text(),
              HasSubstr("warning plugin dup is found in 2 places, in search order: " +
                        (CaseDir("dup_b") / "dup.ltcplugin").string() + " (LTC_PLUGIN_PATH), " +
                        (CaseDir("dup_a") / "dup.ltcplugin").string() +
                        " (LTC_PLUGIN_PATH); the first that loads is used\n"));
}

// What an entry point gives: one manifest file rather than a directory.
TEST(SelectBackend, SearchesAManifestFile) {
  ScopedEnv path("LTC_PLUGIN_PATH", std::nullopt);
  const SearchDirectory manifest{CaseDir("good") / "good.ltcplugin", "entry point good of d 1.0",
                                 {}, {}};
  const auto client = SelectBackend("good", PluginSearchPath(kNoAnchor, {manifest}));
  EXPECT_EQ(client->plugin().path(), CaseLibrary("good"));
  const std::vector<PluginListing> listings = ListPlugins({manifest});
  ASSERT_EQ(listings.size(), 1u);
  EXPECT_TRUE(listings[0].available) << listings[0].reason;
}

// A source that failed before naming a manifest is its plugin's reason.
TEST(SelectBackend, BrokenSourceIsTheReasonOfItsPlugin) {
  ScopedEnv path("LTC_PLUGIN_PATH", std::nullopt);
  const SearchDirectory broken{{}, "entry point fast of d 1.0", "ImportError: no", "fast"};
  const std::vector<PluginListing> listings = ListPlugins({broken});
  ASSERT_EQ(listings.size(), 1u);
  EXPECT_EQ(listings[0].name, "fast");
  EXPECT_FALSE(listings[0].available);
  EXPECT_EQ(listings[0].reason, "entry point fast of d 1.0: ImportError: no");
  EXPECT_EQ(SelectError("fast", PluginSearchPath(kNoAnchor, {broken})),
            "no LTC backend could be loaded for \"fast\"\n"
            "  searched: entry point fast of d 1.0 (ImportError: no), " +
                (std::filesystem::path(kNoAnchor) / "ltc-plugins").string() +
                " (next to libltc_host.so; does not exist)\n"
                "  fast: entry point fast of d 1.0: ImportError: no");
}

TEST(SelectBackend, EntryPointsComeAfterTheVariableBeforeTheAnchor) {
  ScopedEnv path("LTC_PLUGIN_PATH", "/from/variable");
  const std::vector<SearchDirectory> directories =
      PluginSearchPath("/anchor", {{"/ep/x.ltcplugin", "entry point x of d 1.0", {}, {}}});
  ASSERT_EQ(directories.size(), 3u);
  EXPECT_EQ(directories[0].path, "/from/variable");
  EXPECT_EQ(directories[1].origin, "entry point x of d 1.0");
  EXPECT_EQ(directories[2].path, "/anchor/ltc-plugins");
}

TEST(SelectBackend, NotFoundListsEverySearchedDirectory) {
  TempDir dir;
  const std::string missing = (dir.path() / "missing").string();
  const std::string file = dir.Write("file", "").string();
  ScopedEnv path("LTC_PLUGIN_PATH", PathOf({"good"}) + ":" + missing + ":" + file);
  EXPECT_EQ(SelectError("ts_cuda,ts_cpu", PluginSearchPath(dir.path() / "lib")),
            "no LTC backend could be loaded for \"ts_cuda,ts_cpu\"\n"
            "  searched: " +
                CaseDir("good").string() + " (LTC_PLUGIN_PATH), " + missing +
                " (LTC_PLUGIN_PATH; does not exist), " + file +
                " (LTC_PLUGIN_PATH; neither a directory nor a .ltcplugin file), " +
                (dir.path() / "lib" / "ltc-plugins").string() +
                " (next to libltc_host.so; does not exist)\n"
                "  ts_cuda: not found\n"
                "  ts_cpu: not found");
}

TEST(SelectBackend, RequestNamingNothing) {
  EXPECT_EQ(SelectError(" , ", {}),
            "no LTC backend could be loaded for \" , \"\n"
            "  searched: no directories\n"
            "  the request names no backend");
}

TEST(ListPlugins, ListsEveryManifestWithoutStartingAny) {
  const std::vector<PluginListing> listings =
      ListPlugins(CaseDirs({"good", "not_elf", "init_fails", "dup_a", "dup_b"}));
  ASSERT_EQ(listings.size(), 5u);
  EXPECT_EQ(listings[0].name, "good");
  EXPECT_EQ(listings[0].version, "0.0.1-test");
  EXPECT_EQ(listings[0].abi, HostAbi());
  EXPECT_EQ(listings[0].path, CaseLibrary("good"));
  EXPECT_TRUE(listings[0].available);
  EXPECT_EQ(listings[1].name, "not_elf");
  EXPECT_FALSE(listings[1].available);
  // Whether a plugin can start is only known by starting it.
  EXPECT_EQ(listings[2].name, "init_fails");
  EXPECT_TRUE(listings[2].available);
  EXPECT_EQ(listings[3].path, CaseLibrary("dup_a", "dup"));
  EXPECT_EQ(listings[4].path, CaseLibrary("dup_b", "dup"));
}

TEST(ListPlugins, MissingDirectoriesListNothing) {
  EXPECT_TRUE(ListPlugins({{kNoAnchor, "LTC_PLUGIN_PATH"}}).empty());
}

}  // namespace
}  // namespace ltc
