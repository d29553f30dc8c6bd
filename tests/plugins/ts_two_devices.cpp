// ts_cpu with two CPU devices, so a host's lazy:1 reaches ordinal 1.
#include "ts_client.h"

namespace {

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<ltc::torchscript::TsClient>(context, at::kCPU, /*device_count=*/2);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ts_two_devices",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"test plugin: ts_cpu with two devices",
    /*vendor=*/"ltc-plugins tests",
    /*build=*/nullptr,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, LTC_GRAPH_FORMAT_TORCHSCRIPT},
    /*libtorch_version=*/ltc::torchscript::kLibtorchVersion,
    /*options=*/{ltc::torchscript::kOptimizeOption, ltc::torchscript::kPoolMbOption},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
