// A plugin of ABI 2.0 as a later host meets it:
//   - its table says 2.0 and is followed by a trap where the simulated next
//     minor appends next_minor_slot (tests/abi_next), so a host that calls
//     past struct_size dies;
//   - its executable_execute reads only 2.0's fields, as 2.0's adapter did:
//     2.1's donated_arguments never reach the adapter, so donated arguments
//     keep their data.
#include <cstdlib>

#include "cpu_backend.h"
#include "execute_two_zero.h"

namespace {

LtcError* Trap(void*) { std::abort(); }

struct TableWithTrap {
  LtcPluginApi known;
  LtcError* (*next_slot)(void* args);
};
static_assert(offsetof(TableWithTrap, next_slot) == LTC_PLUGIN_API_STRUCT_SIZE_2_0,
              "the trap must follow the 2.0 table directly");

LtcExecutableExecuteFn adapter_execute;

LtcError* ExecuteAsTwoZero(LtcExecutableExecuteArgs* args) {
  return ltc::test::ExecuteReadingTwoZeroFields(adapter_execute, args);
}

}  // namespace

const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major, uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  static const TableWithTrap table = [] {
    TableWithTrap older{*ltc::plugin::MakePluginApi(ltc::test::Descriptor()), Trap};
    older.known.abi_minor = 0;
    adapter_execute = older.known.executable_execute;
    older.known.executable_execute = ExecuteAsTwoZero;
    return older;
  }();
  return &table.known;
}
