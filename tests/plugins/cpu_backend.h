// A tiny but real CPU backend for the loader and ABI tests, and the pieces
// every test plugin shares. Buffers hold their own copy of the bytes, so a
// test can check that what comes back is what went in.
#pragma once

#include <ltc/plugin_adapter.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace ltc::test {

// The one graph format the backend compiles. The graph is the ASCII decimal
// count N; the executable takes N arguments and returns copies of them.
inline constexpr const char* kIdentityFormat = "test-identity";

// The result of an execution whose failure has not been reported yet
// (async_fails): shared by that execution's results.
struct PendingFailure;

class CpuClient : public plugin::Client {
 public:
  struct Config {
    int32_t devices = 1;
    // The Nth execute (1-based) fails asynchronously: it returns results
    // whose failure surfaces later (plugin_api.h, "Asynchronous work").
    // 0: none fails.
    int64_t fail_execution = 0;
  };

  CpuClient() : CpuClient(Config{}) {}
  explicit CpuClient(Config config);

  int32_t device_count() override;
  // "test device <ordinal>", kind "cpu", 1 GiB.
  plugin::DeviceInfo device_info(int32_t device) override;
  DLDeviceType eager_fallback_device() override;
  std::unique_ptr<plugin::Buffer> buffer_from_host(DLManagedTensor* tensor,
                                                   int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_from_scalar(const plugin::Scalar& scalar,
                                                     int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_create_placeholder(DLDataType dtype,
                                                            std::vector<int64_t> shape,
                                                            int32_t device) override;
  DLManagedTensor* buffer_to_host(plugin::Buffer& buffer) override;
  std::unique_ptr<plugin::Executable> compile(const plugin::CompileRequest& request) override;
  void execute(plugin::Executable& executable, int32_t device,
               const std::vector<plugin::Buffer*>& arguments,
               const std::vector<bool>& donated,
               std::vector<std::unique_ptr<plugin::Buffer>>& results) override;
  // Reports the first unreported asynchronous failure on `device`, if any.
  void synchronize(int32_t device) override;
  void set_rng_seed(uint64_t seed) override;

 private:
  const Config config_;
  std::atomic<int64_t> execute_calls_{0};
  std::mutex mutex_;
  std::vector<std::shared_ptr<PendingFailure>> pending_;  // guarded by mutex_
};

// What each test plugin's behaviour source defines: whether it can run, how
// it starts and which options it takes.
struct Behaviour {
  void (*check_available)();  // NULL: always available
  std::unique_ptr<plugin::Client> (*create_client)(const plugin::ClientContext& context);
  std::vector<plugin::OptionSpec> options;
};
extern const Behaviour kBehaviour;

// The plugin's descriptor: the name and version its build gives it and
// kBehaviour (descriptor.cpp, compiled into every plugin).
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
