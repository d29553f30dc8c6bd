// A plugin that claims ABI 2.0 but whose table ends before 2.0's last slot.
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    api.struct_size = offsetof(LtcPluginApi, executable_destroy);
  });
}
