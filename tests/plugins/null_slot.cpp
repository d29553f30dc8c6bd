// A plugin whose table lacks a required slot: client_compile is NULL.
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) {
  return ltc::test::PatchedTable([](LtcPluginApi& api) { api.client_compile = nullptr; });
}
