// The typed client: one method per slot, RAII handles, errors that name the
// plugin and the call.
#include <ltc/plugin_client.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "internal.h"

namespace ltc {
namespace {

using loader_internal::CallSlot;
using loader_internal::Log;
using loader_internal::NewArgs;

spdlog::level::level_enum ToSpdlog(LtcLogLevel level) {
  switch (level) {
    case LTC_LOG_TRACE:
      return spdlog::level::trace;
    case LTC_LOG_DEBUG:
      return spdlog::level::debug;
    case LTC_LOG_INFO:
      return spdlog::level::info;
    case LTC_LOG_WARN:
      return spdlog::level::warn;
    default:
      return spdlog::level::err;
  }
}

std::string OptionText(const OptionValue& value) {
  struct Text {
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return fmt::format("{}", v); }
    std::string operator()(const std::string& v) const { return "'" + v + "'"; }
  };
  return std::visit(Text{}, value);
}

// The options as client_create reads them; valid while `options` is.
class NamedValues {
 public:
  explicit NamedValues(const ClientOptions& options) {
    values_.reserve(options.size());
    for (const auto& [name, value] : options) {
      LtcNamedValue& named = values_.emplace_back();
      named = NewArgs<LtcNamedValue>(LTC_NAMED_VALUE_STRUCT_SIZE);
      named.name = name.c_str();
      if (const bool* b = std::get_if<bool>(&value)) {
        named.type = LTC_VALUE_BOOL;
        named.bool_value = *b;
      } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
        named.type = LTC_VALUE_INT64;
        named.int64_value = *i;
      } else if (const double* d = std::get_if<double>(&value)) {
        named.type = LTC_VALUE_DOUBLE;
        named.double_value = *d;
      } else {
        named.type = LTC_VALUE_STRING;
        named.string_value = std::get<std::string>(value).c_str();
      }
    }
    for (const LtcNamedValue& named : values_) pointers_.push_back(&named);
  }
  const LtcNamedValue* const* data() const { return pointers_.data(); }
  size_t size() const { return pointers_.size(); }

 private:
  std::vector<LtcNamedValue> values_;
  std::vector<const LtcNamedValue*> pointers_;
};

}  // namespace

std::string ErrorCodeName(LtcErrorCode code) {
  switch (code) {
    case LTC_ERROR_CANCELLED: return "CANCELLED";
    case LTC_ERROR_UNKNOWN: return "UNKNOWN";
    case LTC_ERROR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case LTC_ERROR_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case LTC_ERROR_NOT_FOUND: return "NOT_FOUND";
    case LTC_ERROR_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case LTC_ERROR_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case LTC_ERROR_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case LTC_ERROR_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case LTC_ERROR_ABORTED: return "ABORTED";
    case LTC_ERROR_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case LTC_ERROR_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case LTC_ERROR_INTERNAL: return "INTERNAL";
    case LTC_ERROR_UNAVAILABLE: return "UNAVAILABLE";
    case LTC_ERROR_DATA_LOSS: return "DATA_LOSS";
    case LTC_ERROR_UNAUTHENTICATED: return "UNAUTHENTICATED";
  }
  return "CODE_" + std::to_string(static_cast<int>(code));
}

PluginError::PluginError(std::string plugin, std::string call, LtcErrorCode code,
                         std::string message)
    : std::runtime_error(plugin + ": " + call + ": " + ErrorCodeName(code) + ": " + message),
      plugin_(std::move(plugin)),
      call_(std::move(call)),
      code_(code),
      message_(std::move(message)) {}

std::string DescribeOptions(const ClientOptions& options) {
  std::string text;
  for (const auto& [name, value] : options) {
    text += (text.empty() ? "" : ", ") + name + "=" + OptionText(value);
  }
  return text.empty() ? "no options" : text;
}

namespace loader_internal {

void ThrowEscaped(const std::string& plugin, const char* call) {
  std::string what = "an exception that is not a std::exception";
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  throw PluginError(plugin, call, LTC_ERROR_INTERNAL,
                    "broke the ABI's contract: threw a C++ exception through the C ABI instead "
                    "of returning an error (" + what + ")");
}

}  // namespace loader_internal

void DLManagedTensorDeleter::operator()(DLManagedTensor* tensor) const {
  if (tensor != nullptr && tensor->deleter != nullptr) tensor->deleter(tensor);
}

// --- Handles -----------------------------------------------------------------

template <typename Args>
void PluginClient::Invoke(const char* call, LtcError* (*slot)(Args*), Args* args) const {
  Check(call, CallSlot(name(), call, slot, args));
}

template <typename Args>
void PluginClient::WarnOnError(const char* call, LtcError* (*slot)(Args*), Args* args) const {
  try {
    Check(call, CallSlot(name(), call, slot, args));
  } catch (const PluginError& e) {
    Log().warn("{}", e.what());
  }
}


Buffer::Buffer(Buffer&& other) noexcept
    : client_(other.client_), handle_(std::exchange(other.handle_, nullptr)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    Reset();
    client_ = other.client_;
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

void Buffer::Reset() {
  if (handle_ != nullptr) client_->Destroy(std::exchange(handle_, nullptr));
}

Executable::Executable(const PluginClient& client, LtcExecutable* handle)
    : client_(&client), handle_(handle) {
  auto args = NewArgs<LtcExecutableGetInfoArgs>(LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE);
  args.client = client.get();
  args.executable = handle;
  // Owned from here: a failure below destroys it.
  try {
    client.Invoke("executable_get_info", client.plugin().api().executable_get_info, &args);
  } catch (...) {
    Reset();
    throw;
  }
  num_parameters_ = args.out_num_parameters;
  num_results_ = args.out_num_results;
  device_ordinal_ = args.out_device_ordinal;
}

Executable::Executable(Executable&& other) noexcept { *this = std::move(other); }

Executable& Executable::operator=(Executable&& other) noexcept {
  if (this != &other) {
    Reset();
    client_ = other.client_;
    handle_ = std::exchange(other.handle_, nullptr);
    num_parameters_ = other.num_parameters_;
    num_results_ = other.num_results_;
    device_ordinal_ = other.device_ordinal_;
  }
  return *this;
}

void Executable::Reset() {
  if (handle_ != nullptr) client_->Destroy(std::exchange(handle_, nullptr));
}

// --- Host services -----------------------------------------------------------

// What the plugin calls back into; lives as long as the client.
struct PluginClient::Services {
  std::string plugin_name;
  const Tracer* tracer;
  LtcHostServices table;

  Services(std::string name, const Tracer* tracer_) : plugin_name(std::move(name)), tracer(tracer_) {
    table = NewArgs<LtcHostServices>(LTC_HOST_SERVICES_STRUCT_SIZE);
    table.context = this;
    table.log_is_enabled = [](void*, LtcLogLevel level) {
      return Log().should_log(ToSpdlog(level));
    };
    table.log = [](void* context, LtcLogLevel level, const char* message) {
      const auto* self = static_cast<const Services*>(context);
      Log().log(ToSpdlog(level), "{}: {}", self->plugin_name, message != nullptr ? message : "");
    };
    table.trace_begin = [](void* context, const char* name) -> void* {
      const auto* self = static_cast<const Services*>(context);
      return self->tracer != nullptr && name != nullptr ? self->tracer->Begin(name) : nullptr;
    };
    table.trace_end = [](void* context, void* token) {
      const auto* self = static_cast<const Services*>(context);
      if (token != nullptr && self->tracer != nullptr) self->tracer->End(token);
    };
  }
};

// --- The client --------------------------------------------------------------

PluginClient::PluginClient(std::shared_ptr<Plugin> plugin, ClientConfig config)
    : plugin_(std::move(plugin)),
      config_(std::move(config)),
      services_(std::make_unique<Services>(plugin_->name(), config_.tracer)) {
  const NamedValues options(config_.options);
  auto create = NewArgs<LtcClientCreateArgs>(LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE);
  create.host_abi_major = LTC_PLUGIN_ABI_MAJOR;
  create.host_abi_minor = LTC_PLUGIN_ABI_MINOR;
  create.plugin_name = plugin_->name().c_str();
  create.options = options.data();
  create.num_options = options.size();
  create.host_services = &services_->table;
  Invoke("client_create", plugin_->api().client_create, &create);
  if (create.out_client == nullptr) {
    throw PluginError(name(), "client_create", LTC_ERROR_INTERNAL,
                      "succeeded but returned no client");
  }
  client_ = create.out_client;

  auto info = NewArgs<LtcClientGetInfoArgs>(LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE);
  info.client = client_;
  info.out_eager_fallback_device = kDLCPU;
  try {
    Invoke("client_get_info", plugin_->api().client_get_info, &info);
    if (info.out_device_count <= 0) {
      throw PluginError(name(), "client_get_info", LTC_ERROR_INTERNAL,
                        "reports " + std::to_string(info.out_device_count) + " devices");
    }
  } catch (...) {
    auto destroy = NewArgs<LtcClientDestroyArgs>(LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE);
    destroy.client = client_;
    plugin_->api().client_destroy(&destroy);
    throw;
  }
  device_count_ = info.out_device_count;
  eager_fallback_device_ = info.out_eager_fallback_device;
}

PluginClient::~PluginClient() {
  auto args = NewArgs<LtcClientDestroyArgs>(LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE);
  args.client = client_;
  WarnOnError("client_destroy", plugin_->api().client_destroy, &args);
}


DeviceInfo PluginClient::device_info(int32_t device) const {
  auto args = NewArgs<LtcClientGetDeviceInfoArgs>(LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.device_ordinal = device;
  Invoke("client_get_device_info", plugin_->api().client_get_device_info, &args);
  DeviceInfo info;
  if (args.out_kind != nullptr) info.kind = args.out_kind;
  if (args.out_name != nullptr) info.name = args.out_name;
  info.memory_bytes = args.out_memory_bytes;
  return info;
}

namespace {

// What makes `t` unusable as buffer_to_host's result, or "".
std::string MalformedHostTensor(const DLTensor& t) {
  if (t.ndim < 0) return "ndim is " + std::to_string(t.ndim);
  if (t.ndim > 0 && t.shape == nullptr) return "shape is NULL for ndim " + std::to_string(t.ndim);
  if (t.device.device_type != kDLCPU && t.device.device_type != kDLCUDAHost) {
    return "it is not in host memory (DLPack device type " +
           std::to_string(static_cast<int>(t.device.device_type)) + ")";
  }
  if (t.dtype.lanes != 1 || t.dtype.bits == 0 || t.dtype.bits % 8 != 0) {
    return "dtype has " + std::to_string(t.dtype.bits) + " bits and " +
           std::to_string(t.dtype.lanes) + " lanes";
  }
  int64_t elements = 1;
  for (int32_t i = 0; i < t.ndim; ++i) {
    if (t.shape[i] < 0) return "extent " + std::to_string(i) + " is negative";
    elements *= t.shape[i];
  }
  if (elements > 0 && t.data == nullptr) return "data is NULL";
  return {};
}

// The new buffer of a call that succeeded, owned at once.
Buffer Owned(const PluginClient& client, const char* call, LtcBuffer* handle) {
  if (handle == nullptr) {
    throw PluginError(client.name(), call, LTC_ERROR_INTERNAL, "succeeded but returned no buffer");
  }
  return Buffer(client, handle);
}

}  // namespace

Buffer PluginClient::BufferFromHost(DLManagedTensorPtr tensor, int32_t device) const {
  auto args = NewArgs<LtcBufferFromHostArgs>(LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.tensor = tensor.release();
  args.device_ordinal = device;
  Invoke("buffer_from_host", plugin_->api().buffer_from_host, &args);
  return Owned(*this, "buffer_from_host", args.out_buffer);
}

Buffer PluginClient::BufferFromScalar(DLDataType dtype, int64_t int64_value, double double_value,
                                      int32_t device) const {
  auto args = NewArgs<LtcBufferFromScalarArgs>(LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.dtype = dtype;
  args.int64_value = int64_value;
  args.double_value = double_value;
  args.device_ordinal = device;
  Invoke("buffer_from_scalar", plugin_->api().buffer_from_scalar, &args);
  return Owned(*this, "buffer_from_scalar", args.out_buffer);
}

Buffer PluginClient::CreatePlaceholder(DLDataType dtype, const std::vector<int64_t>& shape,
                                       int32_t device) const {
  auto args =
      NewArgs<LtcBufferCreatePlaceholderArgs>(LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.dtype = dtype;
  args.shape = shape.data();
  args.ndim = static_cast<int32_t>(shape.size());
  args.device_ordinal = device;
  Invoke("buffer_create_placeholder", plugin_->api().buffer_create_placeholder, &args);
  return Owned(*this, "buffer_create_placeholder", args.out_buffer);
}

DLManagedTensorPtr PluginClient::ToHost(LtcBuffer* buffer) const {
  auto args = NewArgs<LtcBufferToHostArgs>(LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.buffer = buffer;
  Invoke("buffer_to_host", plugin_->api().buffer_to_host, &args);
  DLManagedTensorPtr tensor(args.out_tensor);
  if (!tensor) {
    throw PluginError(name(), "buffer_to_host", LTC_ERROR_INTERNAL,
                      "succeeded but returned no tensor");
  }
  if (tensor->deleter == nullptr) {
    // Nothing can free it; the host can only leave it.
    (void)tensor.release();
    throw PluginError(name(), "buffer_to_host", LTC_ERROR_INTERNAL,
                      "returned a tensor with no deleter");
  }
  const std::string malformed = MalformedHostTensor(tensor->dl_tensor);
  if (!malformed.empty()) {
    throw PluginError(name(), "buffer_to_host", LTC_ERROR_INTERNAL,
                      "returned a malformed DLPack tensor: " + malformed);
  }
  return tensor;
}

BufferInfo PluginClient::Info(LtcBuffer* buffer) const {
  auto args = NewArgs<LtcBufferGetInfoArgs>(LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.buffer = buffer;
  Invoke("buffer_get_info", plugin_->api().buffer_get_info, &args);
  if (args.out_ndim < 0 || (args.out_ndim > 0 && args.out_shape == nullptr)) {
    throw PluginError(name(), "buffer_get_info", LTC_ERROR_INTERNAL,
                      "returned " + std::to_string(args.out_ndim) + " dimensions without a shape");
  }
  BufferInfo info;
  info.dtype = args.out_dtype;
  info.device_ordinal = args.out_device_ordinal;
  info.shape.assign(args.out_shape, args.out_shape + args.out_ndim);
  info.has_data = args.out_has_data;
  return info;
}

Executable PluginClient::Compile(std::string_view format, std::string_view graph,
                                 const std::string& cache_key, int32_t device) const {
  const std::string format_text(format);
  auto args = NewArgs<LtcClientCompileArgs>(LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.format = format_text.c_str();
  args.graph = graph.data();
  args.graph_size = graph.size();
  args.cache_key = cache_key.empty() ? nullptr : cache_key.c_str();
  args.device_ordinal = device;
  Invoke("compile", plugin_->api().client_compile, &args);
  if (args.out_executable == nullptr) {
    throw PluginError(name(), "compile", LTC_ERROR_INTERNAL, "succeeded but returned no executable");
  }
  return Executable(*this, args.out_executable);
}

std::vector<Buffer> PluginClient::Execute(const Executable& executable,
                                          const std::vector<LtcBuffer*>& arguments,
                                          const std::vector<bool>& donated) const {
  if (!donated.empty() && donated.size() != arguments.size()) {
    throw std::invalid_argument("Execute: " + std::to_string(donated.size()) +
                                " donation flags for " + std::to_string(arguments.size()) +
                                " arguments");
  }
  std::vector<LtcBuffer*> results(executable.num_results(), nullptr);
  // bool[] as the ABI takes it (std::vector<bool> has no data()).
  const std::unique_ptr<bool[]> flags =
      donated.empty() ? nullptr : std::make_unique<bool[]>(donated.size());
  std::copy(donated.begin(), donated.end(), flags.get());
  auto args = NewArgs<LtcExecutableExecuteArgs>(LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.executable = executable.get();
  args.arguments = arguments.data();
  args.num_arguments = arguments.size();
  args.out_results = results.data();
  args.num_results = results.size();
  args.donated_arguments = flags.get();
  Invoke("execute", plugin_->api().executable_execute, &args);
  // Own every result before judging any, so none leaks.
  std::vector<Buffer> owned;
  owned.reserve(results.size());
  for (LtcBuffer* result : results) owned.emplace_back(*this, result);
  for (size_t i = 0; i < owned.size(); ++i) {
    if (!owned[i]) {
      throw PluginError(name(), "execute", LTC_ERROR_INTERNAL,
                        "succeeded but left result " + std::to_string(i) + " of " +
                            std::to_string(owned.size()) + " unset");
    }
  }
  return owned;
}

void PluginClient::Synchronize(int32_t device) const {
  if (!plugin_->HasSlot(offsetof(LtcPluginApi, client_synchronize))) return;
  auto args = NewArgs<LtcClientSynchronizeArgs>(LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.device_ordinal = device;
  Invoke("client_synchronize", plugin_->api().client_synchronize, &args);
}

void PluginClient::SetRngSeed(uint64_t seed) const {
  if (!plugin_->HasSlot(offsetof(LtcPluginApi, client_set_rng_seed))) return;
  auto args = NewArgs<LtcClientSetRngSeedArgs>(LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.seed = seed;
  Invoke("client_set_rng_seed", plugin_->api().client_set_rng_seed, &args);
}

std::optional<ClientStats> PluginClient::Stats() const {
  if (!plugin_->HasSlot(offsetof(LtcPluginApi, client_get_stats))) return std::nullopt;
  auto args = NewArgs<LtcClientGetStatsArgs>(LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE);
  args.client = client_;
  Invoke("client_get_stats", plugin_->api().client_get_stats, &args);
  return ClientStats{args.out_live_buffers, args.out_live_executables, args.out_compiles,
                     args.out_executes};
}

void PluginClient::Destroy(LtcBuffer* buffer) const {
  auto args = NewArgs<LtcBufferDestroyArgs>(LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.buffer = buffer;
  WarnOnError("buffer_destroy", plugin_->api().buffer_destroy, &args);
}

void PluginClient::Destroy(LtcExecutable* executable) const {
  auto args = NewArgs<LtcExecutableDestroyArgs>(LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE);
  args.client = client_;
  args.executable = executable;
  WarnOnError("executable_destroy", plugin_->api().executable_destroy, &args);
}

}  // namespace ltc
