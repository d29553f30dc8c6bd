// A plugin of ABI 2.0 that answers any host anyway.
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    api.abi_major = 2;
    api.abi_minor = 0;
  });
}
