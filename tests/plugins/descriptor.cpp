// Compiled into every test plugin: its build says its name and version, its
// behaviour source (kBehaviour) the rest.
#include "cpu_backend.h"

namespace ltc::test {

const plugin::PluginDescriptor& Descriptor() {
  static const plugin::PluginDescriptor descriptor{
      /*name=*/LTC_TEST_PLUGIN_NAME,
      /*version=*/LTC_PLUGIN_VERSION,
      /*description=*/"plugin for the loader tests",
      /*vendor=*/"ltc-plugins tests",
      /*build=*/nullptr,
      /*graph_formats=*/{kIdentityFormat},
      /*libtorch_version=*/nullptr,
      /*options=*/kBehaviour.options,
      /*check_available=*/kBehaviour.check_available,
      /*create_client=*/kBehaviour.create_client,
  };
  return descriptor;
}

}  // namespace ltc::test
