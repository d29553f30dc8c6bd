// A plugin that works: the CPU test backend.
#include "cpu_backend.h"

namespace ltc::test {

void CheckAvailable() {}

std::unique_ptr<plugin::Client> CreateClient(const LtcClientCreateArgs&) {
  return std::make_unique<CpuClient>();
}

}  // namespace ltc::test
