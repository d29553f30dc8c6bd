// ltc/plugin_adapter.h: the C++ side of a plugin, adapted to the C ABI.
//
// A plugin implements ltc::plugin::Client (and Buffer/Executable) in plain
// C++ and throws ltc::plugin::Error (or any std::exception) on failure.
// MakePluginApi() builds the LtcPluginApi table whose every slot catches all
// exceptions and returns them as LtcError objects, validates struct sizes
// and nulls outputs first, and keeps the live-object counters. No exception
// ever crosses the ABI.
#pragma once

#include <ltc/plugin_api.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ltc::plugin {

// Thrown by plugin code to return a specific LtcErrorCode.
class Error : public std::runtime_error {
 public:
  Error(LtcErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  LtcErrorCode code() const { return code_; }

 private:
  LtcErrorCode code_;
};

class Buffer {
 public:
  virtual ~Buffer() = default;
  // dtype, shape and device never change for the life of the buffer.
  virtual DLDataType dtype() const = 0;
  virtual const std::vector<int64_t>& shape() const = 0;
  virtual int32_t device_ordinal() const = 0;
  virtual bool has_data() const = 0;
};

class Executable {
 public:
  virtual ~Executable() = default;
  virtual size_t num_parameters() const = 0;
  virtual size_t num_results() const = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  virtual int32_t device_count() = 0;
  virtual const char* device_kind() = 0;
  virtual DLDeviceType eager_fallback_device() = 0;

  // Owns `tensor`: must call its deleter exactly once, also when throwing.
  virtual std::unique_ptr<Buffer> buffer_from_host(DLManagedTensor* tensor,
                                                   int32_t device) = 0;
  virtual std::unique_ptr<Buffer> buffer_from_scalar(const LtcScalar& scalar,
                                                     int32_t device) = 0;
  virtual std::unique_ptr<Buffer> buffer_create_placeholder(
      DLDataType dtype, std::vector<int64_t> shape, int32_t device) = 0;
  virtual DLManagedTensor* buffer_to_host(Buffer& buffer) = 0;

  virtual std::unique_ptr<Executable> compile(const LtcCompileArgs& args) = 0;
  // `arguments` has executable.num_parameters() entries and `results` has
  // executable.num_results() empty slots to fill.
  virtual void execute(Executable& executable, int32_t device,
                       const std::vector<Buffer*>& arguments,
                       std::vector<std::unique_ptr<Buffer>>& results) = 0;
  virtual void synchronize(int32_t device) = 0;
  virtual void set_rng_seed(uint64_t seed) = 0;

  // Maintained by the adapter; plugins only read them.
  std::atomic<uint64_t> live_buffers{0};
  std::atomic<uint64_t> live_executables{0};
  std::atomic<uint64_t> compiles{0};
  std::atomic<uint64_t> executes{0};
};

struct PluginDescriptor {
  const char* name;
  const char* version;
  const char* description;
  // Throws Error(LTC_ERROR_UNAVAILABLE, why) when the plugin cannot run here.
  // Must not initialise a device.
  void (*check_available)();
  // Throws on failure; the message reaches the user as "init failed: ...".
  std::unique_ptr<Client> (*create_client)(const LtcClientCreateArgs& args);
};

// The table for `descriptor` (which must outlive it; a static is the
// norm), at the ABI version of this header.
const LtcPluginApi* MakePluginApi(const PluginDescriptor& descriptor);

// Defines the plugin's exported ltc_plugin_query, serving `descriptor` (a
// PluginDescriptor with static storage) to hosts of this ABI major.
#define LTC_PLUGIN_DEFINE_QUERY(descriptor)                                   \
  extern "C" LTC_PLUGIN_EXPORT const LtcPluginApi* ltc_plugin_query(          \
      uint32_t host_abi_major, uint32_t /*host_abi_minor*/) {                 \
    if (host_abi_major != LTC_PLUGIN_ABI_MAJOR) return nullptr;               \
    return ::ltc::plugin::MakePluginApi(descriptor);                          \
  }

// Builds an error object; for plugins that fill a slot by hand.
LtcError* MakeError(LtcErrorCode code, const std::string& message);

// Checks that a host struct carries at least `required` bytes.
void CheckStructSize(size_t struct_size, size_t required, const char* what);

// Device ordinal in [0, device_count).
void CheckDeviceOrdinal(Client& client, int32_t device);

}  // namespace ltc::plugin
