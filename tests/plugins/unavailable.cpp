// A plugin for hardware this machine lacks: plugin_check_available says no.
#include "cpu_backend.h"

namespace ltc::test {

const Behaviour kBehaviour{
    /*check_available=*/[] {
      throw plugin::Error(LTC_ERROR_UNAVAILABLE, "no test accelerator present");
    },
    // Never reached: a host creates no client for an unavailable plugin.
    /*create_client=*/[](const plugin::ClientContext&) -> std::unique_ptr<plugin::Client> {
      return std::make_unique<CpuClient>();
    },
    /*options=*/{},
};

}  // namespace ltc::test
