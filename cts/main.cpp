// ltc-plugin-cts: checks that a backend plugin keeps the contract of
// ltc/plugin_api.h, one named check per rule (the abi tier), and computes
// what eager PyTorch computes (the ops and models tiers).
#include <ltc/loader.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "abi_checks.h"
#include "python_tiers.h"
#include "runner.h"

namespace {

namespace fs = std::filesystem;

constexpr int kExitUsage = 2;
// Nothing could be checked: plugin_check_available says the plugin cannot
// run here. The automake/CTest convention for "skipped".
constexpr int kExitUnavailable = 77;

constexpr const char* kUsage =
    "usage: ltc-plugin-cts [--plugin NAME|PATH] [--tier abi|ops|models|all]\n"
    "                      [--option NAME=VALUE]... [--ops NAME...] [--samples K]\n"
    "                      [--python PATH]\n"
    "\n"
    "Runs the conformance checks of the ltc-plugins C ABI against one plugin\n"
    "and prints PASS, FAIL or SKIP per check, then a summary.\n"
    "\n"
    "  --plugin NAME|PATH   a plugin name, looked for in the directories of\n"
    "                       LTC_PLUGIN_PATH (separated by ':') and then in\n"
    "                       <prefix>/lib/ltc-plugins, or an absolute path to\n"
    "                       its shared object, which the ops and models tiers\n"
    "                       need a manifest beside (default: LTC_BACKEND, else\n"
    "                       ts_cpu)\n"
    "  --tier TIER          the checks to run:\n"
    "                       abi     (the default) the C contract, called slot\n"
    "                               by slot\n"
    "                       ops     PyTorch's OpInfo ops on `lazy` under the\n"
    "                               plugin, each case compared with eager; a\n"
    "                               case refused with UNIMPLEMENTED is no failure\n"
    "                       models  an MLP (SGD with momentum) and a CNN (Adam)\n"
    "                               trained a few steps on `lazy` and eagerly\n"
    "                               from one seed: losses and final weights\n"
    "                               compared\n"
    "                       all     abi, then ops, then models\n"
    "  --option NAME=VALUE  a client option for the plugin, as in\n"
    "                       LTC_PLUGIN_OPTIONS (repeatable; LTC_PLUGIN_OPTIONS\n"
    "                       itself is not read)\n"
    "  --ops NAME...        the ops tier's OpInfo ops (name.variant; default:\n"
    "                       all, some 600)\n"
    "  --samples K          the ops tier's samples per op and dtype besides the\n"
    "                       0-dim, zero-size and non-contiguous ones (default 2)\n"
    "  --python PATH        the interpreter of the ops and models tiers, with\n"
    "                       torch and ltc_plugins; its torch must be the\n"
    "                       LibTorch the host was built for (Debian:\n"
    "                       /usr/bin/python3; default: python3 on PATH)\n"
    "  --help               show this text\n"
    "\n"
    "Exit status: 0 when no check failed, 1 when one did, 2 for a usage error,\n"
    "a plugin that cannot be found, or a --python that cannot run the ops and\n"
    "models tiers, 77 when the plugin says it cannot run on this machine (then\n"
    "nothing is checked).\n";

int Usage(const std::string& problem) {
  std::cerr << "ltc-plugin-cts: " << problem << "\n\n" << kUsage;
  return kExitUsage;
}

// A plugin to check: its shared object, and the manifest naming it, which
// the Python tiers need (the host loads plugins by manifest).
struct Found {
  fs::path library;
  std::optional<ltc::Manifest> manifest;
};

// The manifest beside `library` that names it, if there is one.
std::optional<ltc::Manifest> ManifestBeside(const fs::path& library) {
  std::error_code error;
  for (const fs::path& manifest_path : ltc::ManifestPathsIn(library.parent_path())) {
    try {
      ltc::Manifest manifest = ltc::ReadManifest(manifest_path);
      if (fs::equivalent(manifest.library, library, error)) return manifest;
    } catch (const std::exception&) {
      // Another plugin's broken manifest says nothing about this one.
    }
  }
  return std::nullopt;
}

// The plugin `request` names: an absolute path as it is, a name through the
// first manifest of that name in the search path. An empty library, with
// `problem` set, when there is none.
Found FindPlugin(const std::string& request, std::string& problem) {
  if (fs::path(request).is_absolute()) return {request, ManifestBeside(request)};
  std::vector<std::string> searched;
  for (const ltc::SearchDirectory& directory : ltc::PluginSearchPath(ltc::ExecutableLibDir())) {
    searched.push_back(directory.path.string() + " (" + directory.origin + ")");
    for (const fs::path& manifest_path : ltc::ManifestPathsIn(directory.path)) {
      try {
        ltc::Manifest manifest = ltc::ReadManifest(manifest_path);
        if (manifest.name == request) return {manifest.library, manifest};
      } catch (const std::exception& bad) {
        std::cerr << "ltc-plugin-cts: skipping " << manifest_path.string() << ": " << bad.what()
                  << '\n';
      }
    }
  }
  problem = "no plugin named '" + request + "' in " + ltc::Join(searched);
  return {};
}

// The tiers `tier` names, in the order they run; empty when it names none.
std::vector<std::string> TiersOf(const std::string& tier) {
  if (tier == "all") return {"abi", "ops", "models"};
  if (tier == "abi" || tier == "ops" || tier == "models") return {tier};
  return {};
}

bool IsCount(const std::string& text) {
  return !text.empty() && text.size() < 7 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  std::string request;
  std::string tier = "abi";
  ltc::ClientOptions options;
  ltc::cts::PythonTiers python_tiers;
  python_tiers.python = "python3";
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument == "--help" || argument == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (argument != "--plugin" && argument != "--tier" && argument != "--option" &&
        argument != "--ops" && argument != "--samples" && argument != "--python") {
      return Usage("unknown argument '" + argument + "'");
    }
    if (i + 1 == arguments.size()) return Usage(argument + " needs a value");
    if (argument == "--ops") {
      while (i + 1 < arguments.size() && arguments[i + 1].rfind("--", 0) != 0) {
        python_tiers.ops.push_back(arguments[++i]);
      }
      if (python_tiers.ops.empty()) return Usage("--ops needs at least one op name");
      continue;
    }
    const std::string& value = arguments[++i];
    if (argument == "--plugin") {
      request = value;
    } else if (argument == "--tier") {
      tier = value;
    } else if (argument == "--samples") {
      if (!IsCount(value)) return Usage("--samples needs a count, not '" + value + "'");
      python_tiers.samples = std::stoi(value);
    } else if (argument == "--python") {
      python_tiers.python = value;
    } else {
      try {
        for (auto& [name, option] : ltc::ParseOptions(value)) options[name] = option;
      } catch (const std::invalid_argument& bad) {
        return Usage(std::string("--option: ") + bad.what());
      }
      python_tiers.options.push_back(value);
    }
  }
  const std::vector<std::string> tiers = TiersOf(tier);
  if (tiers.empty()) return Usage("unknown tier '" + tier + "' (abi, ops, models or all)");
  const bool runs_abi = tiers.front() == "abi";
  const bool runs_ops = std::find(tiers.begin(), tiers.end(), "ops") != tiers.end();
  for (const std::string& tier_name : tiers) {
    if (tier_name != "abi") python_tiers.tiers.push_back(tier_name);
  }
  if (!runs_ops && (!python_tiers.ops.empty() || python_tiers.samples)) {
    return Usage(std::string(python_tiers.ops.empty() ? "--samples" : "--ops") +
                 " applies to the ops tier (--tier ops or all)");
  }

  const ltc::BackendRequest resolved = ltc::BackendRequest::Resolve(request);
  if (resolved.entries.size() != 1) {
    return Usage("the CTS checks one plugin; '" + resolved.text + "' names " +
                 std::to_string(resolved.entries.size()));
  }
  std::string problem;
  const Found found = FindPlugin(resolved.entries.front(), problem);
  if (found.library.empty()) {
    std::cerr << "ltc-plugin-cts: " << problem << '\n';
    return kExitUsage;
  }
  if (!python_tiers.tiers.empty() && !found.manifest) {
    std::cerr << "ltc-plugin-cts: " << found.library.string()
              << ": no manifest (.ltcplugin) beside it names it; the "
              << ltc::Join(python_tiers.tiers, " and ")
              << (python_tiers.tiers.size() > 1 ? " tiers load" : " tier loads")
              << " the plugin as the host does, by its manifest "
                 "(ltc_add_plugin writes one)\n";
    return kExitUsage;
  }

  ltc::cts::Runner runner;
  std::shared_ptr<ltc::Plugin> plugin;
  // What the loader checks when it loads (the table's size and ABI, its
  // required slots, the attributes) is the first check.
  runner.Run(tiers.front() + ".load", [&] {
    try {
      plugin = ltc::Plugin::Load(found.library);
    } catch (const ltc::LoaderError& error) {
      ltc::cts::Fail(found.library.string() + ": " + error.what());
    }
  });
  if (plugin == nullptr) {
    runner.PrintSummary();
    return 1;
  }
  std::cout << "plugin " << plugin->name() << ' ' << plugin->attributes().version << ", ABI "
            << plugin->abi() << ", " << plugin->path().string() << '\n';
  if (runs_abi) {
    if (ltc::cts::RunAbiTier(plugin, options, runner) == ltc::cts::TierOutcome::kUnavailable) {
      runner.PrintSummary();
      return kExitUnavailable;
    }
  } else if (const std::string reason = plugin->UnavailableReason(); !reason.empty()) {
    runner.ReportSkip(tiers.front(),
                      "the plugin is unavailable here (" + reason + "); no check can run");
    runner.PrintSummary();
    return kExitUnavailable;
  }
  if (!python_tiers.tiers.empty()) {
    python_tiers.plugin = found.manifest->name;
    // The child's host searches its own plugin directory anyway; naming it
    // in LTC_PLUGIN_PATH too would only make it warn of the plugin twice.
    const fs::path manifest_dir = found.manifest->path.parent_path();
    std::error_code error;
    if (!fs::equivalent(manifest_dir, ltc::ExecutableLibDir() / "ltc-plugins", error)) {
      python_tiers.plugin_dir = manifest_dir;
    }
    if (ltc::cts::RunPythonTiers(python_tiers, runner) == ltc::cts::PythonOutcome::kUsage) {
      return kExitUsage;
    }
  }
  runner.PrintSummary();
  return runner.failed() == 0 ? 0 : 1;
}
