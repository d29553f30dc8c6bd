// The entry point of a well-behaved test plugin: its table for any host of
// its major version.
#include "cpu_backend.h"

const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major, uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  return ltc::plugin::MakePluginApi(ltc::test::Descriptor());
}
