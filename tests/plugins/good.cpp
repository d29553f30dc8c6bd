// A plugin that works: the CPU test backend.
#include "cpu_backend.h"

namespace ltc::test {

const Behaviour kBehaviour{
    /*check_available=*/nullptr,
    /*create_client=*/[](const plugin::ClientContext&) -> std::unique_ptr<plugin::Client> {
      return std::make_unique<CpuClient>();
    },
    /*options=*/{},
};

}  // namespace ltc::test
