// A plugin that needs libltc_test_vanished.so, which the dynamic loader
// cannot find: loading it fails before any of its code runs.
#include "cpu_backend.h"

// Defined in libltc_test_vanished.so; calling it makes the dependency real.
extern "C" int ltc_test_vanished_answer();

namespace ltc::test {

const Behaviour kBehaviour{
    /*check_available=*/[] {
      if (ltc_test_vanished_answer() != 42) {
        throw plugin::Error(LTC_ERROR_INTERNAL, "wrong answer");
      }
    },
    /*create_client=*/[](const plugin::ClientContext&) -> std::unique_ptr<plugin::Client> {
      return std::make_unique<CpuClient>();
    },
    /*options=*/{},
};

}  // namespace ltc::test
