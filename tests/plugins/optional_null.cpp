// A good plugin that leaves every OPTIONAL slot NULL: a host must work with
// it, using each slot's documented default, and never call them.
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major, uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    api.plugin_check_available = nullptr;
    api.client_synchronize = nullptr;
    api.client_set_rng_seed = nullptr;
    api.client_get_stats = nullptr;
  });
}
