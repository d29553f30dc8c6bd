// The library missing_dep needs; built where the dynamic loader won't look.
#include <ltc/plugin_api.h>

extern "C" LTC_PLUGIN_EXPORT int ltc_test_vanished_answer() { return 42; }
