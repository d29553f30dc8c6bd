// A plugin that is available but cannot start: client_create fails.
#include "cpu_backend.h"

namespace ltc::test {

const Behaviour kBehaviour{
    /*check_available=*/nullptr,
    /*create_client=*/[](const plugin::ClientContext&) -> std::unique_ptr<plugin::Client> {
      throw plugin::Error(LTC_ERROR_UNAVAILABLE, "frobnicator not connected");
    },
    /*options=*/{},
};

}  // namespace ltc::test
