// Compiled into every test plugin: its build says its name and version.
#include "cpu_backend.h"

namespace ltc::test {

const plugin::PluginDescriptor& Descriptor() {
  static const plugin::PluginDescriptor descriptor{LTC_TEST_PLUGIN_NAME, LTC_PLUGIN_VERSION,
                                                   "plugin for the loader tests", CheckAvailable,
                                                   CreateClient};
  return descriptor;
}

}  // namespace ltc::test
