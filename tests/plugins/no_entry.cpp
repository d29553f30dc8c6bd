// A shared object that is no plugin: it has no ltc_plugin_query.
#include <ltc/plugin_api.h>

extern "C" LTC_PLUGIN_EXPORT int ltc_test_not_a_plugin() { return 0; }
