// A plugin of ABI 2.0 as a later host meets it: its table is followed by a
// trap where 2.1 appends next_minor_slot (tests/abi_next), so a host that
// calls past struct_size dies.
#include <cstdlib>

#include "cpu_backend.h"

namespace {

LtcError* Trap(void*) { std::abort(); }

struct TableWithTrap {
  LtcPluginApi known;
  LtcError* (*next_slot)(void* args);
};
static_assert(offsetof(TableWithTrap, next_slot) == LTC_PLUGIN_API_STRUCT_SIZE_2_0,
              "the trap must follow the 2.0 table directly");

}  // namespace

const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major, uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  static const TableWithTrap table{*ltc::plugin::MakePluginApi(ltc::test::Descriptor()), Trap};
  return &table.known;
}
