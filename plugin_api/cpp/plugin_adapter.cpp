#include <ltc/plugin_adapter.h>

#include <algorithm>
#include <exception>
#include <new>

// The concrete error object behind the opaque LtcError.
struct LtcError {
  LtcErrorCode code;
  std::string message;
};

namespace ltc::plugin {
namespace {

// One plugin per shared object: the adapter is linked statically into each.
const PluginDescriptor* g_descriptor = nullptr;

Client* AsClient(LtcClient* client) { return reinterpret_cast<Client*>(client); }
Buffer* AsBuffer(LtcBuffer* buffer) { return reinterpret_cast<Buffer*>(buffer); }
Executable* AsExecutable(LtcExecutable* executable) {
  return reinterpret_cast<Executable*>(executable);
}

// Runs `body`, turning every exception into an error object.
template <typename Body>
LtcError* Guard(Body&& body) noexcept {
  try {
    body();
    return nullptr;
  } catch (const Error& e) {
    return MakeError(e.code(), e.what());
  } catch (const std::bad_alloc& e) {
    return MakeError(LTC_ERROR_RESOURCE_EXHAUSTED, e.what());
  } catch (const std::exception& e) {
    return MakeError(LTC_ERROR_INTERNAL, e.what());
  } catch (...) {
    return MakeError(LTC_ERROR_UNKNOWN, "unknown exception in plugin");
  }
}

void CheckNotNull(const void* pointer, const char* what) {
  if (pointer == nullptr) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  }
}

LtcBuffer* Release(Client& client, std::unique_ptr<Buffer> buffer) {
  if (!buffer) throw Error(LTC_ERROR_INTERNAL, "plugin returned no buffer");
  ++client.live_buffers;
  return reinterpret_cast<LtcBuffer*>(buffer.release());
}

void ErrorDestroy(LtcError* error) { delete error; }
LtcErrorCode ErrorCode(const LtcError* error) { return error->code; }
const char* ErrorMessage(const LtcError* error) { return error->message.c_str(); }

LtcError* CheckAvailable() {
  return Guard([] {
    if (g_descriptor->check_available) g_descriptor->check_available();
  });
}

LtcError* ClientCreate(const LtcClientCreateArgs* args, LtcClient** out_client) {
  if (out_client) *out_client = nullptr;
  return Guard([&] {
    CheckNotNull(out_client, "out_client");
    CheckNotNull(args, "args");
    CheckStructSize(args->struct_size, LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE,
                    "LtcClientCreateArgs");
    std::unique_ptr<Client> client = g_descriptor->create_client(*args);
    if (!client) throw Error(LTC_ERROR_INTERNAL, "plugin returned no client");
    *out_client = reinterpret_cast<LtcClient*>(client.release());
  });
}

void ClientDestroy(LtcClient* client) { delete AsClient(client); }

LtcError* DeviceCount(LtcClient* client, int32_t* out_count) {
  if (out_count) *out_count = 0;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(out_count, "out_count");
    *out_count = AsClient(client)->device_count();
  });
}

LtcError* DeviceKind(LtcClient* client, const char** out_kind) {
  if (out_kind) *out_kind = nullptr;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(out_kind, "out_kind");
    *out_kind = AsClient(client)->device_kind();
  });
}

LtcError* EagerFallbackDevice(LtcClient* client, DLDeviceType* out_type) {
  if (out_type) *out_type = kDLCPU;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(out_type, "out_type");
    *out_type = AsClient(client)->eager_fallback_device();
  });
}

LtcError* BufferFromHost(LtcClient* client, DLManagedTensor* tensor,
                         int32_t device, LtcBuffer** out_buffer) {
  if (out_buffer) *out_buffer = nullptr;
  bool tensor_taken = false;
  LtcError* error = Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(tensor, "tensor");
    CheckNotNull(out_buffer, "out_buffer");
    Client& impl = *AsClient(client);
    CheckDeviceOrdinal(impl, device);
    tensor_taken = true;
    *out_buffer = Release(impl, impl.buffer_from_host(tensor, device));
  });
  // The ABI promises the deleter runs even when the call fails early.
  if (!tensor_taken && tensor != nullptr && tensor->deleter != nullptr) {
    tensor->deleter(tensor);
  }
  return error;
}

LtcError* BufferFromScalar(LtcClient* client, const LtcScalar* scalar,
                           int32_t device, LtcBuffer** out_buffer) {
  if (out_buffer) *out_buffer = nullptr;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(scalar, "scalar");
    CheckNotNull(out_buffer, "out_buffer");
    CheckStructSize(scalar->struct_size, LTC_SCALAR_STRUCT_SIZE, "LtcScalar");
    Client& impl = *AsClient(client);
    CheckDeviceOrdinal(impl, device);
    *out_buffer = Release(impl, impl.buffer_from_scalar(*scalar, device));
  });
}

LtcError* BufferCreatePlaceholder(LtcClient* client, DLDataType dtype,
                                  const int64_t* shape, int32_t ndim,
                                  int32_t device, LtcBuffer** out_buffer) {
  if (out_buffer) *out_buffer = nullptr;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(out_buffer, "out_buffer");
    if (ndim < 0) throw Error(LTC_ERROR_INVALID_ARGUMENT, "ndim is negative");
    if (ndim > 0) CheckNotNull(shape, "shape");
    Client& impl = *AsClient(client);
    CheckDeviceOrdinal(impl, device);
    std::vector<int64_t> extents(shape, shape + ndim);
    *out_buffer = Release(
        impl, impl.buffer_create_placeholder(dtype, std::move(extents), device));
  });
}

LtcError* BufferToHost(LtcClient* client, LtcBuffer* buffer,
                       DLManagedTensor** out_tensor) {
  if (out_tensor) *out_tensor = nullptr;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(buffer, "buffer");
    CheckNotNull(out_tensor, "out_tensor");
    Buffer& impl = *AsBuffer(buffer);
    if (!impl.has_data()) {
      throw Error(LTC_ERROR_FAILED_PRECONDITION,
                  "buffer is a placeholder with no data");
    }
    *out_tensor = AsClient(client)->buffer_to_host(impl);
  });
}

LtcError* BufferGetInfo(LtcClient* client, LtcBuffer* buffer,
                        LtcBufferInfo* info) {
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(buffer, "buffer");
    CheckNotNull(info, "info");
    CheckStructSize(info->struct_size, LTC_BUFFER_INFO_STRUCT_SIZE,
                    "LtcBufferInfo");
    const Buffer& impl = *AsBuffer(buffer);
    info->dtype = impl.dtype();
    info->device_ordinal = impl.device_ordinal();
    info->ndim = static_cast<int32_t>(impl.shape().size());
    info->shape = impl.shape().data();
    info->has_data = impl.has_data();
  });
}

void BufferDestroy(LtcClient* client, LtcBuffer* buffer) {
  if (buffer == nullptr) return;
  delete AsBuffer(buffer);
  --AsClient(client)->live_buffers;
}

LtcError* Compile(LtcClient* client, const LtcCompileArgs* args,
                  LtcExecutable** out_executable) {
  if (out_executable) *out_executable = nullptr;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(args, "args");
    CheckNotNull(out_executable, "out_executable");
    CheckStructSize(args->struct_size, LTC_COMPILE_ARGS_STRUCT_SIZE,
                    "LtcCompileArgs");
    CheckNotNull(args->format, "args->format");
    if (args->graph_size > 0) CheckNotNull(args->graph, "args->graph");
    Client& impl = *AsClient(client);
    CheckDeviceOrdinal(impl, args->device_ordinal);
    std::unique_ptr<Executable> executable = impl.compile(*args);
    if (!executable) throw Error(LTC_ERROR_INTERNAL, "plugin returned no executable");
    ++impl.live_executables;
    ++impl.compiles;
    *out_executable = reinterpret_cast<LtcExecutable*>(executable.release());
  });
}

LtcError* ExecutableNumParameters(LtcClient* client, LtcExecutable* executable,
                                  size_t* out_count) {
  if (out_count) *out_count = 0;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(executable, "executable");
    CheckNotNull(out_count, "out_count");
    *out_count = AsExecutable(executable)->num_parameters();
  });
}

LtcError* ExecutableNumResults(LtcClient* client, LtcExecutable* executable,
                               size_t* out_count) {
  if (out_count) *out_count = 0;
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(executable, "executable");
    CheckNotNull(out_count, "out_count");
    *out_count = AsExecutable(executable)->num_results();
  });
}

void ExecutableDestroy(LtcClient* client, LtcExecutable* executable) {
  if (executable == nullptr) return;
  delete AsExecutable(executable);
  --AsClient(client)->live_executables;
}

LtcError* Execute(LtcClient* client, const LtcExecuteArgs* args) {
  if (args != nullptr && args->struct_size >= LTC_EXECUTE_ARGS_STRUCT_SIZE &&
      args->out_results != nullptr) {
    std::fill(args->out_results, args->out_results + args->num_results, nullptr);
  }
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(args, "args");
    CheckStructSize(args->struct_size, LTC_EXECUTE_ARGS_STRUCT_SIZE,
                    "LtcExecuteArgs");
    CheckNotNull(args->executable, "args->executable");
    Client& impl = *AsClient(client);
    CheckDeviceOrdinal(impl, args->device_ordinal);
    Executable& executable = *AsExecutable(args->executable);
    if (args->num_arguments != executable.num_parameters()) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT,
                  "executable takes " + std::to_string(executable.num_parameters()) +
                      " arguments, got " + std::to_string(args->num_arguments));
    }
    if (args->num_results != executable.num_results()) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT,
                  "executable has " + std::to_string(executable.num_results()) +
                      " results, caller expects " + std::to_string(args->num_results));
    }
    if (args->num_arguments > 0) CheckNotNull(args->arguments, "args->arguments");
    if (args->num_results > 0) CheckNotNull(args->out_results, "args->out_results");
    std::vector<Buffer*> arguments(args->num_arguments);
    for (size_t i = 0; i < args->num_arguments; ++i) {
      CheckNotNull(args->arguments[i], "an argument buffer");
      arguments[i] = AsBuffer(args->arguments[i]);
      if (!arguments[i]->has_data()) {
        throw Error(LTC_ERROR_FAILED_PRECONDITION,
                    "argument " + std::to_string(i) + " is a placeholder with no data");
      }
    }
    std::vector<std::unique_ptr<Buffer>> results(args->num_results);
    impl.execute(executable, args->device_ordinal, arguments, results);
    for (const auto& result : results) {
      if (!result) throw Error(LTC_ERROR_INTERNAL, "plugin left a result unset");
    }
    for (size_t i = 0; i < results.size(); ++i) {
      args->out_results[i] = Release(impl, std::move(results[i]));
    }
    ++impl.executes;
  });
}

LtcError* Synchronize(LtcClient* client, int32_t device) {
  return Guard([&] {
    CheckNotNull(client, "client");
    Client& impl = *AsClient(client);
    CheckDeviceOrdinal(impl, device);
    impl.synchronize(device);
  });
}

LtcError* SetRngSeed(LtcClient* client, uint64_t seed) {
  return Guard([&] {
    CheckNotNull(client, "client");
    AsClient(client)->set_rng_seed(seed);
  });
}

LtcError* GetStats(LtcClient* client, LtcClientStats* stats) {
  return Guard([&] {
    CheckNotNull(client, "client");
    CheckNotNull(stats, "stats");
    CheckStructSize(stats->struct_size, LTC_CLIENT_STATS_STRUCT_SIZE,
                    "LtcClientStats");
    const Client& impl = *AsClient(client);
    stats->live_buffers = impl.live_buffers;
    stats->live_executables = impl.live_executables;
    stats->compiles = impl.compiles;
    stats->executes = impl.executes;
  });
}

}  // namespace

LtcError* MakeError(LtcErrorCode code, const std::string& message) {
  return new LtcError{code, message};
}

void CheckStructSize(size_t struct_size, size_t required, const char* what) {
  if (struct_size < required) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                std::string(what) + ".struct_size is " + std::to_string(struct_size) +
                    ", at least " + std::to_string(required) + " is required");
  }
}

void CheckDeviceOrdinal(Client& client, int32_t device) {
  const int32_t count = client.device_count();
  if (device < 0 || device >= count) {
    throw Error(LTC_ERROR_OUT_OF_RANGE,
                "device ordinal " + std::to_string(device) + " is not in [0, " +
                    std::to_string(count) + ")");
  }
}

const LtcPluginApi* MakePluginApi(const PluginDescriptor& descriptor) {
  static LtcPluginApi api = [] {
    LtcPluginApi table{};
    table.struct_size = LTC_PLUGIN_API_STRUCT_SIZE;
    table.abi_major = LTC_PLUGIN_ABI_MAJOR;
    table.abi_minor = LTC_PLUGIN_ABI_MINOR;
    table.error_destroy = ErrorDestroy;
    table.error_code = ErrorCode;
    table.error_message = ErrorMessage;
    table.plugin_check_available = CheckAvailable;
    table.client_create = ClientCreate;
    table.client_destroy = ClientDestroy;
    table.client_device_count = DeviceCount;
    table.client_device_kind = DeviceKind;
    table.client_eager_fallback_device = EagerFallbackDevice;
    table.buffer_from_host = BufferFromHost;
    table.buffer_from_scalar = BufferFromScalar;
    table.buffer_create_placeholder = BufferCreatePlaceholder;
    table.buffer_to_host = BufferToHost;
    table.buffer_get_info = BufferGetInfo;
    table.buffer_destroy = BufferDestroy;
    table.compile = Compile;
    table.executable_num_parameters = ExecutableNumParameters;
    table.executable_num_results = ExecutableNumResults;
    table.executable_destroy = ExecutableDestroy;
    table.execute = Execute;
    table.synchronize = Synchronize;
    table.set_rng_seed = SetRngSeed;
    table.client_get_stats = GetStats;
    return table;
  }();
  g_descriptor = &descriptor;
  api.name = descriptor.name;
  api.version = descriptor.version;
  api.description = descriptor.description;
  return &api;
}

}  // namespace ltc::plugin
