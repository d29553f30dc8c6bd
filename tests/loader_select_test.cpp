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
using loader_test::ScopedEnv;
using loader_test::SelectError;
using loader_test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// Everything the loader logs on "ltc" while it lives, at debug level, one
// "<level> <message>" line per record.
class LogCapture {
 public:
  LogCapture() : logger_(LoaderLogger()), old_level_(logger_->level()) {
    sink_->set_pattern("%l %v");
    logger_->sinks().push_back(sink_);
    logger_->set_level(spdlog::level::debug);
  }
  ~LogCapture() {
    logger_->sinks().pop_back();
    logger_->set_level(old_level_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const { return stream_.str(); }

 private:
  // The loader logs to an existing "ltc" logger, so the test can attach to
  // it whether or not the loader has logged yet.
  static std::shared_ptr<spdlog::logger> LoaderLogger() {
    if (auto logger = spdlog::get("ltc")) return logger;
    return spdlog::stderr_color_mt("ltc");
  }

  // The loader applies SPDLOG_LEVEL when it first logs; a user's setting
  // must not override the level set here.
  ScopedEnv no_env_levels_{"SPDLOG_LEVEL", std::nullopt};
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
  spdlog::level::level_enum old_level_;
};

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

TEST(ResolveBackendRequest, EmptyMeansLtcBackendThenTsCpu) {
  {
    ScopedEnv backend("LTC_BACKEND", "good,ts_cpu");
    EXPECT_EQ(ResolveBackendRequest(""), "good,ts_cpu");
    EXPECT_EQ(ResolveBackendRequest("mine"), "mine");
  }
  {
    ScopedEnv backend("LTC_BACKEND", "");
    EXPECT_EQ(ResolveBackendRequest(""), "ts_cpu");
  }
  ScopedEnv backend("LTC_BACKEND", std::nullopt);
  EXPECT_EQ(ResolveBackendRequest(""), "ts_cpu");
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
                        ": name good, ABI 1.1, library " + good + "\n"));
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
                " (LTC_PLUGIN_PATH; not a directory), " +
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
