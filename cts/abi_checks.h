// The ABI tier: checks of plugin_api.h's contract, made by calling the
// plugin's table directly (never through the host's PluginClient, whose
// conveniences would hide what the plugin does).
#pragma once

#include <ltc/plugin_client.h>

#include <memory>

#include "runner.h"

namespace ltc::cts {

enum class TierOutcome {
  kRan,
  // plugin_check_available said no: reported as the one result, and
  // nothing else ran (a host creates no client for such a plugin, so the
  // contract promises nothing about what client_create does then).
  kUnavailable,
};

// Runs every ABI check on `plugin`, whose clients get `options`.
TierOutcome RunAbiTier(const std::shared_ptr<Plugin>& plugin, const ClientOptions& options,
                       Runner& runner);

}  // namespace ltc::cts
