// ts_cpu as a plugin written before LTC_GRAPH_FORMAT_TORCHSCRIPT_IR would
// be: it reads graphs only as archives, so the host must fall back to them.
#include "ts_client.h"

namespace {

class ArchiveOnlyClient final : public ltc::torchscript::TsClient {
 public:
  ArchiveOnlyClient() : TsClient(at::kCPU, 1, "cpu") {}

  std::unique_ptr<ltc::plugin::Executable> compile(const LtcCompileArgs& args) override {
    if (std::string(args.format) != LTC_GRAPH_FORMAT_TORCHSCRIPT) {
      throw ltc::plugin::Error(LTC_ERROR_UNIMPLEMENTED,
                               std::string("graph format '") + args.format + "' is not supported");
    }
    return TsClient::compile(args);
  }
};

std::unique_ptr<ltc::plugin::Client> CreateClient(const LtcClientCreateArgs&) {
  return std::make_unique<ArchiveOnlyClient>();
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ts_archive_only",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"test plugin: ts_cpu reading archives only",
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
