// The ops and models tiers: Python (python/cts_tiers.py), run in a child
// interpreter, because they drive PyTorch on `lazy` through the host. Their
// result lines are printed and counted as the ABI tier's are.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runner.h"

namespace ltc::cts {

struct PythonTiers {
  std::string python;              // the interpreter, a path or a name on PATH
  std::vector<std::string> tiers;  // "ops", "models", in order
  std::string plugin;              // the plugin's name, for ltc_plugins.init
  // The directory of the plugin's manifest: the child's LTC_PLUGIN_PATH, so
  // that its host finds the plugin this process checked. Empty: the host's
  // own plugin directory holds it.
  std::filesystem::path plugin_dir;
  std::vector<std::string> options;  // --option values, as LTC_PLUGIN_OPTIONS
  std::vector<std::string> ops;      // empty: every op
  std::optional<int> samples;
};

enum class PythonOutcome {
  kRan,    // the lines were counted into the runner (failures included)
  kUsage,  // the child could not run the tiers, and said why on stderr
};

// Runs `tiers` in a child interpreter, echoing its output and counting its
// result lines into `runner`. A child that crashes or exits otherwise than
// as cts_tiers.py does is a failed check named after the tiers.
PythonOutcome RunPythonTiers(const PythonTiers& tiers, Runner& runner);

}  // namespace ltc::cts
