// The CPU test backend with two devices, "test device 0" and "test device 1".
#include "cpu_backend.h"

namespace ltc::test {

const Behaviour kBehaviour{
    /*check_available=*/nullptr,
    /*create_client=*/[](const plugin::ClientContext&) -> std::unique_ptr<plugin::Client> {
      return std::make_unique<CpuClient>(CpuClient::Config{/*devices=*/2});
    },
    /*options=*/{},
};

}  // namespace ltc::test
