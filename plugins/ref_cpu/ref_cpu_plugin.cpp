// ref_cpu: a reference CPU backend that interprets ltc-graph-v1 graphs with
// its own kernels, without LibTorch.
#include "ref_client.h"

#include <ltc/graph_format.h>
#include <ltc/plugin_adapter.h>

namespace {

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<ltc::ref_cpu::RefClient>(context);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ref_cpu",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"Reference CPU backend without LibTorch",
    /*vendor=*/"ltc-plugins",
    /*build=*/LTC_PLUGIN_BUILD,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_PORTABLE},
    /*libtorch_version=*/nullptr,
    /*options=*/{},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
