// A plugin for hardware this machine lacks: plugin_check_available says no.
#include "cpu_backend.h"

namespace ltc::test {

void CheckAvailable() { throw plugin::Error(LTC_ERROR_UNAVAILABLE, "no test accelerator present"); }

// Never reached: a host creates no client for an unavailable plugin.
std::unique_ptr<plugin::Client> CreateClient(const LtcClientCreateArgs&) {
  return std::make_unique<CpuClient>();
}

}  // namespace ltc::test
