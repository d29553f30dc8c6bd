// ltc-plugin-cts: checks that a backend plugin keeps the contract of
// ltc/plugin_api.h, one named check per rule.
#include <ltc/loader.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "abi_checks.h"
#include "runner.h"

namespace {

namespace fs = std::filesystem;

constexpr int kExitUsage = 2;
// Nothing could be checked: plugin_check_available says the plugin cannot
// run here. The automake/CTest convention for "skipped".
constexpr int kExitUnavailable = 77;

constexpr const char* kUsage =
    "usage: ltc-plugin-cts [--plugin NAME|PATH] [--tier abi] [--option NAME=VALUE]...\n"
    "\n"
    "Runs the conformance checks of the ltc-plugins C ABI against one plugin\n"
    "and prints PASS, FAIL or SKIP per check, then a summary.\n"
    "\n"
    "  --plugin NAME|PATH   a plugin name, looked for in the directories of\n"
    "                       LTC_PLUGIN_PATH (separated by ':') and then in\n"
    "                       <prefix>/lib/ltc-plugins, or an absolute path to\n"
    "                       its shared object (default: LTC_BACKEND, else ts_cpu)\n"
    "  --tier abi           the checks to run. abi (the default): the C\n"
    "                       contract, called slot by slot. The ops and models\n"
    "                       tiers are not available yet.\n"
    "  --option NAME=VALUE  a client option for the plugin, as in\n"
    "                       LTC_PLUGIN_OPTIONS (repeatable; LTC_PLUGIN_OPTIONS\n"
    "                       itself is not read)\n"
    "  --help               show this text\n"
    "\n"
    "Exit status: 0 when no check failed, 1 when one did, 2 for a usage error\n"
    "or a plugin that cannot be found, 77 when the plugin says it cannot run\n"
    "on this machine (then nothing is checked).\n";

int Usage(const std::string& problem) {
  std::cerr << "ltc-plugin-cts: " << problem << "\n\n" << kUsage;
  return kExitUsage;
}

// The shared object `request` names: an absolute path as it is, a name
// through the first manifest of that name in the search path. Empty, with
// `problem` set, when there is none.
fs::path FindPlugin(const std::string& request, std::string& problem) {
  if (fs::path(request).is_absolute()) return request;
  std::vector<std::string> searched;
  for (const ltc::SearchDirectory& directory : ltc::PluginSearchPath(ltc::ExecutableLibDir())) {
    searched.push_back(directory.path.string() + " (" + directory.origin + ")");
    std::error_code error;
    if (!fs::is_directory(directory.path, error)) continue;
    std::vector<fs::path> manifests;
    for (const fs::directory_entry& entry : fs::directory_iterator(directory.path, error)) {
      if (entry.path().extension() == ".ltcplugin") manifests.push_back(entry.path());
    }
    std::sort(manifests.begin(), manifests.end());
    for (const fs::path& manifest_path : manifests) {
      try {
        const ltc::Manifest manifest = ltc::ReadManifest(manifest_path);
        if (manifest.name == request) return manifest.library;
      } catch (const std::exception& bad) {
        std::cerr << "ltc-plugin-cts: skipping " << manifest_path.string() << ": " << bad.what()
                  << '\n';
      }
    }
  }
  problem = "no plugin named '" + request + "' in " + ltc::Join(searched);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  std::string request;
  std::string tier = "abi";
  ltc::ClientOptions options;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument == "--help" || argument == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (argument != "--plugin" && argument != "--tier" && argument != "--option") {
      return Usage("unknown argument '" + argument + "'");
    }
    if (i + 1 == arguments.size()) return Usage(argument + " needs a value");
    const std::string& value = arguments[++i];
    if (argument == "--plugin") {
      request = value;
    } else if (argument == "--tier") {
      tier = value;
    } else {
      try {
        for (auto& [name, option] : ltc::ParseOptions(value)) options[name] = option;
      } catch (const std::invalid_argument& bad) {
        return Usage(std::string("--option: ") + bad.what());
      }
    }
  }
  if (tier == "ops" || tier == "models") {
    return Usage("the " + tier + " tier is not available yet; only abi is");
  }
  if (tier != "abi") return Usage("unknown tier '" + tier + "' (the one available is abi)");

  const ltc::BackendRequest resolved = ltc::BackendRequest::Resolve(request);
  if (resolved.entries.size() != 1) {
    return Usage("the CTS checks one plugin; '" + resolved.text + "' names " +
                 std::to_string(resolved.entries.size()));
  }
  std::string problem;
  const fs::path library = FindPlugin(resolved.entries.front(), problem);
  if (library.empty()) {
    std::cerr << "ltc-plugin-cts: " << problem << '\n';
    return kExitUsage;
  }

  ltc::cts::Runner runner;
  std::shared_ptr<ltc::Plugin> plugin;
  // What the loader checks when it loads (the table's size and ABI, its
  // required slots, the attributes) is the first check.
  runner.Run("abi.load", [&] {
    try {
      plugin = ltc::Plugin::Load(library);
    } catch (const ltc::LoaderError& error) {
      ltc::cts::Fail(library.string() + ": " + error.what());
    }
  });
  if (plugin == nullptr) {
    runner.PrintSummary();
    return 1;
  }
  std::cout << "plugin " << plugin->name() << ' ' << plugin->attributes().version << ", ABI "
            << plugin->abi() << ", " << plugin->path().string() << '\n';
  const ltc::cts::TierOutcome outcome = ltc::cts::RunAbiTier(plugin, options, runner);
  runner.PrintSummary();
  if (outcome == ltc::cts::TierOutcome::kUnavailable) return kExitUnavailable;
  return runner.failed() == 0 ? 0 : 1;
}
