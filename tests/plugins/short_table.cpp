// A plugin that claims ABI 1.1 but whose table is only as long as 1.0's.
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable(
      [](LtcPluginApi& api) { api.struct_size = LTC_PLUGIN_API_STRUCT_SIZE_1_0; });
}
