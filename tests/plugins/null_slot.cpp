// A plugin whose table lacks a required slot (compile is NULL).
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable([](LtcPluginApi& api) { api.compile = nullptr; });
}
