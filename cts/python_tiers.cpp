#include "python_tiers.h"

#include <fcntl.h>
#include <ltc/loader.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string_view>

extern char** environ;

namespace ltc::cts {
namespace {

namespace fs = std::filesystem;

constexpr int kChildUsage = 2;
constexpr int kChildSignalled = 128;

// Variables that choose or configure the plugin: the child gets the ones
// this process decided on, never the caller's.
bool ChoosesPlugin(std::string_view entry) {
  for (std::string_view name :
       {"LTC_PLUGIN_PATH=", "LTC_PLUGIN_OPTIONS=", "LTC_PLUGIN_ENTRY_POINTS=", "LTC_BACKEND="}) {
    if (entry.substr(0, name.size()) == name) return true;
  }
  return false;
}

std::vector<std::string> ChildEnvironment(const PythonTiers& tiers) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!ChoosesPlugin(*entry)) environment.emplace_back(*entry);
  }
  if (!tiers.plugin_dir.empty())
    environment.push_back("LTC_PLUGIN_PATH=" + tiers.plugin_dir.string());
  // Hermetic: no installed distribution's plugin of the same name competes.
  environment.push_back("LTC_PLUGIN_ENTRY_POINTS=0");
  if (!tiers.options.empty())
    environment.push_back("LTC_PLUGIN_OPTIONS=" + Join(tiers.options, ","));
  return environment;
}

// Where the tiers' Python files are: the data directory of the tree
// (build or installed) of this executable.
fs::path PythonTiersDir() {
  return (ExecutableLibDir() / LTC_CTS_TIERS_FROM_LIBDIR).lexically_normal();
}

std::vector<std::string> ChildArguments(const PythonTiers& tiers, const fs::path& script) {
  std::vector<std::string> arguments = {tiers.python, script.string(), tiers.plugin};
  for (const std::string& tier : tiers.tiers) {
    arguments.push_back("--tier");
    arguments.push_back(tier);
  }
  if (!tiers.ops.empty()) {
    arguments.push_back("--ops");
    arguments.insert(arguments.end(), tiers.ops.begin(), tiers.ops.end());
  }
  if (tiers.samples) {
    arguments.push_back("--samples");
    arguments.push_back(std::to_string(*tiers.samples));
  }
  arguments.push_back("--package-dir");
  arguments.push_back(
      (ExecutableLibDir() / LTC_CTS_PYTHON_FROM_LIBDIR).lexically_normal().string());
  return arguments;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

PythonOutcome RunPythonTiers(const PythonTiers& tiers, Runner& runner) {
  const std::string name =
      Join(tiers.tiers, " and ") + (tiers.tiers.size() > 1 ? " tiers" : " tier");
  // A failure of the child as a whole is a check of its own.
  const std::string check = Join(tiers.tiers, "+");
  const fs::path script = PythonTiersDir() / "cts_tiers.py";
  std::error_code error;
  if (!fs::is_regular_file(script, error)) {
    std::cerr << "ltc-plugin-cts: the " << name << " needs " << script.string()
              << ", which is not there: this ltc-plugin-cts is not installed with its Python "
                 "part\n";
    return PythonOutcome::kUsage;
  }
  std::vector<std::string> arguments = ChildArguments(tiers, script);
  std::vector<std::string> environment = ChildEnvironment(tiers);
  int pipe_ends[2];
  if (pipe2(pipe_ends, O_CLOEXEC) != 0) {
    runner.Run(check, [] { Fail(std::string("cannot make a pipe: ") + std::strerror(errno)); });
    return PythonOutcome::kRan;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
  std::cout.flush();
  pid_t child = 0;
  const int spawned = posix_spawnp(&child, tiers.python.c_str(), &actions, nullptr,
                                   Pointers(arguments).data(), Pointers(environment).data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_ends[1]);
  if (spawned != 0) {
    close(pipe_ends[0]);
    std::cerr << "ltc-plugin-cts: --python " << tiers.python << ": cannot run it ("
              << std::strerror(spawned) << "); the " << name
              << " needs a Python whose torch is the LibTorch the host was built for\n";
    return PythonOutcome::kUsage;
  }
  FILE* output = fdopen(pipe_ends[0], "r");
  char* line = nullptr;
  size_t capacity = 0;
  ssize_t length = 0;
  while ((length = getline(&line, &capacity, output)) > 0) {
    std::string text(line, static_cast<size_t>(length));
    if (text.back() == '\n') text.pop_back();
    std::cout << text << std::endl;
    runner.Tally(text);
  }
  free(line);
  fclose(output);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : kChildSignalled + WTERMSIG(status);
  if (code == 0) return PythonOutcome::kRan;
  if (code == kChildUsage) {
    std::cerr << "ltc-plugin-cts: --python " << tiers.python << " cannot run the " << name << '\n';
    return PythonOutcome::kUsage;
  }
  runner.Run(check, [&] {
    Fail(tiers.python + " running " + script.string() +
         (WIFSIGNALED(status) ? std::string(" died with signal ") + strsignal(WTERMSIG(status))
                              : " exited with status " + std::to_string(code)) +
         "; the checks it had not reported did not run");
  });
  return PythonOutcome::kRan;
}

}  // namespace ltc::cts
