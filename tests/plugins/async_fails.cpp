// The CPU test backend whose fail_execution-th execute (default the first)
// fails asynchronously: execute succeeds, and the failure surfaces once,
// from buffer_to_host of a result or client_synchronize of the device.
#include "cpu_backend.h"

namespace ltc::test {

const Behaviour kBehaviour{
    /*check_available=*/nullptr,
    /*create_client=*/[](const plugin::ClientContext& context) -> std::unique_ptr<plugin::Client> {
      CpuClient::Config config;
      config.fail_execution = context.options.Int("fail_execution", 1);
      if (config.fail_execution < 0) {
        throw plugin::Error(LTC_ERROR_INVALID_ARGUMENT, "fail_execution must be >= 0");
      }
      return std::make_unique<CpuClient>(config);
    },
    /*options=*/{{"fail_execution", LTC_VALUE_INT64,
                  "the Nth execute fails asynchronously (default 1; 0: never)"}},
};

}  // namespace ltc::test
