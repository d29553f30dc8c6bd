// The entry point of a well-behaved test plugin: its table for any host of
// its major version.
#include "cpu_backend.h"

LTC_PLUGIN_DEFINE_QUERY(ltc::test::Descriptor())
