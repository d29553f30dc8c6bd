// ltc/plugin_client.h: the host's typed C++ client over a plugin's table.
//
// Everything a host does with a plugin goes through here:
//   - Plugin: a loaded shared object whose table passed the ABI checks, and
//     its attributes;
//   - PluginClient: an initialised backend, and one method per slot;
//   - Buffer, Executable: RAII handles, destroyed through their client.
// Every output has exactly one owner from the moment a call returns, every
// optional slot the plugin left NULL gets its documented default, and every
// failure is a PluginError whose text names the plugin and the call:
//   "ts_cpu: execute: INVALID_ARGUMENT: executable takes 3 arguments, got 2"
#pragma once

#include <ltc/plugin_api.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ltc {

// "INVALID_ARGUMENT" for LTC_ERROR_INVALID_ARGUMENT; "CODE_<n>" for codes
// this header does not know.
std::string ErrorCodeName(LtcErrorCode code);

// An error returned by (or a contract broken by) a plugin.
class PluginError : public std::runtime_error {
 public:
  // what() is "<plugin>: <call>: <CODE>: <message>".
  PluginError(std::string plugin, std::string call, LtcErrorCode code, std::string message);
  const std::string& plugin() const { return plugin_; }
  const std::string& call() const { return call_; }
  LtcErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  std::string plugin_;
  std::string call_;
  LtcErrorCode code_;
  std::string message_;
};

// What plugin_get_attributes says, copied.
struct PluginAttributes {
  std::string name;
  std::string version;
  std::string description;
  std::string vendor;
  std::string build;                       // empty when the plugin gives none
  std::vector<std::string> graph_formats;  // most preferred first
  std::string libtorch_version;            // empty when it links none
};

// A shared object that is loaded and whose table passed the ABI checks.
// Keeps the library loaded while any copy of the shared_ptr lives.
class Plugin {
 public:
  // Loads `library` and negotiates the ABI. Throws LoaderError whose text is
  // the rejection reason, one of:
  //   "not loadable: <the dynamic loader's text>"
  //   "no ltc_plugin_query symbol"
  //   "ltc_plugin_query returned NULL for ABI <host major.minor>"
  //   "ABI <x.y> not supported by host <a.b>"
  //   "malformed table: <what>"
  //   "malformed attributes: <what>"
  static std::shared_ptr<Plugin> Load(const std::filesystem::path& library);
  ~Plugin();

  const LtcPluginApi& api() const { return *api_; }
  const std::filesystem::path& path() const { return path_; }
  const PluginAttributes& attributes() const { return attributes_; }
  const std::string& name() const { return attributes_.name; }
  std::string abi() const;  // "major.minor" as the plugin reports it
  // The minor both sides speak: min(host, plugin).
  uint32_t agreed_minor() const;

  // True when the table is long enough to hold the slot at `slot_offset`
  // and the slot is set, e.g. HasSlot(offsetof(LtcPluginApi, client_get_stats)).
  bool HasSlot(size_t slot_offset) const;

  // Throws PluginError for `call` (and destroys `error`) unless it is NULL.
  void Check(const char* call, LtcError* error) const;

  // Empty when plugin_check_available says yes (or is NULL), else its reason.
  std::string UnavailableReason() const;

 private:
  struct Library;
  Plugin(std::unique_ptr<Library> library, const LtcPluginApi* api, std::filesystem::path path);
  std::unique_ptr<Library> library_;
  const LtcPluginApi* api_;
  std::filesystem::path path_;
  PluginAttributes attributes_;
};

// A client option's value, as LtcNamedValue carries it.
using OptionValue = std::variant<bool, int64_t, double, std::string>;
using ClientOptions = std::map<std::string, OptionValue>;
// "optimize=false, pool_mb=512", for messages.
std::string DescribeOptions(const ClientOptions& options);

// Trace events a plugin opens through the host's services (torch.profiler
// in libltc_host.so). Begin returns a token for End, or NULL when nobody
// traces. Both are called on the thread the event belongs to.
class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual void* Begin(const char* name) const = 0;
  virtual void End(void* token) const = 0;
};

struct ClientConfig {
  ClientOptions options;
  // May be NULL: the plugin's trace events go nowhere. Must outlive the
  // client.
  const Tracer* tracer = nullptr;
};

class PluginClient;

// A buffer of a PluginClient; destroyed through it. Move-only.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const PluginClient& client, LtcBuffer* handle) : client_(&client), handle_(handle) {}
  ~Buffer() { Reset(); }
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  LtcBuffer* get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }

 private:
  void Reset();
  const PluginClient* client_ = nullptr;
  LtcBuffer* handle_ = nullptr;
};

// A compiled graph; destroyed through its client. Move-only.
class Executable {
 public:
  Executable() = default;
  // Reads the executable's info; destroys `handle` if that fails.
  Executable(const PluginClient& client, LtcExecutable* handle);
  ~Executable() { Reset(); }
  Executable(Executable&& other) noexcept;
  Executable& operator=(Executable&& other) noexcept;
  Executable(const Executable&) = delete;
  Executable& operator=(const Executable&) = delete;

  LtcExecutable* get() const { return handle_; }
  size_t num_parameters() const { return num_parameters_; }
  size_t num_results() const { return num_results_; }
  int32_t device_ordinal() const { return device_ordinal_; }

 private:
  void Reset();
  const PluginClient* client_ = nullptr;
  LtcExecutable* handle_ = nullptr;
  size_t num_parameters_ = 0;
  size_t num_results_ = 0;
  int32_t device_ordinal_ = 0;
};

// A DLPack tensor with one owner: its deleter runs when this is destroyed,
// unless ownership is released first (release()).
struct DLManagedTensorDeleter {
  void operator()(DLManagedTensor* tensor) const;
};
using DLManagedTensorPtr = std::unique_ptr<DLManagedTensor, DLManagedTensorDeleter>;

struct BufferInfo {
  DLDataType dtype{};
  int32_t device_ordinal = 0;
  std::vector<int64_t> shape;
  bool has_data = false;
};

struct DeviceInfo {
  std::string kind;
  std::string name;
  uint64_t memory_bytes = 0;  // 0 where unknown
};

struct ClientStats {
  uint64_t live_buffers = 0;
  uint64_t live_executables = 0;
  uint64_t compiles = 0;
  uint64_t executes = 0;
};

// An initialised plugin: owns the LtcClient and destroys it last. Its
// methods may be called from any thread, as the ABI allows. Buffers and
// executables must be destroyed before the client.
class PluginClient {
 public:
  // Creates the client with `config.options` (as given: see OptionsFor in
  // ltc/loader.h for scoping) and the host's services: log lines go to the
  // spdlog logger "ltc" as "<plugin>: <message>", trace events to
  // config.tracer. Throws PluginError for client_create or client_get_info.
  PluginClient(std::shared_ptr<Plugin> plugin, ClientConfig config);
  ~PluginClient();
  PluginClient(const PluginClient&) = delete;
  PluginClient& operator=(const PluginClient&) = delete;

  const Plugin& plugin() const { return *plugin_; }
  const std::string& name() const { return plugin_->name(); }
  const ClientOptions& options() const { return config_.options; }
  LtcClient* get() const { return client_; }

  int32_t device_count() const { return device_count_; }
  DLDeviceType eager_fallback_device() const { return eager_fallback_device_; }
  DeviceInfo device_info(int32_t device) const;

  // Ownership of `tensor` passes to the plugin in every case.
  Buffer BufferFromHost(DLManagedTensorPtr tensor, int32_t device) const;
  Buffer BufferFromScalar(DLDataType dtype, int64_t int64_value, double double_value,
                          int32_t device) const;
  Buffer CreatePlaceholder(DLDataType dtype, const std::vector<int64_t>& shape,
                           int32_t device) const;
  // Blocks until the data is ready. Throws PluginError when the plugin
  // hands back no tensor or one without a deleter.
  DLManagedTensorPtr ToHost(LtcBuffer* buffer) const;
  BufferInfo Info(LtcBuffer* buffer) const;

  Executable Compile(std::string_view format, std::string_view graph,
                     const std::string& cache_key, int32_t device) const;
  // One new buffer per result; throws PluginError when the plugin reports
  // success but leaves a result unset. `donated` is empty (nothing
  // donated) or has one flag per argument (plugin_api.h,
  // donated_arguments); a plugin older than 2.1 ignores it.
  std::vector<Buffer> Execute(const Executable& executable,
                              const std::vector<LtcBuffer*>& arguments,
                              const std::vector<bool>& donated = {}) const;

  // No-ops where the plugin leaves the slot NULL.
  void Synchronize(int32_t device) const;
  void SetRngSeed(uint64_t seed) const;
  // nullopt where the plugin has no client_get_stats.
  std::optional<ClientStats> Stats() const;

  // For Buffer and Executable; never fail.
  void Destroy(LtcBuffer* buffer) const;
  void Destroy(LtcExecutable* executable) const;

  // Throws PluginError for `call` unless `error` is NULL.
  void Check(const char* call, LtcError* error) const { plugin_->Check(call, error); }
  // Calls `slot`; throws PluginError for `call` if it fails, or if it throws
  // (which breaks the ABI's contract).
  template <typename Args>
  void Invoke(const char* call, LtcError* (*slot)(Args*), Args* args) const;

 private:
  struct Services;
  // For calls the ABI says never fail: an error is logged, not thrown.
  template <typename Args>
  void WarnOnError(const char* call, LtcError* (*slot)(Args*), Args* args) const;

  std::shared_ptr<Plugin> plugin_;
  ClientConfig config_;
  std::unique_ptr<Services> services_;  // outlives client_
  LtcClient* client_ = nullptr;
  int32_t device_count_ = 0;
  DLDeviceType eager_fallback_device_ = kDLCPU;
};

}  // namespace ltc
