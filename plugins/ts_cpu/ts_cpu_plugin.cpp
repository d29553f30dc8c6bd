// ts_cpu: TorchScript on the CPU, one lazy device.
#include "ts_client.h"

namespace {

using ltc::torchscript::TsClient;

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<TsClient>(context, at::kCPU, /*device_count=*/1);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ts_cpu",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"TorchScript on the CPU",
    /*vendor=*/ltc::torchscript::kVendor,
    /*build=*/LTC_PLUGIN_BUILD,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, LTC_GRAPH_FORMAT_TORCHSCRIPT},
    /*libtorch_version=*/ltc::torchscript::kLibtorchVersion,
    /*options=*/{ltc::torchscript::kOptimizeOption, ltc::torchscript::kPoolMbOption},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
