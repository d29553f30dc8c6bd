// A plugin of ABI 2.7: its table has slots after the ones this host knows,
// and a host must never call them.
#include <cstdlib>

#include "cpu_backend.h"

namespace {

LtcError* NeverCalled(void*) { std::abort(); }

struct FutureTable {
  LtcPluginApi known;
  LtcError* (*future_slot)(void* args);
  LtcError* (*another_future_slot)(void* args);
};
static_assert(offsetof(FutureTable, future_slot) == LTC_PLUGIN_API_STRUCT_SIZE_2_0,
              "the future slots must follow the known ones directly");

}  // namespace

const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major, uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  static const FutureTable table = [] {
    FutureTable future{*ltc::plugin::MakePluginApi(ltc::test::Descriptor()), NeverCalled,
                       NeverCalled};
    future.known.struct_size = LTC_STRUCT_SIZE(FutureTable, another_future_slot);
    future.known.abi_minor = 7;
    return future;
  }();
  return &table.known;
}
