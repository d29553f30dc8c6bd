// A tiny but real CPU backend for the loader tests, and the pieces every
// test plugin shares. Buffers hold their own copy of the bytes, so a test can
// check that what comes back is what went in.
#pragma once

#include <ltc/plugin_adapter.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace ltc::test {

// The one graph format the backend compiles. The graph is the ASCII decimal
// count N; the executable takes N arguments and returns copies of them.
inline constexpr const char* kIdentityFormat = "test-identity";

class CpuClient : public plugin::Client {
 public:
  int32_t device_count() override;
  const char* device_kind() override;
  DLDeviceType eager_fallback_device() override;
  std::unique_ptr<plugin::Buffer> buffer_from_host(DLManagedTensor* tensor,
                                                   int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_from_scalar(const LtcScalar& scalar,
                                                     int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_create_placeholder(DLDataType dtype,
                                                            std::vector<int64_t> shape,
                                                            int32_t device) override;
  DLManagedTensor* buffer_to_host(plugin::Buffer& buffer) override;
  std::unique_ptr<plugin::Executable> compile(const LtcCompileArgs& args) override;
  void execute(plugin::Executable& executable, int32_t device,
               const std::vector<plugin::Buffer*>& arguments,
               std::vector<std::unique_ptr<plugin::Buffer>>& results) override;
  void synchronize(int32_t device) override;
  void set_rng_seed(uint64_t seed) override;
};

// What each test plugin says about itself (defined in the plugin's own
// source): whether it can run, and how it starts.
void CheckAvailable();
std::unique_ptr<plugin::Client> CreateClient(const LtcClientCreateArgs& args);

// The plugin's descriptor, with the name and version its build gives it and
// the two functions above (descriptor.cpp, compiled into every plugin).
const plugin::PluginDescriptor& Descriptor();

// The adapter's table for Descriptor(), copied once and changed by `patch`:
// for plugins that break a rule of the ABI on purpose.
template <typename Patch>
const LtcPluginApi* PatchedTable(Patch patch) {
  static const LtcPluginApi table = [&] {
    LtcPluginApi copy = *plugin::MakePluginApi(Descriptor());
    patch(copy);
    return copy;
  }();
  return &table;
}

}  // namespace ltc::test
