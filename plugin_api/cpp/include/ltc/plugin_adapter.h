// ltc/plugin_adapter.h: the C++ side of a plugin, adapted to the C ABI.
//
// A plugin implements ltc::plugin::Client (and Buffer/Executable) in plain
// C++ and throws ltc::plugin::Error (or any std::exception) on failure; it
// describes itself in a PluginDescriptor and defines its entry point with
// LTC_PLUGIN_DEFINE_QUERY. The adapter builds the LtcPluginApi table once.
// Every slot of it:
//   - catches every exception and returns it as an LtcError;
//   - accepts any args struct at least as large as the version that
//     introduced it, reads only the fields its writer wrote, and writes only
//     the out_ fields that fit (plugin_api.h, "Versioning");
//   - checks handles, ordinals, counts and placeholders before the plugin
//     sees them, and leaves out_ fields at their defaults on failure;
//   - refuses a donated argument passed twice, and empties donated
//     arguments after a successful execute (since 2.1);
//   - keeps the live-object counters behind client_get_stats.
// No exception ever crosses the ABI.
#pragma once

#include <ltc/plugin_api.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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

// The host's services (log, trace) as the client sees them. Valid for the
// life of the Client it was given to.
class Host {
 public:
  // `services` may be NULL (a host that offers none): logging and tracing
  // then do nothing.
  Host(const LtcHostServices* services, std::string plugin_name);

  bool LogEnabled(LtcLogLevel level) const;
  // One line; the host tags it with the plugin's name.
  void Log(LtcLogLevel level, const std::string& message) const;

  // A trace event (torch.profiler shows it) from construction to
  // destruction, on one thread.
  class Trace {
   public:
    Trace(const Host& host, const char* name);
    ~Trace();
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;

   private:
    const Host& host_;
    void* token_;
  };

  const std::string& plugin_name() const { return plugin_name_; }

 private:
  LtcHostServices services_{};  // all NULL when the host gave none
  std::string plugin_name_;
};

// An option a plugin accepts, declared in its PluginDescriptor. The adapter
// refuses options that are not declared, or whose type does not match
// (an int64 value is accepted for a double option).
struct OptionSpec {
  const char* name;
  LtcValueType type;
  const char* description;  // what it does and its default, for messages
};

// The options a client was created with, checked against the specs.
class Options {
 public:
  Options() = default;
  // Throws Error(LTC_ERROR_INVALID_ARGUMENT) naming the option and the known
  // ones, for an unknown name, a wrong type, a NULL or a repeated entry.
  // `plugin_name` is who the messages say knows the specs.
  Options(const LtcNamedValue* const* values, size_t count,
          const std::vector<OptionSpec>& specs,
          const std::string& plugin_name = "the plugin");

  // The value given, or `fallback` when the option was not given.
  bool Bool(const std::string& name, bool fallback) const;
  int64_t Int(const std::string& name, int64_t fallback) const;
  double Double(const std::string& name, double fallback) const;
  std::string String(const std::string& name, const std::string& fallback) const;
  bool Has(const std::string& name) const { return values_.count(name) != 0; }

 private:
  struct Value {
    LtcValueType type;
    std::string string_value;
    int64_t int64_value = 0;
    double double_value = 0;
    bool bool_value = false;
  };
  // The value given for `name`, or NULL; throws Error(LTC_ERROR_INTERNAL)
  // where its spec declares another type than `type` (a plugin bug).
  const Value* Find(const std::string& name, LtcValueType type) const;
  std::map<std::string, Value> values_;
};

// What create_client gets. `host` lives as long as the client.
struct ClientContext {
  const Options& options;
  const Host& host;
  // The version both sides speak: the host's major, min(host, plugin) minor.
  uint32_t abi_major;
  uint32_t abi_minor;
};

class Buffer {
 public:
  virtual ~Buffer() = default;
  // dtype, shape and device never change for the life of the buffer.
  virtual DLDataType dtype() const = 0;
  virtual const std::vector<int64_t>& shape() const = 0;
  virtual int32_t device_ordinal() const = 0;
  // False for a placeholder, and for the result of a failed execution.
  virtual bool has_data() const = 0;
};

class Executable {
 public:
  virtual ~Executable() = default;
  virtual size_t num_parameters() const = 0;
  virtual size_t num_results() const = 0;
};

// One device as client_get_device_info reports it.
struct DeviceInfo {
  std::string kind;           // "cpu", "cuda": the same for every device
  std::string name;           // for people
  uint64_t memory_bytes = 0;  // 0 where unknown
};

// A value for buffer_from_scalar.
struct Scalar {
  DLDataType dtype;
  int64_t int64_value;  // integer and boolean types
  double double_value;  // floating types
};

// A graph to compile, borrowed for the call.
struct CompileRequest {
  std::string_view format;     // one of the descriptor's graph_formats
  std::string_view graph;      // the serialized graph's bytes
  const char* cache_key;       // may be NULL
  int32_t device_ordinal;      // already checked to be in range
};

class Client {
 public:
  virtual ~Client() = default;

  // Constant for the life of the client.
  virtual int32_t device_count() = 0;
  virtual DeviceInfo device_info(int32_t device) = 0;
  virtual DLDeviceType eager_fallback_device() = 0;

  // Owns `tensor`: must call its deleter exactly once, also when throwing.
  virtual std::unique_ptr<Buffer> buffer_from_host(DLManagedTensor* tensor,
                                                   int32_t device) = 0;
  virtual std::unique_ptr<Buffer> buffer_from_scalar(const Scalar& scalar,
                                                     int32_t device) = 0;
  virtual std::unique_ptr<Buffer> buffer_create_placeholder(
      DLDataType dtype, std::vector<int64_t> shape, int32_t device) = 0;
  // `buffer` holds data. The result's deleter must be non-NULL.
  virtual DLManagedTensor* buffer_to_host(Buffer& buffer) = 0;

  // `request.format` is one of the descriptor's graph_formats.
  virtual std::unique_ptr<Executable> compile(const CompileRequest& request) = 0;
  // Runs `executable` on `device`, the one it was compiled for. `arguments`
  // has executable.num_parameters() entries, each on `device` with data;
  // `results` has executable.num_results() empty slots to fill, each with
  // a buffer on `device`.
  // `donated` has one flag per argument (all false from a host older than
  // 2.1); a donated argument is no other argument's buffer, and the plugin
  // may reuse its memory for a result (not memory buffer_from_host
  // borrowed: that stays the host's). After a successful execute the
  // adapter treats donated arguments as holding no data. When execute
  // throws, a donated argument must hold its data unchanged, or report
  // has_data() false.
  virtual void execute(Executable& executable, int32_t device,
                       const std::vector<Buffer*>& arguments, const std::vector<bool>& donated,
                       std::vector<std::unique_ptr<Buffer>>& results) = 0;
  // The defaults suit a backend whose work is done when execute returns
  // and whose graphs draw no random numbers.
  virtual void synchronize(int32_t device);
  virtual void set_rng_seed(uint64_t seed);

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
  const char* vendor;
  const char* build;  // may be NULL
  // LTC_GRAPH_FORMAT_* names, most preferred first; at least one.
  std::vector<const char*> graph_formats;
  // "MAJOR.MINOR" of the LibTorch the plugin links; NULL for none.
  const char* libtorch_version;
  std::vector<OptionSpec> options;
  // NULL when always available. Else throws Error(LTC_ERROR_UNAVAILABLE,
  // why) when the plugin cannot run here; must not initialise a device.
  void (*check_available)();
  // Throws on failure; the host shows the message as "init failed: ...".
  std::unique_ptr<Client> (*create_client)(const ClientContext& context);
};

// The table for `descriptor`, built on the first call and the same on
// every call after (a function-local static). `descriptor` must have static
// storage, and every call must pass the same one.
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

// The first extension of `type` in the chain starting at `chain`, or NULL;
// extensions of other types are skipped, as the ABI asks of every reader.
const LtcExtensionBase* FindExtension(const LtcExtensionBase* chain, LtcExtensionType type);

}  // namespace ltc::plugin
