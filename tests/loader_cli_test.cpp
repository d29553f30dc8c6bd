// The ltc-plugins command, run as a user runs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include "loader_test_util.h"

namespace ltc {
namespace {

using loader_test::CaseDir;
using loader_test::CaseLibrary;
using loader_test::ScopedEnv;
using ::testing::EndsWith;
using ::testing::HasSubstr;

struct CliRun {
  int exit_code;
  std::string output;
};

// Runs `ltc-plugins <arguments>` through the shell (so arguments may
// redirect) and collects its standard output.
CliRun RunCli(const std::string& arguments) {
  const std::string command = std::string(LTC_PLUGINS_CLI) + " " + arguments;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char chunk[4096];
  for (size_t read; (read = fread(chunk, 1, sizeof chunk, pipe)) > 0;) output.append(chunk, read);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// The table row of plugin `name`; empty when there is none.
std::string RowOf(const std::string& output, const std::string& name) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) return line;
  }
  return {};
}

TEST(Cli, ListShowsEachPluginAndWhetherItCanRun) {
  ScopedEnv path("LTC_PLUGIN_PATH", CaseDir("good").string() + ":" + CaseDir("not_elf").string() +
                                        ":" + CaseDir("unavailable").string());
  ScopedEnv level("SPDLOG_LEVEL", std::nullopt);
  const CliRun run = RunCli("list");
  EXPECT_EQ(run.exit_code, 0) << "unavailable plugins are no error";
  EXPECT_THAT(run.output, HasSubstr("  " + CaseDir("good").string() + " (LTC_PLUGIN_PATH)\n"));

  const std::string good = RowOf(run.output, "good");
  EXPECT_THAT(good, HasSubstr(" 0.0.1-test "));
  EXPECT_THAT(good, HasSubstr(" " + loader_test::HostAbi() + " "));
  EXPECT_THAT(good, HasSubstr(" " + CaseLibrary("good").string() + " "));
  EXPECT_THAT(good, EndsWith("  available"));
  EXPECT_THAT(RowOf(run.output, "not_elf"),
              EndsWith("  unavailable: not loadable: " + CaseLibrary("not_elf").string() +
                       ": invalid ELF header"));
  EXPECT_THAT(RowOf(run.output, "unavailable"),
              EndsWith("  unavailable: no test accelerator present"));
}

TEST(Cli, HelpPrintsUsage) {
  const CliRun run = RunCli("--help");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.output, HasSubstr("usage: ltc-plugins <command>"));
}

TEST(Cli, UnknownCommandIsAUsageError) {
  // Standard error only: the complaint and the usage must go there.
  const CliRun run = RunCli("frobnicate 2>&1 >/dev/null");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("ltc-plugins: unknown command 'frobnicate'"));
  EXPECT_THAT(run.output, HasSubstr("usage: ltc-plugins <command>"));
}

TEST(Cli, NoCommandIsAUsageError) { EXPECT_EQ(RunCli("2>/dev/null").exit_code, 2); }

}  // namespace
}  // namespace ltc
