// ts_cpu as a plugin written before LTC_GRAPH_FORMAT_TORCHSCRIPT_IR would
// be: it reads graphs only as archives, so the host must fall back to them.
#include "ts_client.h"

namespace {

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<ltc::torchscript::TsClient>(context, at::kCPU, /*device_count=*/1);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ts_archive_only",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"test plugin: ts_cpu reading archives only",
    /*vendor=*/"ltc-plugins tests",
    /*build=*/nullptr,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_TORCHSCRIPT},
    /*libtorch_version=*/ltc::torchscript::kLibtorchVersion,
    /*options=*/{ltc::torchscript::kOptimizeOption, ltc::torchscript::kPoolMbOption},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
