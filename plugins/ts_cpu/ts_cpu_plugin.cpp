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

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
