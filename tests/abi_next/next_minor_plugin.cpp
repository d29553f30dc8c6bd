// The CPU test backend built against the simulated 2.2 header
// (abi_next/include) and the 2.2 adapter, serving what 2.2 appends:
//   - client_compile reads next_minor_priority, or its default where the
//     host's struct ends before it, and the client logs what it read;
//   - executable_get_info writes out_next_minor_flops where it fits;
//   - next_minor_slot is a trap: no 2.1 host may call it.
// Both fields are served around the adapter's slots, which know only the
// fields every version shares.
#include <cstdlib>
#include <string>

#include "cpu_backend.h"

namespace ltc::test {
namespace {

constexpr uint64_t kFlopsPerParameter = 1000;

LtcClientCompileFn adapter_compile;
LtcExecutableGetInfoFn adapter_get_info;

// What the client_compile running on this thread read.
thread_local int64_t compile_priority = 0;

LtcError* Compile(LtcClientCompileArgs* args) {
  compile_priority =
      args != nullptr &&
              LTC_STRUCT_HAS_FIELD(LtcClientCompileArgs, args->struct_size, next_minor_priority)
          ? args->next_minor_priority
          : 0;
  return adapter_compile(args);
}

LtcError* GetInfo(LtcExecutableGetInfoArgs* args) {
  LtcError* error = adapter_get_info(args);
  if (error == nullptr &&
      LTC_STRUCT_HAS_FIELD(LtcExecutableGetInfoArgs, args->struct_size, out_next_minor_flops)) {
    args->out_next_minor_flops = kFlopsPerParameter * args->out_num_parameters;
  }
  return error;
}

LtcError* Trap(LtcClientSynchronizeArgs*) { std::abort(); }

class NextMinorClient final : public CpuClient {
 public:
  explicit NextMinorClient(const plugin::Host& host) : host_(host) {}

  std::unique_ptr<plugin::Executable> compile(const plugin::CompileRequest& request) override {
    host_.Log(LTC_LOG_INFO, "compile: next_minor_priority=" + std::to_string(compile_priority));
    return CpuClient::compile(request);
  }

 private:
  const plugin::Host& host_;
};

}  // namespace

const Behaviour kBehaviour{
    /*check_available=*/nullptr,
    /*create_client=*/[](const plugin::ClientContext& context) -> std::unique_ptr<plugin::Client> {
      return std::make_unique<NextMinorClient>(context.host);
    },
    /*options=*/{},
};

}  // namespace ltc::test

const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major, uint32_t) {
  if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;
  return ltc::test::PatchedTable([](LtcPluginApi& api) {
    ltc::test::adapter_compile = api.client_compile;
    ltc::test::adapter_get_info = api.executable_get_info;
    api.client_compile = ltc::test::Compile;
    api.executable_get_info = ltc::test::GetInfo;
    api.next_minor_slot = ltc::test::Trap;
  });
}
