// A plugin whose C++ code throws from a slot: the adapter, not the host,
// must turn that into an error object.
#include <stdexcept>

#include "cpu_backend.h"

namespace ltc::test {
namespace {

class ThrowingClient : public CpuClient {
 public:
  int32_t device_count() override { throw std::runtime_error("device enumeration exploded"); }
};

}  // namespace

const Behaviour kBehaviour{
    /*check_available=*/nullptr,
    /*create_client=*/[](const plugin::ClientContext&) -> std::unique_ptr<plugin::Client> {
      return std::make_unique<ThrowingClient>();
    },
    /*options=*/{},
};

}  // namespace ltc::test
