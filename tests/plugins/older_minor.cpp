// A plugin of ABI 1.0: its table ends before client_get_stats. The slot is
// filled with a trap, so a host that calls past struct_size dies.
#include <cstdlib>

#include "cpu_backend.h"

namespace {

LtcError* Trap(LtcClient*, LtcClientStats*) { std::abort(); }

}  // namespace

const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major, uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    api.struct_size = LTC_PLUGIN_API_STRUCT_SIZE_1_0;
    api.abi_minor = 0;
    api.client_get_stats = Trap;
  });
}
