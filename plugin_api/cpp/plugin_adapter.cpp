#include <ltc/plugin_adapter.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <utility>

// The objects behind the ABI's opaque handles.

struct LtcError {
  LtcErrorCode code;
  std::string message;
};

struct LtcClient {
  LtcClient(const LtcHostServices* services, const std::string& plugin_name,
            ltc::plugin::Options options)
      : host(services, plugin_name), options(std::move(options)) {}

  // Declared before `impl`, which holds references to them: they outlive it.
  ltc::plugin::Host host;
  ltc::plugin::Options options;
  std::unique_ptr<ltc::plugin::Client> impl;
  int32_t device_count = 0;  // constant for the client's life; checked >= 1
  // client_get_device_info's strings must live until client_destroy: each
  // device's info is asked for once, then kept. Sized once, never resized.
  std::mutex devices_mutex;
  std::vector<std::optional<ltc::plugin::DeviceInfo>> devices;
};

struct LtcBuffer {
  std::unique_ptr<ltc::plugin::Buffer> impl;
  // Set by a successful execute that donated it (since 2.1): it holds no
  // data from then on, whatever the plugin did with its memory.
  bool donated = false;

  bool has_data() const { return !donated && impl->has_data(); }
};

struct LtcExecutable {
  std::unique_ptr<ltc::plugin::Executable> impl;
  int32_t device_ordinal;  // the device it was compiled for, and runs on
};

namespace ltc::plugin {
namespace {

// The adapter is linked statically into each plugin: one descriptor per
// shared object, set once when the table is built, before any slot runs.
const PluginDescriptor* g_descriptor = nullptr;

// What a failed call returns when not even its error can be allocated.
// Never freed.
LtcError g_out_of_memory{LTC_ERROR_RESOURCE_EXHAUSTED, "out of memory"};

LtcError* NewError(LtcErrorCode code, const char* message) noexcept {
  // 0 and unknown values would break the host's switch over codes.
  if (code < LTC_ERROR_CANCELLED || code > LTC_ERROR_UNAUTHENTICATED) {
    code = LTC_ERROR_UNKNOWN;
  }
  try {
    return new LtcError{code, message};
  } catch (...) {
    return &g_out_of_memory;
  }
}

// Runs `body`, turning every exception into an error object.
template <typename Body>
LtcError* Guard(Body&& body) noexcept {
  try {
    body();
    return nullptr;
  } catch (const Error& e) {
    return NewError(e.code(), e.what());
  } catch (const std::bad_alloc& e) {
    return NewError(LTC_ERROR_RESOURCE_EXHAUSTED, e.what());
  } catch (const std::exception& e) {
    return NewError(LTC_ERROR_INTERNAL, e.what());
  } catch (...) {
    return NewError(LTC_ERROR_UNKNOWN, "unknown exception in plugin");
  }
}

[[noreturn]] void Fail(LtcErrorCode code, const std::string& message) {
  throw Error(code, message);
}

void CheckStructSize(size_t struct_size, size_t required, const char* type) {
  if (struct_size < required) {
    Fail(LTC_ERROR_INVALID_ARGUMENT, std::string(type) + ".struct_size is " +
                                         std::to_string(struct_size) + ", at least " +
                                         std::to_string(required) + " is required");
  }
}

template <typename T>
T* NotNull(T* pointer, const char* what) {
  if (pointer == nullptr) Fail(LTC_ERROR_INVALID_ARGUMENT, std::string(what) + " is NULL");
  return pointer;
}

template <typename T>
T& Deref(T* pointer, const char* what) {
  return *NotNull(pointer, what);
}

void CheckDevice(const LtcClient& client, int32_t device) {
  if (device < 0 || device >= client.device_count) {
    Fail(LTC_ERROR_OUT_OF_RANGE, "device ordinal " + std::to_string(device) +
                                     " is not in [0, " +
                                     std::to_string(client.device_count) + ")");
  }
}

std::string PluginName() { return g_descriptor->name; }

// The struct-size rules (plugin_api.h, "Versioning"). A struct is read only
// through its named fields, never as a whole: its writer may be built
// against an older header and have written fewer bytes than sizeof. Every
// field of 2.0 lies inside the _2_0 size that each args struct is checked
// against. A field appended later is read only where
// LTC_STRUCT_HAS_FIELD(type, args.struct_size, field) holds, else it takes
// the default its comment documents; every out_ field is written through
// LTC_PUT, which skips fields past the writer's struct_size.
#define LTC_PUT(args, field, value)                                                      \
  do {                                                                                   \
    if (LTC_STRUCT_HAS_FIELD(std::remove_reference_t<decltype(args)>, (args).struct_size, \
                             field)) {                                                   \
      (args).field = (value);                                                            \
    }                                                                                    \
  } while (0)

template <typename Args>
struct ArgsInfo;  // each args struct's name and its size in 2.0
#define LTC_ARGS_INFO(type, size_2_0)               \
  template <>                                       \
  struct ArgsInfo<type> {                           \
    static constexpr const char* kName = #type;     \
    static constexpr size_t kMinSize = size_2_0;    \
  };
LTC_ARGS_INFO(LtcPluginGetAttributesArgs, LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcPluginCheckAvailableArgs, LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientCreateArgs, LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientDestroyArgs, LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientGetInfoArgs, LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientGetDeviceInfoArgs, LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientSynchronizeArgs, LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientSetRngSeedArgs, LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientGetStatsArgs, LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcBufferFromHostArgs, LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcBufferFromScalarArgs, LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcBufferCreatePlaceholderArgs,
              LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcBufferToHostArgs, LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcBufferGetInfoArgs, LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcBufferDestroyArgs, LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcClientCompileArgs, LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcExecutableGetInfoArgs, LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcExecutableExecuteArgs, LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0)
LTC_ARGS_INFO(LtcExecutableDestroyArgs, LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE_2_0)
#undef LTC_ARGS_INFO

// Sets every out_ field to the default plugin_api.h documents; structs
// without out_ fields take the template.
template <typename Args>
void ResetOutputs(Args&) {}
void ResetOutputs(LtcPluginGetAttributesArgs& a) {
  LTC_PUT(a, out_name, nullptr);
  LTC_PUT(a, out_version, nullptr);
  LTC_PUT(a, out_description, nullptr);
  LTC_PUT(a, out_vendor, nullptr);
  LTC_PUT(a, out_build, nullptr);
  LTC_PUT(a, out_graph_formats, nullptr);
  LTC_PUT(a, out_num_graph_formats, 0);
  LTC_PUT(a, out_libtorch_version, nullptr);
}
void ResetOutputs(LtcClientCreateArgs& a) { LTC_PUT(a, out_client, nullptr); }
void ResetOutputs(LtcClientGetInfoArgs& a) {
  LTC_PUT(a, out_device_count, 0);
  LTC_PUT(a, out_eager_fallback_device, kDLCPU);
}
void ResetOutputs(LtcClientGetDeviceInfoArgs& a) {
  LTC_PUT(a, out_kind, nullptr);
  LTC_PUT(a, out_name, nullptr);
  LTC_PUT(a, out_memory_bytes, 0);
}
void ResetOutputs(LtcClientGetStatsArgs& a) {
  LTC_PUT(a, out_live_buffers, 0);
  LTC_PUT(a, out_live_executables, 0);
  LTC_PUT(a, out_compiles, 0);
  LTC_PUT(a, out_executes, 0);
}
void ResetOutputs(LtcBufferFromHostArgs& a) { LTC_PUT(a, out_buffer, nullptr); }
void ResetOutputs(LtcBufferFromScalarArgs& a) { LTC_PUT(a, out_buffer, nullptr); }
void ResetOutputs(LtcBufferCreatePlaceholderArgs& a) { LTC_PUT(a, out_buffer, nullptr); }
void ResetOutputs(LtcBufferToHostArgs& a) { LTC_PUT(a, out_tensor, nullptr); }
void ResetOutputs(LtcBufferGetInfoArgs& a) {
  LTC_PUT(a, out_dtype, DLDataType{});
  LTC_PUT(a, out_device_ordinal, 0);
  LTC_PUT(a, out_ndim, 0);
  LTC_PUT(a, out_shape, nullptr);
  LTC_PUT(a, out_has_data, false);
}
void ResetOutputs(LtcClientCompileArgs& a) { LTC_PUT(a, out_executable, nullptr); }
void ResetOutputs(LtcExecutableGetInfoArgs& a) {
  LTC_PUT(a, out_num_parameters, 0);
  LTC_PUT(a, out_num_results, 0);
  LTC_PUT(a, out_device_ordinal, 0);
}
void ResetOutputs(LtcExecutableExecuteArgs& a) {
  // The array is the caller's, of num_results entries.
  if (a.out_results != nullptr) std::fill_n(a.out_results, a.num_results, nullptr);
}

// Every slot that returns an error: checks `args` and its struct_size, sets
// its out_ fields to their defaults, then runs `body(args)` under Guard.
// Bodies write their out_ fields last, after everything that can throw, so
// on failure the outputs are still the defaults.
template <typename Args, typename Body>
LtcError* Slot(Args* args, Body&& body) noexcept {
  return Guard([&] {
    Args& checked = Deref(args, ArgsInfo<Args>::kName);
    CheckStructSize(checked.struct_size, ArgsInfo<Args>::kMinSize, ArgsInfo<Args>::kName);
    ResetOutputs(checked);
    body(checked);
  });
}

LtcBuffer* AdoptBuffer(LtcClient& client, std::unique_ptr<Buffer> buffer) {
  if (buffer == nullptr) Fail(LTC_ERROR_INTERNAL, PluginName() + " returned no buffer");
  auto* handle = new LtcBuffer{std::move(buffer)};
  ++client.impl->live_buffers;
  return handle;
}

// -- Errors: these slots cannot report failure, so they do nothing with
//    arguments they cannot read.

void ErrorDestroy(LtcErrorDestroyArgs* args) {
  if (args == nullptr || args->struct_size < LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE_2_0) return;
  if (args->error != &g_out_of_memory) delete args->error;
}

void ErrorGetCode(LtcErrorGetCodeArgs* args) {
  if (args == nullptr || args->struct_size < LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE_2_0) return;
  LTC_PUT(*args, out_code, LTC_ERROR_UNKNOWN);
  if (args->error != nullptr) LTC_PUT(*args, out_code, args->error->code);
}

void ErrorGetMessage(LtcErrorGetMessageArgs* args) {
  if (args == nullptr || args->struct_size < LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE_2_0) {
    return;
  }
  LTC_PUT(*args, out_message, nullptr);
  LTC_PUT(*args, out_message_size, 0);
  if (args->error == nullptr) return;
  LTC_PUT(*args, out_message, args->error->message.c_str());
  LTC_PUT(*args, out_message_size, args->error->message.size());
}

// -- The plugin.

LtcError* PluginGetAttributes(LtcPluginGetAttributesArgs* args) {
  return Slot(args, [](LtcPluginGetAttributesArgs& a) {
    const PluginDescriptor& d = *g_descriptor;
    LTC_PUT(a, out_name, d.name);
    LTC_PUT(a, out_version, d.version);
    LTC_PUT(a, out_description, d.description);
    LTC_PUT(a, out_vendor, d.vendor);
    LTC_PUT(a, out_build, d.build);
    LTC_PUT(a, out_graph_formats, d.graph_formats.data());
    LTC_PUT(a, out_num_graph_formats, d.graph_formats.size());
    LTC_PUT(a, out_libtorch_version, d.libtorch_version);
  });
}

LtcError* PluginCheckAvailable(LtcPluginCheckAvailableArgs* args) {
  return Slot(args, [](LtcPluginCheckAvailableArgs&) { g_descriptor->check_available(); });
}

// -- Clients.

LtcError* ClientCreate(LtcClientCreateArgs* args) {
  return Slot(args, [](LtcClientCreateArgs& a) {
    const PluginDescriptor& d = *g_descriptor;
    if (a.host_abi_major != LTC_PLUGIN_ABI_MAJOR) {
      Fail(LTC_ERROR_INVALID_ARGUMENT,
           "the host speaks ABI " + std::to_string(a.host_abi_major) + "." +
               std::to_string(a.host_abi_minor) + ", " + d.name + " speaks " +
               std::to_string(LTC_PLUGIN_ABI_MAJOR) + "." +
               std::to_string(LTC_PLUGIN_ABI_MINOR));
    }
    const std::string name = a.plugin_name != nullptr ? a.plugin_name : d.name;
    auto client = std::make_unique<LtcClient>(
        a.host_services, name, Options(a.options, a.num_options, d.options, name));
    const ClientContext context{
        client->options, client->host, LTC_PLUGIN_ABI_MAJOR,
        std::min<uint32_t>(a.host_abi_minor, LTC_PLUGIN_ABI_MINOR)};
    client->impl = d.create_client(context);
    if (client->impl == nullptr) Fail(LTC_ERROR_INTERNAL, name + " created no client");
    client->device_count = client->impl->device_count();
    if (client->device_count < 1) {
      Fail(LTC_ERROR_INTERNAL, name + " has " + std::to_string(client->device_count) +
                                   " devices, at least 1 is required");
    }
    client->devices.resize(static_cast<size_t>(client->device_count));
    LTC_PUT(a, out_client, client.release());
  });
}

LtcError* ClientDestroy(LtcClientDestroyArgs* args) {
  return Slot(args, [](LtcClientDestroyArgs& a) { delete a.client; });
}

LtcError* ClientGetInfo(LtcClientGetInfoArgs* args) {
  return Slot(args, [](LtcClientGetInfoArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    const DLDeviceType fallback = client.impl->eager_fallback_device();
    LTC_PUT(a, out_device_count, client.device_count);
    LTC_PUT(a, out_eager_fallback_device, fallback);
  });
}

LtcError* ClientGetDeviceInfo(LtcClientGetDeviceInfoArgs* args) {
  return Slot(args, [](LtcClientGetDeviceInfoArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    CheckDevice(client, a.device_ordinal);
    std::lock_guard<std::mutex> lock(client.devices_mutex);
    std::optional<DeviceInfo>& info = client.devices[static_cast<size_t>(a.device_ordinal)];
    if (!info) info = client.impl->device_info(a.device_ordinal);
    LTC_PUT(a, out_kind, info->kind.c_str());
    LTC_PUT(a, out_name, info->name.c_str());
    LTC_PUT(a, out_memory_bytes, info->memory_bytes);
  });
}

LtcError* ClientSynchronize(LtcClientSynchronizeArgs* args) {
  return Slot(args, [](LtcClientSynchronizeArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    CheckDevice(client, a.device_ordinal);
    client.impl->synchronize(a.device_ordinal);
  });
}

LtcError* ClientSetRngSeed(LtcClientSetRngSeedArgs* args) {
  return Slot(args, [](LtcClientSetRngSeedArgs& a) {
    Deref(a.client, "client").impl->set_rng_seed(a.seed);
  });
}

LtcError* ClientGetStats(LtcClientGetStatsArgs* args) {
  return Slot(args, [](LtcClientGetStatsArgs& a) {
    const Client& impl = *Deref(a.client, "client").impl;
    LTC_PUT(a, out_live_buffers, impl.live_buffers.load());
    LTC_PUT(a, out_live_executables, impl.live_executables.load());
    LTC_PUT(a, out_compiles, impl.compiles.load());
    LTC_PUT(a, out_executes, impl.executes.load());
  });
}

// -- Buffers.

// Why `buffer` holds no data, for messages.
std::string NoDataReason(const LtcBuffer& buffer) {
  return buffer.donated ? "holds no data: it was donated to an execution"
                        : "holds no data (a placeholder, or the result of a failed execution)";
}

LtcError* BufferFromHost(LtcBufferFromHostArgs* args) {
  // The tensor is ours from the start, whatever happens: release it here
  // unless the plugin took it. A struct too small to be read cannot be
  // trusted to hold a tensor either.
  DLManagedTensor* unclaimed = nullptr;
  LtcError* error = Slot(args, [&](LtcBufferFromHostArgs& a) {
    unclaimed = a.tensor;
    LtcClient& client = Deref(a.client, "client");
    NotNull(a.tensor, "tensor");
    CheckDevice(client, a.device_ordinal);
    // The plugin calls the deleter from here on, also when it throws.
    std::unique_ptr<Buffer> buffer =
        client.impl->buffer_from_host(std::exchange(unclaimed, nullptr), a.device_ordinal);
    LTC_PUT(a, out_buffer, AdoptBuffer(client, std::move(buffer)));
  });
  if (unclaimed != nullptr && unclaimed->deleter != nullptr) unclaimed->deleter(unclaimed);
  return error;
}

LtcError* BufferFromScalar(LtcBufferFromScalarArgs* args) {
  return Slot(args, [](LtcBufferFromScalarArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    CheckDevice(client, a.device_ordinal);
    const Scalar scalar{a.dtype, a.int64_value, a.double_value};
    LTC_PUT(a, out_buffer,
            AdoptBuffer(client, client.impl->buffer_from_scalar(scalar, a.device_ordinal)));
  });
}

LtcError* BufferCreatePlaceholder(LtcBufferCreatePlaceholderArgs* args) {
  return Slot(args, [](LtcBufferCreatePlaceholderArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    CheckDevice(client, a.device_ordinal);
    if (a.ndim < 0) Fail(LTC_ERROR_INVALID_ARGUMENT, "ndim is " + std::to_string(a.ndim));
    if (a.ndim > 0) NotNull(a.shape, "shape");
    std::vector<int64_t> shape(a.shape, a.shape + a.ndim);
    LTC_PUT(a, out_buffer,
            AdoptBuffer(client, client.impl->buffer_create_placeholder(
                                    a.dtype, std::move(shape), a.device_ordinal)));
  });
}

LtcError* BufferToHost(LtcBufferToHostArgs* args) {
  return Slot(args, [](LtcBufferToHostArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    const LtcBuffer& handle = Deref(a.buffer, "buffer");
    if (!handle.has_data()) Fail(LTC_ERROR_FAILED_PRECONDITION, "buffer " + NoDataReason(handle));
    Buffer& buffer = *handle.impl;
    DLManagedTensor* tensor = client.impl->buffer_to_host(buffer);
    if (tensor == nullptr) Fail(LTC_ERROR_INTERNAL, PluginName() + " returned no tensor");
    if (tensor->deleter == nullptr) {
      Fail(LTC_ERROR_INTERNAL, PluginName() + " returned a tensor without a deleter");
    }
    LTC_PUT(a, out_tensor, tensor);
  });
}

LtcError* BufferGetInfo(LtcBufferGetInfoArgs* args) {
  return Slot(args, [](LtcBufferGetInfoArgs& a) {
    Deref(a.client, "client");
    const LtcBuffer& handle = Deref(a.buffer, "buffer");
    const Buffer& buffer = *handle.impl;
    LTC_PUT(a, out_dtype, buffer.dtype());
    LTC_PUT(a, out_device_ordinal, buffer.device_ordinal());
    LTC_PUT(a, out_ndim, static_cast<int32_t>(buffer.shape().size()));
    LTC_PUT(a, out_shape, buffer.shape().data());
    LTC_PUT(a, out_has_data, handle.has_data());
  });
}

LtcError* BufferDestroy(LtcBufferDestroyArgs* args) {
  return Slot(args, [](LtcBufferDestroyArgs& a) {
    if (a.buffer == nullptr) return;
    LtcClient& client = Deref(a.client, "client");
    delete a.buffer;
    --client.impl->live_buffers;
  });
}

// -- Executables.

// A donated argument must be the only use of its buffer in the call: the
// plugin may overwrite it while another argument still reads it.
void CheckDonatedOnce(const LtcExecutableExecuteArgs& a, const std::vector<bool>& donated) {
  if (std::none_of(donated.begin(), donated.end(), [](bool d) { return d; })) return;
  std::unordered_map<const LtcBuffer*, size_t> first;
  first.reserve(a.num_arguments);
  for (size_t i = 0; i < a.num_arguments; ++i) {
    const auto [at, inserted] = first.emplace(a.arguments[i], i);
    if (!inserted && (donated[i] || donated[at->second])) {
      Fail(LTC_ERROR_INVALID_ARGUMENT,
           "argument " + std::to_string(donated[i] ? i : at->second) +
               " is donated but its buffer is also argument " +
               std::to_string(donated[i] ? at->second : i) + " of the same call");
    }
  }
}

LtcError* ClientCompile(LtcClientCompileArgs* args) {
  return Slot(args, [](LtcClientCompileArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    CheckDevice(client, a.device_ordinal);
    NotNull(a.format, "format");
    if (a.graph_size > 0) NotNull(a.graph, "graph");
    const std::vector<const char*>& formats = g_descriptor->graph_formats;
    if (std::none_of(formats.begin(), formats.end(),
                     [&](const char* f) { return std::strcmp(f, a.format) == 0; })) {
      std::string known;
      for (const char* format : formats) known += (known.empty() ? "" : ", ") + std::string(format);
      Fail(LTC_ERROR_UNIMPLEMENTED, std::string("graph format '") + a.format + "' is not one " +
                                        PluginName() + " reads; it reads " + known);
    }
    const CompileRequest request{a.format,
                                 {static_cast<const char*>(a.graph), a.graph_size},
                                 a.cache_key,
                                 a.device_ordinal};
    std::unique_ptr<Executable> executable = client.impl->compile(request);
    if (executable == nullptr) Fail(LTC_ERROR_INTERNAL, PluginName() + " returned no executable");
    auto* handle = new LtcExecutable{std::move(executable), a.device_ordinal};
    ++client.impl->live_executables;
    ++client.impl->compiles;
    LTC_PUT(a, out_executable, handle);
  });
}

LtcError* ExecutableGetInfo(LtcExecutableGetInfoArgs* args) {
  return Slot(args, [](LtcExecutableGetInfoArgs& a) {
    Deref(a.client, "client");
    const LtcExecutable& executable = Deref(a.executable, "executable");
    LTC_PUT(a, out_num_parameters, executable.impl->num_parameters());
    LTC_PUT(a, out_num_results, executable.impl->num_results());
    LTC_PUT(a, out_device_ordinal, executable.device_ordinal);
  });
}

LtcError* ExecutableExecute(LtcExecutableExecuteArgs* args) {
  return Slot(args, [](LtcExecutableExecuteArgs& a) {
    LtcClient& client = Deref(a.client, "client");
    const LtcExecutable& executable = Deref(a.executable, "executable");
    Executable& impl = *executable.impl;
    const int32_t device = executable.device_ordinal;
    if (a.num_arguments != impl.num_parameters()) {
      Fail(LTC_ERROR_INVALID_ARGUMENT,
           "the executable takes " + std::to_string(impl.num_parameters()) +
               " arguments, got " + std::to_string(a.num_arguments));
    }
    if (a.num_results != impl.num_results()) {
      Fail(LTC_ERROR_INVALID_ARGUMENT,
           "the executable has " + std::to_string(impl.num_results()) +
               " results, num_results is " + std::to_string(a.num_results));
    }
    if (a.num_arguments > 0) NotNull(a.arguments, "arguments");
    if (a.num_results > 0) NotNull(a.out_results, "out_results");
    // A host older than 2.1 donates nothing.
    const bool* donated_flags =
        LTC_STRUCT_HAS_FIELD(LtcExecutableExecuteArgs, a.struct_size, donated_arguments)
            ? a.donated_arguments
            : nullptr;
    std::vector<Buffer*> arguments(a.num_arguments);
    std::vector<bool> donated(a.num_arguments, false);
    for (size_t i = 0; i < a.num_arguments; ++i) {
      // Messages are built only on failure: this loop runs every step.
      const auto what = [i] { return "argument " + std::to_string(i); };
      if (a.arguments[i] == nullptr) Fail(LTC_ERROR_INVALID_ARGUMENT, what() + " is NULL");
      const LtcBuffer& handle = *a.arguments[i];
      Buffer& argument = *handle.impl;
      if (argument.device_ordinal() != device) {
        Fail(LTC_ERROR_INVALID_ARGUMENT,
             what() + " is on device " + std::to_string(argument.device_ordinal()) +
                 ", the executable on device " + std::to_string(device));
      }
      if (!handle.has_data()) {
        Fail(LTC_ERROR_FAILED_PRECONDITION, what() + " " + NoDataReason(handle));
      }
      arguments[i] = &argument;
      donated[i] = donated_flags != nullptr && donated_flags[i];
    }
    if (donated_flags != nullptr) CheckDonatedOnce(a, donated);
    std::vector<std::unique_ptr<Buffer>> results(a.num_results);
    client.impl->execute(impl, device, arguments, donated, results);
    // All handles first, so that a failure leaves every entry NULL.
    std::vector<std::unique_ptr<LtcBuffer>> handles;
    handles.reserve(results.size());
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i] == nullptr) {
        Fail(LTC_ERROR_INTERNAL, PluginName() + " left result " + std::to_string(i) + " unset");
      }
      handles.push_back(std::unique_ptr<LtcBuffer>(new LtcBuffer{std::move(results[i])}));
    }
    client.impl->live_buffers += handles.size();
    ++client.impl->executes;
    for (size_t i = 0; i < a.num_arguments; ++i) {
      if (donated[i]) a.arguments[i]->donated = true;
    }
    for (size_t i = 0; i < handles.size(); ++i) a.out_results[i] = handles[i].release();
  });
}

LtcError* ExecutableDestroy(LtcExecutableDestroyArgs* args) {
  return Slot(args, [](LtcExecutableDestroyArgs& a) {
    if (a.executable == nullptr) return;
    LtcClient& client = Deref(a.client, "client");
    delete a.executable;
    --client.impl->live_executables;
  });
}

LtcPluginApi BuildTable(const PluginDescriptor& descriptor) {
  g_descriptor = &descriptor;
  LtcPluginApi table{};
  table.struct_size = LTC_PLUGIN_API_STRUCT_SIZE;
  table.abi_major = LTC_PLUGIN_ABI_MAJOR;
  table.abi_minor = LTC_PLUGIN_ABI_MINOR;
  table.error_destroy = ErrorDestroy;
  table.error_get_code = ErrorGetCode;
  table.error_get_message = ErrorGetMessage;
  table.plugin_get_attributes = PluginGetAttributes;
  table.plugin_check_available = descriptor.check_available ? PluginCheckAvailable : nullptr;
  table.client_create = ClientCreate;
  table.client_destroy = ClientDestroy;
  table.client_get_info = ClientGetInfo;
  table.client_get_device_info = ClientGetDeviceInfo;
  table.client_synchronize = ClientSynchronize;
  table.client_set_rng_seed = ClientSetRngSeed;
  table.client_get_stats = ClientGetStats;
  table.buffer_from_host = BufferFromHost;
  table.buffer_from_scalar = BufferFromScalar;
  table.buffer_create_placeholder = BufferCreatePlaceholder;
  table.buffer_to_host = BufferToHost;
  table.buffer_get_info = BufferGetInfo;
  table.buffer_destroy = BufferDestroy;
  table.client_compile = ClientCompile;
  table.executable_get_info = ExecutableGetInfo;
  table.executable_execute = ExecutableExecute;
  table.executable_destroy = ExecutableDestroy;
  return table;
}

const char* TypeName(LtcValueType type) {
  switch (type) {
    case LTC_VALUE_STRING: return "string";
    case LTC_VALUE_INT64: return "int64";
    case LTC_VALUE_DOUBLE: return "double";
    case LTC_VALUE_BOOL: return "bool";
  }
  return "unknown type";
}

std::string WithArticle(LtcValueType type) {
  const std::string name = TypeName(type);
  return (std::strchr("aeiou", name[0]) != nullptr ? "an " : "a ") + name;
}

}  // namespace

// -- Host services.

Host::Host(const LtcHostServices* services, std::string plugin_name)
    : plugin_name_(std::move(plugin_name)) {
  if (services == nullptr) return;
  CheckStructSize(services->struct_size, LTC_HOST_SERVICES_STRUCT_SIZE_2_0, "LtcHostServices");
  if (services->log_is_enabled == nullptr || services->log == nullptr ||
      services->trace_begin == nullptr || services->trace_end == nullptr) {
    Fail(LTC_ERROR_INVALID_ARGUMENT, "LtcHostServices has a NULL function");
  }
  // Field by field: the host's struct may be smaller than this header's.
  services_.struct_size = LTC_HOST_SERVICES_STRUCT_SIZE_2_0;
  services_.context = services->context;
  services_.log_is_enabled = services->log_is_enabled;
  services_.log = services->log;
  services_.trace_begin = services->trace_begin;
  services_.trace_end = services->trace_end;
}

bool Host::LogEnabled(LtcLogLevel level) const {
  return services_.log_is_enabled != nullptr &&
         services_.log_is_enabled(services_.context, level);
}

void Host::Log(LtcLogLevel level, const std::string& message) const {
  if (services_.log != nullptr) services_.log(services_.context, level, message.c_str());
}

Host::Trace::Trace(const Host& host, const char* name)
    : host_(host),
      token_(host.services_.trace_begin != nullptr
                 ? host.services_.trace_begin(host.services_.context, name)
                 : nullptr) {}

Host::Trace::~Trace() {
  if (token_ != nullptr) host_.services_.trace_end(host_.services_.context, token_);
}

// -- Options.

Options::Options(const LtcNamedValue* const* values, size_t count,
                 const std::vector<OptionSpec>& specs, const std::string& plugin_name) {
  if (count > 0) NotNull(values, "options");
  for (size_t i = 0; i < count; ++i) {
    const LtcNamedValue& given = Deref(values[i], ("option " + std::to_string(i)).c_str());
    CheckStructSize(given.struct_size, LTC_NAMED_VALUE_STRUCT_SIZE_2_0, "LtcNamedValue");
    const std::string name =
        NotNull(given.name, ("the name of option " + std::to_string(i)).c_str());
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const OptionSpec& s) { return name == s.name; });
    if (spec == specs.end()) {
      std::string known;
      for (const OptionSpec& s : specs) {
        known += (known.empty() ? "" : ", ") + std::string(s.name) + " (" + TypeName(s.type) +
                 "): " + s.description;
      }
      Fail(LTC_ERROR_INVALID_ARGUMENT,
           "unknown option '" + name + "'; " + plugin_name +
               (specs.empty() ? " takes no options" : " knows: " + known));
    }
    if (values_.count(name) != 0) {
      Fail(LTC_ERROR_INVALID_ARGUMENT, "option '" + name + "' is given twice");
    }
    // An int64 is a fine double; no other conversion is.
    const bool int_for_double = spec->type == LTC_VALUE_DOUBLE && given.type == LTC_VALUE_INT64;
    if (given.type != spec->type && !int_for_double) {
      Fail(LTC_ERROR_INVALID_ARGUMENT, "option '" + name + "' must be " +
                                           WithArticle(spec->type) + ", got " +
                                           WithArticle(given.type));
    }
    Value value;
    value.type = spec->type;
    switch (spec->type) {
      case LTC_VALUE_STRING:
        value.string_value =
            NotNull(given.string_value, ("the string of option '" + name + "'").c_str());
        break;
      case LTC_VALUE_INT64:
        value.int64_value = given.int64_value;
        break;
      case LTC_VALUE_DOUBLE:
        value.double_value =
            int_for_double ? static_cast<double>(given.int64_value) : given.double_value;
        break;
      case LTC_VALUE_BOOL:
        value.bool_value = given.bool_value;
        break;
    }
    values_.emplace(name, std::move(value));
  }
}

const Options::Value* Options::Find(const std::string& name, LtcValueType type) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return nullptr;
  if (it->second.type != type) {
    Fail(LTC_ERROR_INTERNAL, "option '" + name + "' is declared as " +
                                 WithArticle(it->second.type) + ", read as " +
                                 WithArticle(type));
  }
  return &it->second;
}

bool Options::Bool(const std::string& name, bool fallback) const {
  const Value* value = Find(name, LTC_VALUE_BOOL);
  return value != nullptr ? value->bool_value : fallback;
}

int64_t Options::Int(const std::string& name, int64_t fallback) const {
  const Value* value = Find(name, LTC_VALUE_INT64);
  return value != nullptr ? value->int64_value : fallback;
}

double Options::Double(const std::string& name, double fallback) const {
  const Value* value = Find(name, LTC_VALUE_DOUBLE);
  return value != nullptr ? value->double_value : fallback;
}

std::string Options::String(const std::string& name, const std::string& fallback) const {
  const Value* value = Find(name, LTC_VALUE_STRING);
  return value != nullptr ? value->string_value : fallback;
}

// -- The rest of the adapter's API.

void Client::synchronize(int32_t) {}
void Client::set_rng_seed(uint64_t) {}

LtcError* MakeError(LtcErrorCode code, const std::string& message) {
  return NewError(code, message.c_str());
}

const LtcExtensionBase* FindExtension(const LtcExtensionBase* chain, LtcExtensionType type) {
  for (; chain != nullptr; chain = chain->next) {
    if (chain->type == type) return chain;
  }
  return nullptr;
}

const LtcPluginApi* MakePluginApi(const PluginDescriptor& descriptor) {
  static const LtcPluginApi api = BuildTable(descriptor);
  return &api;
}

}  // namespace ltc::plugin
