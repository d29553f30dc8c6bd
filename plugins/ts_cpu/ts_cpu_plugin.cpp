// ts_cpu: TorchScript on the CPU, one lazy device.
#include "ts_client.h"

namespace {

std::unique_ptr<ltc::plugin::Client> CreateClient(const LtcClientCreateArgs&) {
  return std::make_unique<ltc::torchscript::TsClient>(at::kCPU, 1, "cpu");
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ts_cpu",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"TorchScript on the CPU",
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

extern "C" LTC_PLUGIN_EXPORT const LtcPluginApi* ltc_plugin_query(
    uint32_t host_abi_major, uint32_t /*host_abi_minor*/) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  return ltc::plugin::MakePluginApi(kDescriptor);
}
