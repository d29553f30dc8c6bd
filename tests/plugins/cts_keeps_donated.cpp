// ref_cpu whose table says 2.1 but whose executable_execute ignores
// donated_arguments, the way a plugin written by hand against 2.0 could:
// a donated argument still holds data afterwards. ltc-plugin-cts's
// abi.donation.argument_emptied must fail it (tests/CMakeLists.txt).
#include <ltc/graph_format.h>
#include <ltc/plugin_adapter.h>

#include "execute_two_zero.h"
#include "ref_client.h"

namespace {

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<ltc::ref_cpu::RefClient>(context);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"cts_keeps_donated",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"test plugin: ref_cpu ignoring donation",
    /*vendor=*/"ltc-plugins tests",
    /*build=*/LTC_PLUGIN_BUILD,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_PORTABLE},
    /*libtorch_version=*/nullptr,
    /*options=*/{},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

LtcExecutableExecuteFn adapter_execute;

LtcError* ExecuteIgnoringDonation(LtcExecutableExecuteArgs* args) {
  return ltc::test::ExecuteReadingTwoZeroFields(adapter_execute, args);
}

}  // namespace

extern "C" LTC_PLUGIN_EXPORT const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major,
                                                                   uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  static const LtcPluginApi table = [] {
    LtcPluginApi copy = *ltc::plugin::MakePluginApi(kDescriptor);
    adapter_execute = copy.executable_execute;
    copy.executable_execute = ExecuteIgnoringDonation;
    return copy;
  }();
  return &table;
}
