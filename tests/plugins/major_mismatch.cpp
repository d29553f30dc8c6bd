// A plugin of ABI 3.0 that answers any host anyway: the host must refuse it
// by its version alone.
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    api.abi_major = 3;
    api.abi_minor = 0;
  });
}
