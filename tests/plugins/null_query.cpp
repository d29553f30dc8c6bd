// A plugin that serves no host: ltc_plugin_query returns NULL.
#include <ltc/plugin_api.h>

const LtcPluginApi* ltc_plugin_query(uint32_t, uint32_t) { return nullptr; }
