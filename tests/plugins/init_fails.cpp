// A plugin that is available but cannot start: client_create fails.
#include "cpu_backend.h"

namespace ltc::test {

void CheckAvailable() {}

std::unique_ptr<plugin::Client> CreateClient(const LtcClientCreateArgs&) {
  throw plugin::Error(LTC_ERROR_UNAVAILABLE, "frobnicator not connected");
}

}  // namespace ltc::test
