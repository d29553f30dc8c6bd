// ts_cpu's compile on any bytes in one graph format (LTC_FUZZ_FORMAT, one
// binary per format): the reader, the plugin's graph rewrites and the
// executor's construction, as client_compile runs them. An exception is a
// refused graph (the adapter turns each into an LtcError); a crash, a
// sanitizer report or a leak is a bug.
#include "ts_client.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

namespace {

ltc::torchscript::TsClient* client = nullptr;

}  // namespace

// LibTorch 1.13's PyTorchStreamReader leaks its zip state whenever its
// init() throws, which most malformed archives make it do, before any check
// of ours can run. LibTorch has no frame pointers, so its frames cannot be
// named here: leaks of memory LibTorch allocated are taken to be LibTorch's.
// Those of memory our code allocates are still reported.
extern "C" const char* __lsan_default_suppressions() { return "leak:libtorch_cpu.so\n"; }
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The buffer pool would keep freed blocks from ASan.
  setenv("LTC_TS_CPU_POOL_MB", "0", 1);
  static const ltc::plugin::Host host(nullptr, "ts_cpu");
  static const ltc::plugin::Options options;
  static ltc::torchscript::TsClient ts_cpu(
      ltc::plugin::ClientContext{options, host, LTC_PLUGIN_ABI_MAJOR, LTC_PLUGIN_ABI_MINOR},
      at::kCPU, 1);
  client = &ts_cpu;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ltc::plugin::CompileRequest request{
      LTC_FUZZ_FORMAT, std::string_view(reinterpret_cast<const char*>(data), size), nullptr, 0};
  try {
    client->compile(request);
  } catch (const std::exception&) {
  }
  return 0;
}
