#include "abi_checks.h"

#include <ltc/graph_format.h>
#include <ltc/loader.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "graphs.h"
#include "guarded.h"

namespace ltc::cts {
namespace {

// How much larger than its 2.0 size a "newer host" makes each args struct.
constexpr size_t kNewerHostExtra = 64;
constexpr int kThreads = 4;
constexpr int kIterationsPerThread = 16;
// A format name no plugin declares.
constexpr const char* kUnknownFormat = "ltc-cts-no-such-format";

// ---------------------------------------------------------------------------
// The host's side of the calls: services, options, errors, handles.

// Logs warnings and errors to stderr, tagged with the plugin's name (the
// context); traces nowhere (nobody is tracing).
bool LogIsEnabled(void*, LtcLogLevel level) { return level >= LTC_LOG_WARN; }
void Log(void* context, LtcLogLevel level, const char* message) {
  if (level >= LTC_LOG_WARN)
    std::cerr << static_cast<const char*>(context) << ": " << message << '\n';
}
void* TraceBegin(void*, const char*) { return nullptr; }
void TraceEnd(void*, void*) {}

// Options as LtcNamedValues, with the storage their pointers point into.
class NamedValues {
 public:
  explicit NamedValues(const ClientOptions& options) {
    values_.reserve(options.size());
    for (const auto& [name, value] : options) {
      LtcNamedValue named{};
      named.struct_size = LTC_NAMED_VALUE_STRUCT_SIZE;
      named.name = name.c_str();
      if (const auto* b = std::get_if<bool>(&value)) {
        named.type = LTC_VALUE_BOOL;
        named.bool_value = *b;
      } else if (const auto* i = std::get_if<int64_t>(&value)) {
        named.type = LTC_VALUE_INT64;
        named.int64_value = *i;
      } else if (const auto* d = std::get_if<double>(&value)) {
        named.type = LTC_VALUE_DOUBLE;
        named.double_value = *d;
      } else {
        named.type = LTC_VALUE_STRING;
        named.string_value = std::get<std::string>(value).c_str();
      }
      values_.push_back(named);
    }
    for (const LtcNamedValue& value : values_) pointers_.push_back(&value);
  }
  const LtcNamedValue* const* data() const { return pointers_.data(); }
  size_t size() const { return pointers_.size(); }

 private:
  std::vector<LtcNamedValue> values_;
  std::vector<const LtcNamedValue*> pointers_;
};

struct ErrorReport {
  LtcErrorCode code = LTC_ERROR_UNKNOWN;
  std::string message;
  bool message_is_null = false;
};

std::string Describe(const ErrorReport& error) {
  return ErrorCodeName(error.code) + ": " +
         (error.message_is_null ? "(NULL message)" : error.message);
}

std::string DtypeName(DLDataType dtype) {
  return "{code " + std::to_string(dtype.code) + ", bits " + std::to_string(dtype.bits) +
         ", lanes " + std::to_string(dtype.lanes) + "}";
}

bool SameDtype(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

std::string ShapeText(const int64_t* shape, int32_t ndim) {
  std::string text = "[";
  for (int32_t d = 0; d < ndim; ++d) text += (d > 0 ? ", " : "") + std::to_string(shape[d]);
  return text + "]";
}

// What every check uses: the plugin's table, its client and what it said
// about itself.
struct Session {
  std::shared_ptr<Plugin> plugin;
  const LtcPluginApi& api;
  NamedValues options;
  LtcHostServices services{};
  LtcClient* client = nullptr;
  int32_t device_count = 0;
  // The plugin speaks a minor after 2.0: it may fill fields the CTS does
  // not know in the larger structs of a newer host.
  bool newer_minor = false;

  Session(std::shared_ptr<Plugin> loaded, const ClientOptions& client_options)
      : plugin(std::move(loaded)), api(plugin->api()), options(client_options) {
    services.struct_size = LTC_HOST_SERVICES_STRUCT_SIZE;
    services.context = const_cast<char*>(plugin->name().c_str());
    services.log_is_enabled = LogIsEnabled;
    services.log = Log;
    services.trace_begin = TraceBegin;
    services.trace_end = TraceEnd;
    newer_minor = api.abi_minor > 0;
  }

  bool Has(size_t slot_offset) const { return plugin->HasSlot(slot_offset); }

  // buffer_destroy and executable_destroy never fail, says the header. The
  // handles below destroy in destructors, which cannot fail a check: they
  // note it here, and abi.destroy_never_fails reports it.
  void DestroyFailed(const std::string& call, LtcError* error) const {
    const std::string what = call + " failed: " + Describe(Take(error));
    std::lock_guard<std::mutex> lock(destroy_mutex);
    if (destroy_failures.empty()) destroy_failures = what;
  }
  mutable std::mutex destroy_mutex;
  mutable std::string destroy_failures;  // the first; guarded by destroy_mutex

  // Reads `error` through the error slots and destroys it.
  ErrorReport Take(LtcError* error) const {
    ErrorReport report;
    LtcErrorGetCodeArgs code{};
    code.struct_size = LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE;
    code.error = error;
    api.error_get_code(&code);
    report.code = code.out_code;
    LtcErrorGetMessageArgs message{};
    message.struct_size = LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE;
    message.error = error;
    api.error_get_message(&message);
    report.message_is_null = message.out_message == nullptr;
    if (!report.message_is_null) {
      report.message = std::string(message.out_message, message.out_message_size);
    }
    LtcErrorDestroyArgs destroy{};
    destroy.struct_size = LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE;
    destroy.error = error;
    api.error_destroy(&destroy);
    return report;
  }

  // Fails unless `error` is NULL.
  void Ok(const std::string& call, LtcError* error) const {
    if (error != nullptr) Fail(call + " failed: " + Describe(Take(error)));
  }

  // Fails unless `error` is an error with a known code (`expected` where
  // given) and a message; returns it.
  ErrorReport ExpectError(const std::string& call, LtcError* error,
                          std::optional<LtcErrorCode> expected = std::nullopt) const {
    if (error == nullptr) Fail(call + " succeeded where it must fail");
    const ErrorReport report = Take(error);
    Expect(
        report.code >= LTC_ERROR_CANCELLED && report.code <= LTC_ERROR_UNAUTHENTICATED,
        call + " failed with code " + std::to_string(report.code) + ", which is no LtcErrorCode");
    if (expected) {
      Expect(report.code == *expected,
             call + " failed with " + Describe(report) + ", expected " + ErrorCodeName(*expected));
    }
    Expect(!report.message_is_null, call + " failed with a NULL message");
    Expect(!report.message.empty(), call + " failed with an empty message");
    return report;
  }
};

class BufferHandle {
 public:
  BufferHandle(const Session& session, LtcBuffer* buffer) : session_(&session), buffer_(buffer) {}
  ~BufferHandle() { Reset(); }
  BufferHandle(BufferHandle&& other) noexcept
      : session_(other.session_), buffer_(std::exchange(other.buffer_, nullptr)) {}
  BufferHandle(const BufferHandle&) = delete;
  BufferHandle& operator=(const BufferHandle&) = delete;
  BufferHandle& operator=(BufferHandle&&) = delete;

  LtcBuffer* get() const { return buffer_; }
  void Reset() {
    if (buffer_ == nullptr) return;
    LtcBufferDestroyArgs args{};
    args.struct_size = LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE;
    args.client = session_->client;
    args.buffer = std::exchange(buffer_, nullptr);
    if (LtcError* error = session_->api.buffer_destroy(&args)) {
      session_->DestroyFailed("buffer_destroy", error);
    }
  }

 private:
  const Session* session_;
  LtcBuffer* buffer_;
};

class ExecutableHandle {
 public:
  ExecutableHandle(const Session& session, LtcExecutable* executable)
      : session_(&session), executable_(executable) {}
  ~ExecutableHandle() { Reset(); }
  ExecutableHandle(const ExecutableHandle&) = delete;
  ExecutableHandle& operator=(const ExecutableHandle&) = delete;

  LtcExecutable* get() const { return executable_; }
  void Reset() {
    if (executable_ == nullptr) return;
    LtcExecutableDestroyArgs args{};
    args.struct_size = LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE;
    args.client = session_->client;
    args.executable = std::exchange(executable_, nullptr);
    if (LtcError* error = session_->api.executable_destroy(&args)) {
      session_->DestroyFailed("executable_destroy", error);
    }
  }

 private:
  const Session* session_;
  LtcExecutable* executable_;
};

// A tensor buffer_to_host returned; its deleter runs once, here.
struct HostTensorDeleter {
  void operator()(DLManagedTensor* tensor) const {
    if (tensor->deleter != nullptr) tensor->deleter(tensor);
  }
};
using HostTensor = std::unique_ptr<DLManagedTensor, HostTensorDeleter>;

// A tensor for buffer_from_host. The CTS owns its memory; the deleter only
// counts its calls, so that a plugin calling it twice is reported instead
// of freeing twice.
class InputTensor {
 public:
  // `strides` empty: NULL strides (row-major contiguous). The first
  // `byte_offset` bytes of `storage` come before the first element.
  InputTensor(DLDataType dtype, std::vector<int64_t> shape, std::vector<uint8_t> storage,
              std::vector<int64_t> strides = {}, uint64_t byte_offset = 0)
      : storage_(std::move(storage)), shape_(std::move(shape)), strides_(std::move(strides)) {
    const bool has_strides = !strides_.empty();
    const auto ndim = static_cast<int32_t>(shape_.size());
    // One element more than ndim, so that a 0-dim tensor's shape (and an
    // empty tensor's data) is a valid pointer, as DLPack producers give.
    shape_.push_back(0);
    if (has_strides) strides_.push_back(0);
    storage_.push_back(0);
    managed_.dl_tensor.data = storage_.data();
    managed_.dl_tensor.device = {kDLCPU, 0};
    managed_.dl_tensor.ndim = ndim;
    managed_.dl_tensor.dtype = dtype;
    managed_.dl_tensor.shape = shape_.data();
    managed_.dl_tensor.strides = has_strides ? strides_.data() : nullptr;
    managed_.dl_tensor.byte_offset = byte_offset;
    managed_.manager_ctx = this;
    managed_.deleter = [](DLManagedTensor* self) {
      ++static_cast<InputTensor*>(self->manager_ctx)->deleter_calls_;
    };
  }
  InputTensor(const InputTensor&) = delete;
  InputTensor& operator=(const InputTensor&) = delete;

  DLManagedTensor* get() { return &managed_; }
  int deleter_calls() const { return deleter_calls_; }
  // Whether the memory lent to the plugin still holds `bytes` first.
  bool Holds(const std::vector<uint8_t>& bytes) const {
    return storage_.size() >= bytes.size() &&
           std::equal(bytes.begin(), bytes.end(), storage_.begin());
  }

  // Fails unless the deleter ran exactly once.
  void ExpectDeletedOnce(const std::string& when) const {
    Expect(deleter_calls_ == 1, "buffer_from_host called the input tensor's deleter " +
                                    std::to_string(deleter_calls_) + " times " + when +
                                    ", expected exactly once");
  }

 private:
  std::vector<uint8_t> storage_;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
  DLManagedTensor managed_{};
  std::atomic<int> deleter_calls_{0};
};

size_t ItemSize(DLDataType dtype) { return (dtype.bits * dtype.lanes + 7) / 8; }

int64_t ElementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (const int64_t extent : shape) count *= extent;
  return count;
}

template <typename T>
void Put(std::vector<uint8_t>& bytes, size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

// `count` distinct, exactly representable elements of `dtype`, row-major.
std::vector<uint8_t> SampleElements(DLDataType dtype, size_t count) {
  const size_t item = ItemSize(dtype);
  std::vector<uint8_t> bytes(count * item);
  // Halves: 1, -2, 0.5, 3, 0, 5, -0.25, 1024.
  constexpr uint16_t kHalves[] = {0x3C00, 0xC000, 0x3800, 0x4200, 0x0000, 0x4500, 0xB400, 0x6400};
  for (size_t i = 0; i < count; ++i) {
    const size_t at = i * item;
    const double real = 0.5 * static_cast<double>(i) - 1.25;
    const auto integer = static_cast<int64_t>(i) * 37 - 100;
    switch (dtype.code) {
      case kDLFloat:
        if (dtype.bits == 16) Put(bytes, at, kHalves[i % 8]);
        if (dtype.bits == 32) Put(bytes, at, static_cast<float>(real));
        if (dtype.bits == 64) Put(bytes, at, real);
        break;
      case kDLBfloat: {
        // bfloat16 is float32's upper half; these values need no rounding.
        const auto f = static_cast<float>(real);
        uint32_t f_bits;
        std::memcpy(&f_bits, &f, sizeof f_bits);
        Put(bytes, at, static_cast<uint16_t>(f_bits >> 16));
        break;
      }
      case kDLComplex:
        if (dtype.bits == 64) {
          Put(bytes, at, static_cast<float>(real));
          Put(bytes, at + 4, static_cast<float>(i + 1));
        } else {
          Put(bytes, at, real);
          Put(bytes, at + 8, static_cast<double>(i + 1));
        }
        break;
      case LTC_DL_BOOL_CODE:
        bytes[at] = static_cast<uint8_t>(i % 2);
        break;
      default: {  // kDLInt, kDLUInt: little-endian, truncated to the width
        const auto value = static_cast<uint64_t>(dtype.code == kDLInt ? integer : integer + 103);
        for (size_t b = 0; b < item; ++b) bytes[at + b] = static_cast<uint8_t>(value >> (8 * b));
      }
    }
  }
  return bytes;
}

// The elements of `tensor` in row-major order, as it lays them out.
std::vector<uint8_t> LogicalBytes(const DLTensor& tensor) {
  const size_t item = ItemSize(tensor.dtype);
  std::vector<int64_t> shape(tensor.shape, tensor.shape + tensor.ndim);
  const int64_t count = ElementCount(shape);
  std::vector<uint8_t> bytes(static_cast<size_t>(count) * item);
  if (count == 0) return bytes;
  std::vector<int64_t> strides(tensor.ndim, 1);
  for (int32_t d = tensor.ndim - 1; d >= 0; --d) {
    if (tensor.strides != nullptr) {
      strides[d] = tensor.strides[d];
    } else if (d + 1 < tensor.ndim) {
      strides[d] = strides[d + 1] * shape[d + 1];
    }
  }
  const auto* base = static_cast<const uint8_t*>(tensor.data) + tensor.byte_offset;
  std::vector<int64_t> index(tensor.ndim, 0);
  for (int64_t n = 0; n < count; ++n) {
    int64_t offset = 0;
    for (int32_t d = 0; d < tensor.ndim; ++d) offset += index[d] * strides[d];
    std::memcpy(bytes.data() + n * item, base + offset * static_cast<int64_t>(item), item);
    for (int32_t d = tensor.ndim - 1; d >= 0 && ++index[d] == shape[d]; --d) index[d] = 0;
  }
  return bytes;
}

// Fails unless `tensor` (from buffer_to_host of `what`) is a host tensor of
// `dtype` and `shape` holding `expected`, row-major.
void ExpectHostTensor(const DLManagedTensor& managed, DLDataType dtype,
                      const std::vector<int64_t>& shape, const std::vector<uint8_t>& expected,
                      const std::string& what) {
  const DLTensor& tensor = managed.dl_tensor;
  Expect(tensor.device.device_type == kDLCPU || tensor.device.device_type == kDLCUDAHost,
         "buffer_to_host of " + what + " returned a tensor on device type " +
             std::to_string(tensor.device.device_type) + ", not in host memory");
  Expect(SameDtype(tensor.dtype, dtype), "buffer_to_host of " + what + " returned dtype " +
                                             DtypeName(tensor.dtype) + ", expected " +
                                             DtypeName(dtype));
  const auto ndim = static_cast<int32_t>(shape.size());
  Expect(tensor.ndim == ndim && (ndim == 0 || tensor.shape != nullptr) &&
             std::equal(shape.begin(), shape.end(), tensor.shape),
         "buffer_to_host of " + what + " returned shape " +
             (tensor.ndim < 0 || (tensor.ndim > 0 && tensor.shape == nullptr)
                  ? std::string("(ndim ") + std::to_string(tensor.ndim) + ")"
                  : ShapeText(tensor.shape, tensor.ndim)) +
             ", expected " + ShapeText(shape.data(), ndim));
  Expect(ElementCount(shape) == 0 || tensor.data != nullptr,
         "buffer_to_host of " + what + " returned a tensor whose data is NULL");
  Expect(LogicalBytes(tensor) == expected,
         "buffer_to_host of " + what + " returned other values than went in");
}

// ---------------------------------------------------------------------------
// Plain calls of the slots, each with args of the 2.0 size.

LtcError* CallFromHost(const Session& s, DLManagedTensor* tensor, int32_t device, LtcBuffer** out) {
  LtcBufferFromHostArgs args{};
  args.struct_size = LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.tensor = tensor;
  args.device_ordinal = device;
  LtcError* error = s.api.buffer_from_host(&args);
  *out = args.out_buffer;
  return error;
}

LtcError* CallToHost(const Session& s, LtcBuffer* buffer, DLManagedTensor** out) {
  LtcBufferToHostArgs args{};
  args.struct_size = LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.buffer = buffer;
  LtcError* error = s.api.buffer_to_host(&args);
  *out = args.out_tensor;
  return error;
}

LtcBufferGetInfoArgs GetInfo(const Session& s, LtcBuffer* buffer) {
  LtcBufferGetInfoArgs args{};
  args.struct_size = LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.buffer = buffer;
  s.Ok("buffer_get_info", s.api.buffer_get_info(&args));
  return args;
}

// Fails unless buffer_get_info says `buffer` is on device 0 with `dtype`,
// `shape` and data (or none).
void ExpectInfo(const Session& s, LtcBuffer* buffer, DLDataType dtype,
                const std::vector<int64_t>& shape, bool has_data, const std::string& what) {
  const LtcBufferGetInfoArgs info = GetInfo(s, buffer);
  const std::string prefix = "buffer_get_info of " + what + ": ";
  Expect(SameDtype(info.out_dtype, dtype),
         prefix + "dtype " + DtypeName(info.out_dtype) + ", expected " + DtypeName(dtype));
  const auto ndim = static_cast<int32_t>(shape.size());
  Expect(info.out_ndim == ndim && (ndim == 0 || info.out_shape != nullptr) &&
             std::equal(shape.begin(), shape.end(), info.out_shape),
         prefix + "out_ndim " + std::to_string(info.out_ndim) + ", expected shape " +
             ShapeText(shape.data(), ndim));
  Expect(info.out_device_ordinal == 0,
         prefix + "device " + std::to_string(info.out_device_ordinal) + ", expected 0");
  Expect(info.out_has_data == has_data, prefix + "out_has_data " +
                                            (info.out_has_data ? "true" : "false") + ", expected " +
                                            (has_data ? "true" : "false"));
}

BufferHandle FromScalar(const Session& s, DLDataType dtype, int64_t int64_value,
                        double double_value) {
  LtcBufferFromScalarArgs args{};
  args.struct_size = LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.dtype = dtype;
  args.int64_value = int64_value;
  args.double_value = double_value;
  args.device_ordinal = 0;
  s.Ok("buffer_from_scalar", s.api.buffer_from_scalar(&args));
  Expect(args.out_buffer != nullptr, "buffer_from_scalar succeeded with out_buffer NULL");
  return BufferHandle(s, args.out_buffer);
}

BufferHandle Placeholder(const Session& s, DLDataType dtype, const std::vector<int64_t>& shape) {
  LtcBufferCreatePlaceholderArgs args{};
  args.struct_size = LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.dtype = dtype;
  args.shape = shape.empty() ? nullptr : shape.data();
  args.ndim = static_cast<int32_t>(shape.size());
  args.device_ordinal = 0;
  s.Ok("buffer_create_placeholder", s.api.buffer_create_placeholder(&args));
  Expect(args.out_buffer != nullptr, "buffer_create_placeholder succeeded with out_buffer NULL");
  return BufferHandle(s, args.out_buffer);
}

constexpr DLDataType kFloat32{kDLFloat, 32, 1};
const std::vector<int64_t> kMatrix{kGraphRows, kGraphColumns};

std::vector<uint8_t> FloatBytes(const GraphValues& values) {
  std::vector<uint8_t> bytes(sizeof values);
  std::memcpy(bytes.data(), values.data(), sizeof values);
  return bytes;
}

// A buffer of `tensor`, a float32 [2, 3] one; its deleter must have run by
// the time the buffer is destroyed, which the caller checks.
BufferHandle Upload(const Session& s, InputTensor& tensor) {
  LtcBuffer* buffer = nullptr;
  s.Ok("buffer_from_host of a float32 [2, 3] tensor", CallFromHost(s, tensor.get(), 0, &buffer));
  Expect(buffer != nullptr, "buffer_from_host succeeded with out_buffer NULL");
  return BufferHandle(s, buffer);
}

HostTensor ToHost(const Session& s, LtcBuffer* buffer, const std::string& what) {
  DLManagedTensor* tensor = nullptr;
  s.Ok("buffer_to_host of " + what, CallToHost(s, buffer, &tensor));
  Expect(tensor != nullptr, "buffer_to_host of " + what + " succeeded with out_tensor NULL");
  HostTensor owned(tensor);
  Expect(tensor->deleter != nullptr,
         "buffer_to_host of " + what + " returned a tensor whose deleter is NULL");
  return owned;
}

// The graph in the first of the plugin's formats the CTS can write.
std::optional<std::pair<std::string, std::string>> WritableGraph(const Session& s) {
  for (const std::string& format : s.plugin->attributes().graph_formats) {
    if (std::optional<std::string> graph = WriteTestGraph(format)) {
      return std::make_pair(format, *graph);
    }
  }
  return std::nullopt;
}

std::string NoWritableFormat(const Session& s) {
  return "the plugin reads no graph format the CTS can write (it reads " +
         Join(s.plugin->attributes().graph_formats) + "; the CTS writes " +
         LTC_GRAPH_FORMAT_PORTABLE + " and " + LTC_GRAPH_FORMAT_TORCHSCRIPT_IR + ")";
}

ExecutableHandle Compile(const Session& s, const std::string& format, const std::string& graph) {
  LtcClientCompileArgs args{};
  args.struct_size = LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.format = format.c_str();
  args.graph = graph.data();
  args.graph_size = graph.size();
  args.device_ordinal = 0;
  s.Ok("client_compile of the " + format + " test graph", s.api.client_compile(&args));
  Expect(args.out_executable != nullptr, "client_compile succeeded with out_executable NULL");
  return ExecutableHandle(s, args.out_executable);
}

// Executes the test graph on two arguments, donating those `donated` flags
// (NULL: none); returns the error (NULL on success) and leaves the results
// to the caller.
LtcError* ExecuteTestGraph(const Session& s, LtcExecutable* executable,
                           LtcBuffer* const* arguments, const bool* donated,
                           std::array<LtcBuffer*, 2>& results) {
  LtcExecutableExecuteArgs args{};
  args.struct_size = LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.executable = executable;
  args.arguments = arguments;
  args.num_arguments = 2;
  args.out_results = results.data();
  args.num_results = 2;
  args.donated_arguments = donated;
  return s.api.executable_execute(&args);
}

// Fails unless `results` are a * b and a + b; `what` says of which run.
void ExpectTestGraphResults(const Session& s, const std::array<LtcBuffer*, 2>& results,
                            const GraphValues& a, const GraphValues& b, const std::string& what) {
  Expect(results[0] != nullptr && results[1] != nullptr,
         "executable_execute succeeded with a result NULL");
  const std::array<GraphValues, 2> expected = ExpectedResults(a, b);
  const std::string names[] = {"result 0 (a * b)" + what, "result 1 (a + b)" + what};
  for (size_t i = 0; i < 2; ++i) {
    const HostTensor tensor = ToHost(s, results[i], names[i]);
    ExpectHostTensor(*tensor, kFloat32, kMatrix, FloatBytes(expected[i]), names[i]);
    ExpectInfo(s, results[i], kFloat32, kMatrix, true, names[i]);
  }
}

// Runs the test graph on `a` and `b`; fails unless it returns a * b, a + b.
void RunTestGraph(const Session& s, LtcExecutable* executable, const GraphValues& a,
                  const GraphValues& b) {
  InputTensor a_tensor(kFloat32, kMatrix, FloatBytes(a));
  InputTensor b_tensor(kFloat32, kMatrix, FloatBytes(b));
  {
    BufferHandle a_buffer = Upload(s, a_tensor);
    BufferHandle b_buffer = Upload(s, b_tensor);
    LtcBuffer* const arguments[] = {a_buffer.get(), b_buffer.get()};
    std::array<LtcBuffer*, 2> results{};
    s.Ok("executable_execute", ExecuteTestGraph(s, executable, arguments, nullptr, results));
    BufferHandle product(s, results[0]);
    BufferHandle sum(s, results[1]);
    ExpectTestGraphResults(s, results, a, b, "");
  }
  a_tensor.ExpectDeletedOnce("once its buffer was destroyed");
  b_tensor.ExpectDeletedOnce("once its buffer was destroyed");
}

GraphValues Values(float first) {
  GraphValues values{};
  for (size_t i = 0; i < kGraphElements; ++i) values[i] = first + static_cast<float>(i);
  return values;
}

// An error the plugin must return: buffer_to_host of a placeholder.
LtcError* ProvokeError(const Session& s) {
  BufferHandle placeholder = Placeholder(s, kFloat32, kMatrix);
  DLManagedTensor* tensor = nullptr;
  LtcError* error = CallToHost(s, placeholder.get(), &tensor);
  if (error == nullptr) {
    const HostTensor returned(tensor);
    Fail("buffer_to_host of a placeholder succeeded; it must fail with FAILED_PRECONDITION");
  }
  return error;
}

// ---------------------------------------------------------------------------
// Struct sizes.

// Calls a slot twice with args that end at a guard page: struct_size the
// 2.0 size, then a newer host's (kNewerHostExtra zero bytes more). Each
// time, `prepare` fills the inputs, `call` makes the call (returning its
// error, NULL for the slots that return none), and `verify` checks the
// outputs and releases what the call made.
template <typename Args, typename Prepare, typename Call, typename Verify>
void CheckStructSizes(const Session& s, const std::string& slot, size_t size_2_0, Prepare prepare,
                      Call call, Verify verify) {
  for (const size_t struct_size : {size_2_0, sizeof(Args) + kNewerHostExtra}) {
    const std::string with =
        " with struct_size " + std::to_string(struct_size) +
        (struct_size == size_2_0 ? " (the 2.0 size)" : " (a newer host's, zeroed past 2.0)");
    GuardedArgs<Args> args(struct_size, size_2_0);
    prepare(*args);
    if (LtcError* error = call(args.get())) {
      Fail(slot + " failed" + with + ": " + Describe(s.Take(error)));
    }
    const std::string changed = args.ChangedPastKnownFields(s.newer_minor);
    verify(*args);
    Expect(changed.empty(), slot + with + ": " + changed);
  }
}

void CheckStructSizesBeforeClient(const Session& s, Runner& runner) {
  runner.Run("abi.struct_size.plugin_get_attributes", [&] {
    CheckStructSizes<LtcPluginGetAttributesArgs>(
        s, "plugin_get_attributes", LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE_2_0,
        [](LtcPluginGetAttributesArgs&) {},
        [&](LtcPluginGetAttributesArgs* a) { return s.api.plugin_get_attributes(a); },
        [&](LtcPluginGetAttributesArgs& a) {
          Expect(a.out_name != nullptr && a.out_name == s.plugin->name(),
                 "plugin_get_attributes gave another name than with the host's own size");
        });
  });
  if (!s.Has(offsetof(LtcPluginApi, plugin_check_available))) {
    runner.ReportSkip("abi.struct_size.plugin_check_available",
                      "plugin_check_available is NULL (OPTIONAL)");
  } else {
    runner.Run("abi.struct_size.plugin_check_available", [&] {
      CheckStructSizes<LtcPluginCheckAvailableArgs>(
          s, "plugin_check_available", LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE_2_0,
          [](LtcPluginCheckAvailableArgs&) {},
          [&](LtcPluginCheckAvailableArgs* a) { return s.api.plugin_check_available(a); },
          [](LtcPluginCheckAvailableArgs&) {});
    });
  }

  // Both with a client of their own, destroyed again: the session's client
  // comes after them, as a plugin may refuse a second live one.
  const auto destroy_client = [&](LtcClient* client) {
    LtcClientDestroyArgs args{};
    args.struct_size = LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE;
    args.client = client;
    s.Ok("client_destroy", s.api.client_destroy(&args));
  };
  runner.Run("abi.struct_size.client_create", [&] {
    // A newer host's services are larger too.
    GuardedArgs<LtcHostServices> newer_services(sizeof(LtcHostServices) + kNewerHostExtra,
                                                LTC_HOST_SERVICES_STRUCT_SIZE_2_0);
    std::memcpy(newer_services.get(), &s.services, LTC_HOST_SERVICES_STRUCT_SIZE_2_0);
    newer_services->struct_size = sizeof(LtcHostServices) + kNewerHostExtra;
    bool newer = false;
    CheckStructSizes<LtcClientCreateArgs>(
        s, "client_create", LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientCreateArgs& a) {
          a.host_abi_major = LTC_PLUGIN_ABI_MAJOR;
          a.host_abi_minor = LTC_PLUGIN_ABI_MINOR;
          a.plugin_name = s.plugin->name().c_str();
          a.options = s.options.data();
          a.num_options = s.options.size();
          a.host_services = newer ? newer_services.get() : &s.services;
          newer = true;
        },
        [&](LtcClientCreateArgs* a) { return s.api.client_create(a); },
        [&](LtcClientCreateArgs& a) {
          Expect(a.out_client != nullptr, "client_create succeeded with out_client NULL");
          destroy_client(a.out_client);
        });
  });
  runner.Run("abi.struct_size.client_destroy", [&] {
    CheckStructSizes<LtcClientDestroyArgs>(
        s, "client_destroy", LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientDestroyArgs& a) {
          LtcClientCreateArgs create{};
          create.struct_size = LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE;
          create.host_abi_major = LTC_PLUGIN_ABI_MAJOR;
          create.host_abi_minor = LTC_PLUGIN_ABI_MINOR;
          create.plugin_name = s.plugin->name().c_str();
          create.options = s.options.data();
          create.num_options = s.options.size();
          create.host_services = &s.services;
          s.Ok("client_create", s.api.client_create(&create));
          a.client = create.out_client;
        },
        [&](LtcClientDestroyArgs* a) { return s.api.client_destroy(a); },
        [](LtcClientDestroyArgs&) {});
  });
}

void CheckStructSizesWithClient(const Session& s, Runner& runner) {
  runner.Run("abi.struct_size.error_destroy", [&] {
    CheckStructSizes<LtcErrorDestroyArgs>(
        s, "error_destroy", LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE_2_0,
        [&](LtcErrorDestroyArgs& a) { a.error = ProvokeError(s); },
        [&](LtcErrorDestroyArgs* a) -> LtcError* {
          s.api.error_destroy(a);
          return nullptr;
        },
        [](LtcErrorDestroyArgs&) {});
  });
  runner.Run("abi.struct_size.error_get_code", [&] {
    CheckStructSizes<LtcErrorGetCodeArgs>(
        s, "error_get_code", LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE_2_0,
        [&](LtcErrorGetCodeArgs& a) { a.error = ProvokeError(s); },
        [&](LtcErrorGetCodeArgs* a) -> LtcError* {
          s.api.error_get_code(a);
          return nullptr;
        },
        [&](LtcErrorGetCodeArgs& a) {
          s.Take(const_cast<LtcError*>(a.error));
          Expect(a.out_code == LTC_ERROR_FAILED_PRECONDITION,
                 "error_get_code gave " + ErrorCodeName(a.out_code) +
                     " for buffer_to_host of a placeholder, expected FAILED_PRECONDITION");
        });
  });
  runner.Run("abi.struct_size.error_get_message", [&] {
    CheckStructSizes<LtcErrorGetMessageArgs>(
        s, "error_get_message", LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE_2_0,
        [&](LtcErrorGetMessageArgs& a) { a.error = ProvokeError(s); },
        [&](LtcErrorGetMessageArgs* a) -> LtcError* {
          s.api.error_get_message(a);
          return nullptr;
        },
        [&](LtcErrorGetMessageArgs& a) {
          const bool sized =
              a.out_message != nullptr && std::strlen(a.out_message) == a.out_message_size;
          s.Take(const_cast<LtcError*>(a.error));
          Expect(sized,
                 "error_get_message gave no message, or one whose out_message_size is "
                 "not its length");
        });
  });
  runner.Run("abi.struct_size.client_get_info", [&] {
    CheckStructSizes<LtcClientGetInfoArgs>(
        s, "client_get_info", LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientGetInfoArgs& a) { a.client = s.client; },
        [&](LtcClientGetInfoArgs* a) { return s.api.client_get_info(a); },
        [&](LtcClientGetInfoArgs& a) {
          Expect(a.out_device_count == s.device_count,
                 "client_get_info gave another device count than with the host's own size");
        });
  });
  runner.Run("abi.struct_size.client_get_device_info", [&] {
    CheckStructSizes<LtcClientGetDeviceInfoArgs>(
        s, "client_get_device_info", LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientGetDeviceInfoArgs& a) { a.client = s.client; },
        [&](LtcClientGetDeviceInfoArgs* a) { return s.api.client_get_device_info(a); },
        [&](LtcClientGetDeviceInfoArgs& a) {
          Expect(a.out_kind != nullptr, "client_get_device_info succeeded with out_kind NULL");
        });
  });

  const auto optional_slot = [&](const char* slot, size_t offset, auto check) {
    const std::string name = std::string("abi.struct_size.") + slot;
    if (!s.Has(offset)) {
      runner.ReportSkip(name, std::string(slot) + " is NULL (OPTIONAL)");
    } else {
      runner.Run(name, check);
    }
  };
  optional_slot("client_synchronize", offsetof(LtcPluginApi, client_synchronize), [&] {
    CheckStructSizes<LtcClientSynchronizeArgs>(
        s, "client_synchronize", LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientSynchronizeArgs& a) { a.client = s.client; },
        [&](LtcClientSynchronizeArgs* a) { return s.api.client_synchronize(a); },
        [](LtcClientSynchronizeArgs&) {});
  });
  optional_slot("client_set_rng_seed", offsetof(LtcPluginApi, client_set_rng_seed), [&] {
    CheckStructSizes<LtcClientSetRngSeedArgs>(
        s, "client_set_rng_seed", LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientSetRngSeedArgs& a) {
          a.client = s.client;
          a.seed = 42;
        },
        [&](LtcClientSetRngSeedArgs* a) { return s.api.client_set_rng_seed(a); },
        [](LtcClientSetRngSeedArgs&) {});
  });
  optional_slot("client_get_stats", offsetof(LtcPluginApi, client_get_stats), [&] {
    CheckStructSizes<LtcClientGetStatsArgs>(
        s, "client_get_stats", LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientGetStatsArgs& a) { a.client = s.client; },
        [&](LtcClientGetStatsArgs* a) { return s.api.client_get_stats(a); },
        [](LtcClientGetStatsArgs&) {});
  });

  runner.Run("abi.struct_size.buffer_from_host", [&] {
    std::vector<std::unique_ptr<InputTensor>> tensors;
    CheckStructSizes<LtcBufferFromHostArgs>(
        s, "buffer_from_host", LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE_2_0,
        [&](LtcBufferFromHostArgs& a) {
          tensors.push_back(
              std::make_unique<InputTensor>(kFloat32, kMatrix, FloatBytes(Values(1))));
          a.client = s.client;
          a.tensor = tensors.back()->get();
        },
        [&](LtcBufferFromHostArgs* a) { return s.api.buffer_from_host(a); },
        [&](LtcBufferFromHostArgs& a) {
          BufferHandle buffer(s, a.out_buffer);
          Expect(a.out_buffer != nullptr, "buffer_from_host succeeded with out_buffer NULL");
          buffer.Reset();
          tensors.back()->ExpectDeletedOnce("once its buffer was destroyed");
        });
  });
  runner.Run("abi.struct_size.buffer_from_scalar", [&] {
    CheckStructSizes<LtcBufferFromScalarArgs>(
        s, "buffer_from_scalar", LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE_2_0,
        [&](LtcBufferFromScalarArgs& a) {
          a.client = s.client;
          a.dtype = DLDataType{kDLFloat, 64, 1};
          a.double_value = 2.5;
        },
        [&](LtcBufferFromScalarArgs* a) { return s.api.buffer_from_scalar(a); },
        [&](LtcBufferFromScalarArgs& a) {
          BufferHandle buffer(s, a.out_buffer);
          Expect(a.out_buffer != nullptr, "buffer_from_scalar succeeded with out_buffer NULL");
        });
  });
  runner.Run("abi.struct_size.buffer_create_placeholder", [&] {
    CheckStructSizes<LtcBufferCreatePlaceholderArgs>(
        s, "buffer_create_placeholder", LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE_2_0,
        [&](LtcBufferCreatePlaceholderArgs& a) {
          a.client = s.client;
          a.dtype = kFloat32;
          a.shape = kMatrix.data();
          a.ndim = 2;
        },
        [&](LtcBufferCreatePlaceholderArgs* a) { return s.api.buffer_create_placeholder(a); },
        [&](LtcBufferCreatePlaceholderArgs& a) {
          BufferHandle buffer(s, a.out_buffer);
          Expect(a.out_buffer != nullptr,
                 "buffer_create_placeholder succeeded with out_buffer NULL");
        });
  });
  runner.Run("abi.struct_size.buffer_to_host", [&] {
    BufferHandle scalar = FromScalar(s, DLDataType{kDLFloat, 64, 1}, 0, 2.5);
    CheckStructSizes<LtcBufferToHostArgs>(
        s, "buffer_to_host", LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE_2_0,
        [&](LtcBufferToHostArgs& a) {
          a.client = s.client;
          a.buffer = scalar.get();
        },
        [&](LtcBufferToHostArgs* a) { return s.api.buffer_to_host(a); },
        [&](LtcBufferToHostArgs& a) {
          Expect(a.out_tensor != nullptr, "buffer_to_host succeeded with out_tensor NULL");
          HostTensor tensor(a.out_tensor);
          Expect(a.out_tensor->deleter != nullptr, "buffer_to_host's tensor has no deleter");
        });
  });
  runner.Run("abi.struct_size.buffer_get_info", [&] {
    BufferHandle scalar = FromScalar(s, DLDataType{kDLFloat, 64, 1}, 0, 2.5);
    CheckStructSizes<LtcBufferGetInfoArgs>(
        s, "buffer_get_info", LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE_2_0,
        [&](LtcBufferGetInfoArgs& a) {
          a.client = s.client;
          a.buffer = scalar.get();
        },
        [&](LtcBufferGetInfoArgs* a) { return s.api.buffer_get_info(a); },
        [&](LtcBufferGetInfoArgs& a) {
          Expect(a.out_ndim == 0 && a.out_has_data,
                 "buffer_get_info of a scalar gave out_ndim " + std::to_string(a.out_ndim) +
                     " and out_has_data " + (a.out_has_data ? "true" : "false") +
                     ", expected 0 and true");
        });
  });
  runner.Run("abi.struct_size.buffer_destroy", [&] {
    CheckStructSizes<LtcBufferDestroyArgs>(
        s, "buffer_destroy", LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE_2_0,
        [&](LtcBufferDestroyArgs& a) {
          a.client = s.client;
          LtcBufferFromScalarArgs scalar{};
          scalar.struct_size = LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE;
          scalar.client = s.client;
          scalar.dtype = DLDataType{kDLFloat, 64, 1};
          s.Ok("buffer_from_scalar", s.api.buffer_from_scalar(&scalar));
          a.buffer = scalar.out_buffer;
        },
        [&](LtcBufferDestroyArgs* a) { return s.api.buffer_destroy(a); },
        [](LtcBufferDestroyArgs&) {});
  });

  const auto graph = WritableGraph(s);
  const auto executable_slot = [&](const char* slot, const std::function<void()>& check) {
    const std::string name = std::string("abi.struct_size.") + slot;
    if (!graph) {
      runner.ReportSkip(name, "needs a compiled graph: " + NoWritableFormat(s));
    } else {
      runner.Run(name, check);
    }
  };
  executable_slot("client_compile", [&] {
    CheckStructSizes<LtcClientCompileArgs>(
        s, "client_compile", LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_0,
        [&](LtcClientCompileArgs& a) {
          a.client = s.client;
          a.format = graph->first.c_str();
          a.graph = graph->second.data();
          a.graph_size = graph->second.size();
        },
        [&](LtcClientCompileArgs* a) { return s.api.client_compile(a); },
        [&](LtcClientCompileArgs& a) {
          ExecutableHandle executable(s, a.out_executable);
          Expect(a.out_executable != nullptr, "client_compile succeeded with out_executable NULL");
        });
  });
  executable_slot("executable_get_info", [&] {
    const ExecutableHandle executable = Compile(s, graph->first, graph->second);
    CheckStructSizes<LtcExecutableGetInfoArgs>(
        s, "executable_get_info", LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE_2_0,
        [&](LtcExecutableGetInfoArgs& a) {
          a.client = s.client;
          a.executable = executable.get();
        },
        [&](LtcExecutableGetInfoArgs* a) { return s.api.executable_get_info(a); },
        [&](LtcExecutableGetInfoArgs& a) {
          Expect(a.out_num_parameters == 2 && a.out_num_results == 2,
                 "executable_get_info gave " + std::to_string(a.out_num_parameters) +
                     " parameters and " + std::to_string(a.out_num_results) +
                     " results, expected 2 and 2");
        });
  });
  executable_slot("executable_execute", [&] {
    const ExecutableHandle executable = Compile(s, graph->first, graph->second);
    InputTensor a_tensor(kFloat32, kMatrix, FloatBytes(Values(1)));
    InputTensor b_tensor(kFloat32, kMatrix, FloatBytes(Values(2)));
    BufferHandle a_buffer = Upload(s, a_tensor);
    BufferHandle b_buffer = Upload(s, b_tensor);
    LtcBuffer* const arguments[] = {a_buffer.get(), b_buffer.get()};
    LtcBuffer* results[2] = {nullptr, nullptr};
    CheckStructSizes<LtcExecutableExecuteArgs>(
        s, "executable_execute", LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0,
        [&](LtcExecutableExecuteArgs& a) {
          a.client = s.client;
          a.executable = executable.get();
          a.arguments = arguments;
          a.num_arguments = 2;
          a.out_results = results;
          a.num_results = 2;
        },
        [&](LtcExecutableExecuteArgs* a) { return s.api.executable_execute(a); },
        [&](LtcExecutableExecuteArgs&) {
          BufferHandle product(s, std::exchange(results[0], nullptr));
          BufferHandle sum(s, std::exchange(results[1], nullptr));
          Expect(product.get() != nullptr && sum.get() != nullptr,
                 "executable_execute succeeded with a result NULL");
        });
  });
  executable_slot("executable_destroy", [&] {
    CheckStructSizes<LtcExecutableDestroyArgs>(
        s, "executable_destroy", LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE_2_0,
        [&](LtcExecutableDestroyArgs& a) {
          a.client = s.client;
          LtcClientCompileArgs compile{};
          compile.struct_size = LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE;
          compile.client = s.client;
          compile.format = graph->first.c_str();
          compile.graph = graph->second.data();
          compile.graph_size = graph->second.size();
          s.Ok("client_compile", s.api.client_compile(&compile));
          a.executable = compile.out_executable;
        },
        [&](LtcExecutableDestroyArgs* a) { return s.api.executable_destroy(a); },
        [](LtcExecutableDestroyArgs&) {});
  });
}

// ---------------------------------------------------------------------------
// The plugin and its client.

void CheckAttributes(const Session& s) {
  LtcPluginGetAttributesArgs first{};
  first.struct_size = LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE;
  s.Ok("plugin_get_attributes", s.api.plugin_get_attributes(&first));
  Expect(first.out_name != nullptr && first.out_version != nullptr &&
             first.out_description != nullptr && first.out_vendor != nullptr,
         "plugin_get_attributes left out_name, out_version, out_description or out_vendor NULL");
  Expect(first.out_name[0] != '\0', "plugin_get_attributes gave an empty out_name");
  Expect(first.out_num_graph_formats >= 1 && first.out_graph_formats != nullptr,
         "plugin_get_attributes declared no graph format (at least one is required)");
  for (size_t i = 0; i < first.out_num_graph_formats; ++i) {
    Expect(first.out_graph_formats[i] != nullptr && first.out_graph_formats[i][0] != '\0',
           "plugin_get_attributes: graph format " + std::to_string(i) + " is NULL or empty");
  }
  // The strings are static: a second call gives the same ones.
  LtcPluginGetAttributesArgs second{};
  second.struct_size = LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE;
  s.Ok("plugin_get_attributes (again)", s.api.plugin_get_attributes(&second));
  Expect(second.out_name != nullptr && std::strcmp(first.out_name, second.out_name) == 0 &&
             second.out_num_graph_formats == first.out_num_graph_formats,
         "plugin_get_attributes gave other attributes on a second call");
}

LtcClient* CreateClient(const Session& s) {
  LtcClientCreateArgs args{};
  args.struct_size = LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE;
  args.host_abi_major = LTC_PLUGIN_ABI_MAJOR;
  args.host_abi_minor = LTC_PLUGIN_ABI_MINOR;
  args.plugin_name = s.plugin->name().c_str();
  args.options = s.options.data();
  args.num_options = s.options.size();
  args.host_services = &s.services;
  s.Ok("client_create", s.api.client_create(&args));
  Expect(args.out_client != nullptr, "client_create succeeded with out_client NULL");
  return args.out_client;
}

void CheckClientInfo(Session& s) {
  LtcClientGetInfoArgs info{};
  info.struct_size = LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE;
  info.client = s.client;
  s.Ok("client_get_info", s.api.client_get_info(&info));
  Expect(info.out_device_count >= 1, "client_get_info gave out_device_count " +
                                         std::to_string(info.out_device_count) +
                                         ", expected at least 1");
  Expect(info.out_eager_fallback_device == kDLCPU || info.out_eager_fallback_device == kDLCUDA,
         "client_get_info gave out_eager_fallback_device " +
             std::to_string(info.out_eager_fallback_device) + ", expected kDLCPU or kDLCUDA");
  s.device_count = info.out_device_count;
}

void CheckDeviceInfo(const Session& s) {
  std::string kind;
  for (int32_t device = 0; device < s.device_count; ++device) {
    LtcClientGetDeviceInfoArgs args{};
    args.struct_size = LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE;
    args.client = s.client;
    args.device_ordinal = device;
    const std::string call = "client_get_device_info(" + std::to_string(device) + ")";
    s.Ok(call, s.api.client_get_device_info(&args));
    Expect(args.out_kind != nullptr && args.out_kind[0] != '\0', call + " gave no out_kind");
    Expect(args.out_name != nullptr, call + " gave out_name NULL");
    for (const char* c = args.out_kind; *c != '\0'; ++c) {
      Expect(!(*c >= 'A' && *c <= 'Z'),
             call + ": out_kind '" + args.out_kind + "' is not lowercase");
    }
    if (device == 0) kind = args.out_kind;
    Expect(kind == args.out_kind,
           call + ": out_kind '" + args.out_kind + "' differs from device 0's '" + kind + "'");
  }
}

void CheckErrorObjects(const Session& s) {
  LtcError* error = ProvokeError(s);
  LtcErrorGetCodeArgs code{};
  code.struct_size = LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE;
  code.error = error;
  s.api.error_get_code(&code);
  LtcErrorGetMessageArgs message{};
  message.struct_size = LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE;
  message.error = error;
  s.api.error_get_message(&message);
  const bool has_message = message.out_message != nullptr;
  const std::string text = has_message ? message.out_message : "";
  const size_t size = message.out_message_size;
  LtcErrorGetCodeArgs code_again{};
  code_again.struct_size = LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE;
  code_again.error = error;
  s.api.error_get_code(&code_again);
  LtcErrorDestroyArgs destroy{};
  destroy.struct_size = LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE;
  destroy.error = error;
  s.api.error_destroy(&destroy);

  Expect(code.out_code == LTC_ERROR_FAILED_PRECONDITION,
         "error_get_code gave " + ErrorCodeName(code.out_code) +
             " for buffer_to_host of a placeholder, expected FAILED_PRECONDITION");
  Expect(code_again.out_code == code.out_code, "error_get_code gave another code the second time");
  Expect(has_message, "error_get_message gave out_message NULL");
  Expect(!text.empty(), "error_get_message gave an empty message");
  Expect(size == text.size(), "error_get_message gave out_message_size " + std::to_string(size) +
                                  " for a message of " + std::to_string(text.size()) +
                                  " bytes before its NUL");
}

// ---------------------------------------------------------------------------
// Outputs left at their defaults on failure.

void CheckToHostFailure(const Session& s) {
  BufferHandle placeholder = Placeholder(s, kFloat32, kMatrix);
  LtcBufferToHostArgs args{};
  args.struct_size = LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.buffer = placeholder.get();
  s.ExpectError("buffer_to_host of a placeholder", s.api.buffer_to_host(&args),
                LTC_ERROR_FAILED_PRECONDITION);
  Expect(args.out_tensor == nullptr,
         "buffer_to_host failed but set out_tensor (it must stay NULL on failure)");
}

void CheckFromHostFailure(const Session& s) {
  InputTensor tensor(kFloat32, kMatrix, FloatBytes(Values(1)));
  LtcBufferFromHostArgs args{};
  args.struct_size = LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.tensor = tensor.get();
  args.device_ordinal = s.device_count;
  s.ExpectError("buffer_from_host for device " + std::to_string(s.device_count) + " (out of range)",
                s.api.buffer_from_host(&args));
  Expect(args.out_buffer == nullptr,
         "buffer_from_host failed but set out_buffer (it must stay NULL on failure)");
  tensor.ExpectDeletedOnce("when it refused the tensor");
}

void CheckFromScalarFailure(const Session& s) {
  LtcBufferFromScalarArgs args{};
  args.struct_size = LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.dtype = DLDataType{kDLFloat, 64, 1};
  args.device_ordinal = s.device_count;
  s.ExpectError(
      "buffer_from_scalar for device " + std::to_string(s.device_count) + " (out of range)",
      s.api.buffer_from_scalar(&args));
  Expect(args.out_buffer == nullptr,
         "buffer_from_scalar failed but set out_buffer (it must stay NULL on failure)");
}

void CheckPlaceholderFailure(const Session& s) {
  LtcBufferCreatePlaceholderArgs args{};
  args.struct_size = LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.dtype = kFloat32;
  args.shape = kMatrix.data();
  args.ndim = 2;
  args.device_ordinal = s.device_count;
  s.ExpectError(
      "buffer_create_placeholder for device " + std::to_string(s.device_count) + " (out of range)",
      s.api.buffer_create_placeholder(&args));
  Expect(args.out_buffer == nullptr,
         "buffer_create_placeholder failed but set out_buffer (it must stay NULL on failure)");
}

void CheckDeviceInfoFailure(const Session& s) {
  LtcClientGetDeviceInfoArgs args{};
  args.struct_size = LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.device_ordinal = s.device_count;
  s.ExpectError("client_get_device_info(" + std::to_string(s.device_count) + ") (out of range)",
                s.api.client_get_device_info(&args), LTC_ERROR_OUT_OF_RANGE);
  Expect(args.out_kind == nullptr && args.out_name == nullptr && args.out_memory_bytes == 0,
         "client_get_device_info failed but set out_kind, out_name or out_memory_bytes");
}

void CheckCompileFailure(const Session& s) {
  // Garbage in the plugin's own first format: any format's reader refuses it.
  const std::string format = s.plugin->attributes().graph_formats.front();
  const std::string garbage = "this is not a graph in any format \x01\x02\x03";
  LtcClientCompileArgs args{};
  args.struct_size = LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.format = format.c_str();
  args.graph = garbage.data();
  args.graph_size = garbage.size();
  LtcError* error = s.api.client_compile(&args);
  if (error == nullptr) {
    ExecutableHandle accepted(s, args.out_executable);
    Fail("client_compile accepted " + std::to_string(garbage.size()) + " bytes of text as a " +
         format + " graph");
  }
  s.ExpectError("client_compile of garbage as " + format, error);
  Expect(args.out_executable == nullptr,
         "client_compile failed but set out_executable (it must stay NULL on failure)");
}

void CheckCompileUnknownFormat(const Session& s) {
  const std::string graph = WriteTestGraph(LTC_GRAPH_FORMAT_PORTABLE).value();
  LtcClientCompileArgs args{};
  args.struct_size = LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.format = kUnknownFormat;
  args.graph = graph.data();
  args.graph_size = graph.size();
  LtcError* error = s.api.client_compile(&args);
  if (error == nullptr) {
    ExecutableHandle accepted(s, args.out_executable);
    Fail(std::string("client_compile accepted the format '") + kUnknownFormat +
         "', which the plugin does not declare");
  }
  s.ExpectError(std::string("client_compile in format '") + kUnknownFormat + "'", error,
                LTC_ERROR_UNIMPLEMENTED);
  Expect(args.out_executable == nullptr,
         "client_compile failed but set out_executable (it must stay NULL on failure)");
}

// Executes with the wrong number of arguments, then of results: both must
// fail with every result NULL.
void CheckExecuteFailure(const Session& s, const std::string& format, const std::string& graph) {
  const ExecutableHandle executable = Compile(s, format, graph);
  InputTensor tensor(kFloat32, kMatrix, FloatBytes(Values(1)));
  {
    BufferHandle buffer = Upload(s, tensor);
    LtcBuffer* const arguments[] = {buffer.get(), buffer.get()};
    struct Case {
      size_t num_arguments;
      size_t num_results;
    };
    for (const Case& wrong : {Case{1, 2}, Case{2, 1}}) {
      LtcBuffer* results[2] = {nullptr, nullptr};
      LtcExecutableExecuteArgs args{};
      args.struct_size = LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE;
      args.client = s.client;
      args.executable = executable.get();
      args.arguments = arguments;
      args.num_arguments = wrong.num_arguments;
      args.out_results = results;
      args.num_results = wrong.num_results;
      const std::string call = "executable_execute with " + std::to_string(wrong.num_arguments) +
                               " arguments and " + std::to_string(wrong.num_results) +
                               " results (the graph has 2 and 2)";
      LtcError* error = s.api.executable_execute(&args);
      BufferHandle first(s, results[0]);
      BufferHandle second(s, results[1]);
      s.ExpectError(call, error);
      Expect(results[0] == nullptr && results[1] == nullptr,
             call + " failed but set an entry of out_results (each must stay NULL on failure)");
    }
  }
  tensor.ExpectDeletedOnce("once its buffer was destroyed");
}

// ---------------------------------------------------------------------------
// DLPack round trips.

struct DtypeCase {
  const char* name;
  DLDataType dtype;
};
const DtypeCase kDtypes[] = {
    {"float32", {kDLFloat, 32, 1}},
    {"float64", {kDLFloat, 64, 1}},
    {"float16", {kDLFloat, 16, 1}},
    {"bfloat16", {kDLBfloat, 16, 1}},
    {"int8", {kDLInt, 8, 1}},
    {"int16", {kDLInt, 16, 1}},
    {"int32", {kDLInt, 32, 1}},
    {"int64", {kDLInt, 64, 1}},
    {"uint8", {kDLUInt, 8, 1}},
    {"uint16", {kDLUInt, 16, 1}},
    {"uint32", {kDLUInt, 32, 1}},
    {"uint64", {kDLUInt, 64, 1}},
    {"bool", {LTC_DL_BOOL_CODE, 8, 1}},
    {"complex64", {kDLComplex, 64, 1}},
    {"complex128", {kDLComplex, 128, 1}},
};

// Uploads `tensor`, reads it back and compares it with `expected` (its
// elements, row-major), then checks the deleter ran once. A refusal with
// UNIMPLEMENTED is a skip, once the refusal itself kept the rules.
void RoundTrip(const Session& s, InputTensor& tensor, const std::vector<uint8_t>& expected,
               const std::string& what) {
  // Copied first: the tensor is the plugin's once it has it, to change too.
  const DLTensor& dl = tensor.get()->dl_tensor;
  const DLDataType dtype = dl.dtype;
  const std::vector<int64_t> shape(dl.shape, dl.shape + dl.ndim);
  {
    LtcBuffer* raw = nullptr;
    LtcError* error = CallFromHost(s, tensor.get(), 0, &raw);
    BufferHandle buffer(s, raw);
    if (error != nullptr) {
      const ErrorReport report = s.Take(error);
      Expect(raw == nullptr, "buffer_from_host refused " + what +
                                 " but set out_buffer (it must stay NULL on failure)");
      tensor.ExpectDeletedOnce("when it refused " + what);
      if (report.code == LTC_ERROR_UNIMPLEMENTED) {
        Skip("the plugin refuses " + what + ": " + report.message);
      }
      Fail("buffer_from_host refused " + what + " with " + Describe(report) +
           " (a tensor the plugin does not hold is refused with UNIMPLEMENTED)");
    }
    Expect(raw != nullptr, "buffer_from_host succeeded with out_buffer NULL");
    ExpectInfo(s, raw, dtype, shape, true, what);
    const HostTensor back = ToHost(s, raw, what);
    ExpectHostTensor(*back, dtype, shape, expected, what);
  }
  tensor.ExpectDeletedOnce("once the buffer of " + what + " was destroyed");
}

void CheckDtypeRoundTrip(const Session& s, const DtypeCase& dtype) {
  const std::vector<uint8_t> elements = SampleElements(dtype.dtype, kGraphElements);
  InputTensor tensor(dtype.dtype, kMatrix, elements);
  RoundTrip(s, tensor, elements, std::string("a ") + dtype.name + " [2, 3] tensor");
}

void CheckStridedRoundTrip(const Session& s) {
  // [2, 3] stored column-major: element (r, c) at r + 2c.
  const std::vector<uint8_t> logical = SampleElements(kFloat32, kGraphElements);
  std::vector<uint8_t> storage(logical.size());
  for (int64_t r = 0; r < kGraphRows; ++r) {
    for (int64_t c = 0; c < kGraphColumns; ++c) {
      std::memcpy(&storage[(r + kGraphRows * c) * 4], &logical[(r * kGraphColumns + c) * 4], 4);
    }
  }
  InputTensor tensor(kFloat32, kMatrix, storage, {1, kGraphRows});
  RoundTrip(s, tensor, logical, "a float32 [2, 3] tensor with strides [1, 2]");
}

void CheckByteOffsetRoundTrip(const Session& s) {
  // Three other floats before the tensor's six.
  constexpr size_t kOffset = 12;
  const std::vector<uint8_t> storage = SampleElements(kFloat32, kOffset / 4 + kGraphElements);
  const std::vector<uint8_t> elements(storage.begin() + kOffset, storage.end());
  InputTensor tensor(kFloat32, kMatrix, storage, {}, kOffset);
  RoundTrip(s, tensor, elements, "a float32 [2, 3] tensor at byte_offset 12");
}

void CheckZeroSizeRoundTrip(const Session& s) {
  InputTensor tensor(kFloat32, {0, kGraphColumns}, {});
  RoundTrip(s, tensor, {}, "a float32 [0, 3] tensor");
}

void CheckZeroDimRoundTrip(const Session& s) {
  const std::vector<uint8_t> element = SampleElements(kFloat32, 1);
  InputTensor tensor(kFloat32, {}, element);
  RoundTrip(s, tensor, element, "a float32 0-dim tensor");
}

// A tensor the plugin likely refuses (a vector type): accepted or refused,
// its deleter runs exactly once.
void CheckRefusedTensorDeleter(const Session& s) {
  const DLDataType vector{kDLFloat, 32, 4};
  InputTensor tensor(vector, kMatrix, SampleElements(vector, kGraphElements));
  {
    LtcBuffer* raw = nullptr;
    LtcError* error = CallFromHost(s, tensor.get(), 0, &raw);
    BufferHandle buffer(s, raw);
    if (error != nullptr) {
      s.ExpectError("buffer_from_host of a float32x4 tensor", error);
      Expect(raw == nullptr, "buffer_from_host refused a float32x4 tensor but set out_buffer");
      tensor.ExpectDeletedOnce("when it refused a float32x4 tensor");
      return;
    }
  }
  tensor.ExpectDeletedOnce("once the buffer of a float32x4 tensor was destroyed");
}

// ---------------------------------------------------------------------------
// Scalars and placeholders.

void CheckScalar(const Session& s, DLDataType dtype, int64_t int64_value, double double_value,
                 const std::vector<uint8_t>& expected, const std::string& what) {
  BufferHandle buffer = FromScalar(s, dtype, int64_value, double_value);
  ExpectInfo(s, buffer.get(), dtype, {}, true, what);
  const HostTensor back = ToHost(s, buffer.get(), what);
  ExpectHostTensor(*back, dtype, {}, expected, what);
}

template <typename T>
std::vector<uint8_t> BytesOf(T value) {
  std::vector<uint8_t> bytes(sizeof value);
  std::memcpy(bytes.data(), &value, sizeof value);
  return bytes;
}

void CheckPlaceholder(const Session& s, const std::vector<int64_t>& shape,
                      const std::string& what) {
  BufferHandle placeholder = Placeholder(s, kFloat32, shape);
  ExpectInfo(s, placeholder.get(), kFloat32, shape, false, what);
  DLManagedTensor* tensor = nullptr;
  LtcError* error = CallToHost(s, placeholder.get(), &tensor);
  if (error == nullptr) {
    const HostTensor returned(tensor);
    Fail("buffer_to_host of " + what + " succeeded; it must fail with FAILED_PRECONDITION");
  }
  s.ExpectError("buffer_to_host of " + what, error, LTC_ERROR_FAILED_PRECONDITION);
}

void CheckExecutePlaceholder(const Session& s, const std::string& format,
                             const std::string& graph) {
  const ExecutableHandle executable = Compile(s, format, graph);
  BufferHandle a = Placeholder(s, kFloat32, kMatrix);
  BufferHandle b = Placeholder(s, kFloat32, kMatrix);
  LtcBuffer* const arguments[] = {a.get(), b.get()};
  LtcBuffer* results[2] = {nullptr, nullptr};
  LtcExecutableExecuteArgs args{};
  args.struct_size = LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE;
  args.client = s.client;
  args.executable = executable.get();
  args.arguments = arguments;
  args.num_arguments = 2;
  args.out_results = results;
  args.num_results = 2;
  LtcError* error = s.api.executable_execute(&args);
  BufferHandle first(s, results[0]);
  BufferHandle second(s, results[1]);
  s.ExpectError("executable_execute with placeholders as arguments", error,
                LTC_ERROR_FAILED_PRECONDITION);
  Expect(results[0] == nullptr && results[1] == nullptr,
         "executable_execute failed but set an entry of out_results");
}

// ---------------------------------------------------------------------------
// Donation (since 2.1): plugin_api.h, LtcExecutableExecuteArgs.donated_arguments.

void SkipBeforeDonation(const Session& s) {
  if (s.api.abi_minor < 1) {
    Skip(s.plugin->name() + " speaks ABI 2." + std::to_string(s.api.abi_minor) +
         ": donation is 2.1");
  }
}

// A donated argument computes the same results, then holds no data: reading
// it or passing it again fails with FAILED_PRECONDITION. The other argument
// keeps its data, and the memory buffer_from_host lent is never written.
void CheckDonatedArgumentIsEmptied(const Session& s, const std::string& format,
                                   const std::string& graph) {
  SkipBeforeDonation(s);
  const ExecutableHandle executable = Compile(s, format, graph);
  const GraphValues a = Values(2);
  const GraphValues b = Values(-1.5f);
  InputTensor a_tensor(kFloat32, kMatrix, FloatBytes(a));
  InputTensor b_tensor(kFloat32, kMatrix, FloatBytes(b));
  {
    BufferHandle a_buffer = Upload(s, a_tensor);
    BufferHandle b_buffer = Upload(s, b_tensor);
    LtcBuffer* const arguments[] = {a_buffer.get(), b_buffer.get()};
    const bool donated[] = {true, false};
    std::array<LtcBuffer*, 2> results{};
    s.Ok("executable_execute donating argument 0",
         ExecuteTestGraph(s, executable.get(), arguments, donated, results));
    BufferHandle product(s, results[0]);
    BufferHandle sum(s, results[1]);
    ExpectTestGraphResults(s, results, a, b, ", a donated");

    ExpectInfo(s, a_buffer.get(), kFloat32, kMatrix, false, "a donated argument");
    DLManagedTensor* tensor = nullptr;
    LtcError* error = CallToHost(s, a_buffer.get(), &tensor);
    if (error == nullptr) {
      const HostTensor returned(tensor);
      Fail("buffer_to_host of a donated argument succeeded; it must fail with "
           "FAILED_PRECONDITION");
    }
    s.ExpectError("buffer_to_host of a donated argument", error, LTC_ERROR_FAILED_PRECONDITION);
    std::array<LtcBuffer*, 2> again{};
    error = ExecuteTestGraph(s, executable.get(), arguments, nullptr, again);
    BufferHandle again_product(s, again[0]);
    BufferHandle again_sum(s, again[1]);
    s.ExpectError("executable_execute with a donated argument", error,
                  LTC_ERROR_FAILED_PRECONDITION);
    ExpectInfo(s, b_buffer.get(), kFloat32, kMatrix, true, "the argument not donated");
  }
  Expect(a_tensor.Holds(FloatBytes(a)),
         "the plugin wrote into the memory buffer_from_host lent it (a donated argument's)");
  a_tensor.ExpectDeletedOnce("once its buffer was destroyed");
  b_tensor.ExpectDeletedOnce("once its buffer was destroyed");
}

// One buffer as both arguments, donated as one of them: INVALID_ARGUMENT,
// out_results left NULL, and the buffer keeps its data.
void CheckDonatedTwiceIsRefused(const Session& s, const std::string& format,
                                const std::string& graph) {
  SkipBeforeDonation(s);
  const ExecutableHandle executable = Compile(s, format, graph);
  const GraphValues a = Values(4);
  InputTensor a_tensor(kFloat32, kMatrix, FloatBytes(a));
  {
    BufferHandle a_buffer = Upload(s, a_tensor);
    LtcBuffer* const arguments[] = {a_buffer.get(), a_buffer.get()};
    const bool donated[] = {false, true};
    std::array<LtcBuffer*, 2> results{};
    LtcError* error = ExecuteTestGraph(s, executable.get(), arguments, donated, results);
    BufferHandle first(s, results[0]);
    BufferHandle second(s, results[1]);
    s.ExpectError("executable_execute with one buffer as both arguments, donated as one",
                  error, LTC_ERROR_INVALID_ARGUMENT);
    Expect(results[0] == nullptr && results[1] == nullptr,
           "executable_execute failed but set an entry of out_results");
    const std::string what = "a buffer whose donation was refused";
    const HostTensor back = ToHost(s, a_buffer.get(), what);
    ExpectHostTensor(*back, kFloat32, kMatrix, FloatBytes(a), what);
  }
  a_tensor.ExpectDeletedOnce("once its buffer was destroyed");
}

// ---------------------------------------------------------------------------
// Compile and execute.

void CheckCompileExecute(const Session& s, const std::string& format) {
  const std::optional<std::string> graph = WriteTestGraph(format);
  if (!graph) {
    Skip("the CTS cannot write " + format +
         (format == LTC_GRAPH_FORMAT_TORCHSCRIPT
              ? std::string(" (writing it needs LibTorch's TorchScript compiler, and the CTS "
                            "links no LibTorch)")
              : std::string(" (it writes ") + LTC_GRAPH_FORMAT_PORTABLE + " and " +
                    LTC_GRAPH_FORMAT_TORCHSCRIPT_IR + ")"));
  }
  const ExecutableHandle executable = Compile(s, format, *graph);
  LtcExecutableGetInfoArgs info{};
  info.struct_size = LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE;
  info.client = s.client;
  info.executable = executable.get();
  s.Ok("executable_get_info", s.api.executable_get_info(&info));
  Expect(info.out_num_parameters == 2 && info.out_num_results == 2 && info.out_device_ordinal == 0,
         "executable_get_info gave " + std::to_string(info.out_num_parameters) + " parameters, " +
             std::to_string(info.out_num_results) + " results, device " +
             std::to_string(info.out_device_ordinal) + "; expected 2, 2, 0");
  // Twice, with other values: the executable keeps no state between runs.
  RunTestGraph(s, executable.get(), Values(1), Values(-2.5f));
  RunTestGraph(s, executable.get(), Values(0.5f), Values(3));
  if (s.Has(offsetof(LtcPluginApi, client_synchronize))) {
    LtcClientSynchronizeArgs sync{};
    sync.struct_size = LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE;
    sync.client = s.client;
    s.Ok("client_synchronize after the executions", s.api.client_synchronize(&sync));
  }
}

// ---------------------------------------------------------------------------
// Threads.

// Runs `work(thread)` on kThreads threads at once; fails with the first
// thread's failure.
void OnThreads(const std::function<void(int)>& work) {
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> waiting{kThreads};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Start together, so the calls overlap.
      --waiting;
      while (waiting > 0) std::this_thread::yield();
      try {
        work(t);
      } catch (const std::exception& error) {
        failures[t] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    Expect(failures[t].empty(),
           "thread " + std::to_string(t) + " of " + std::to_string(kThreads) + ": " + failures[t]);
  }
}

void CheckConcurrentBuffers(const Session& s) {
  OnThreads([&](int thread) {
    for (int i = 0; i < kIterationsPerThread; ++i) {
      const GraphValues values = Values(static_cast<float>(thread * 100 + i));
      InputTensor tensor(kFloat32, kMatrix, FloatBytes(values));
      {
        BufferHandle buffer = Upload(s, tensor);
        const HostTensor back = ToHost(s, buffer.get(), "a float32 [2, 3] tensor");
        ExpectHostTensor(*back, kFloat32, kMatrix, FloatBytes(values), "a float32 [2, 3] tensor");
      }
      tensor.ExpectDeletedOnce("once its buffer was destroyed");
    }
  });
}

void CheckConcurrentExecute(const Session& s, const std::string& format, const std::string& graph) {
  const ExecutableHandle executable = Compile(s, format, graph);
  OnThreads([&](int thread) {
    for (int i = 0; i < kIterationsPerThread; ++i) {
      const auto first = static_cast<float>(thread * 100 + i);
      RunTestGraph(s, executable.get(), Values(first), Values(-first / 2));
    }
  });
}

// ---------------------------------------------------------------------------
// Counters.

LtcClientGetStatsArgs Stats(const Session& s) {
  LtcClientGetStatsArgs args{};
  args.struct_size = LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE;
  args.client = s.client;
  s.Ok("client_get_stats", s.api.client_get_stats(&args));
  return args;
}

void CheckStatsCount(const Session& s) {
  const LtcClientGetStatsArgs before = Stats(s);
  {
    BufferHandle scalar = FromScalar(s, DLDataType{kDLFloat, 64, 1}, 0, 1.0);
    const LtcClientGetStatsArgs with_buffer = Stats(s);
    Expect(with_buffer.out_live_buffers == before.out_live_buffers + 1,
           "client_get_stats: out_live_buffers went from " +
               std::to_string(before.out_live_buffers) + " to " +
               std::to_string(with_buffer.out_live_buffers) + " for one new buffer");
  }
  const LtcClientGetStatsArgs after = Stats(s);
  Expect(after.out_live_buffers == before.out_live_buffers,
         "client_get_stats: out_live_buffers is " + std::to_string(after.out_live_buffers) +
             " after destroying the one buffer made, expected " +
             std::to_string(before.out_live_buffers));
  if (const auto graph = WritableGraph(s)) {
    {
      const ExecutableHandle executable = Compile(s, graph->first, graph->second);
      const LtcClientGetStatsArgs compiled = Stats(s);
      Expect(compiled.out_live_executables == before.out_live_executables + 1 &&
                 compiled.out_compiles == before.out_compiles + 1,
             "client_get_stats: out_live_executables and out_compiles went from " +
                 std::to_string(before.out_live_executables) + ", " +
                 std::to_string(before.out_compiles) + " to " +
                 std::to_string(compiled.out_live_executables) + ", " +
                 std::to_string(compiled.out_compiles) + " for one compile");
      RunTestGraph(s, executable.get(), Values(1), Values(2));
      const LtcClientGetStatsArgs executed = Stats(s);
      Expect(executed.out_executes == before.out_executes + 1,
             "client_get_stats: out_executes went from " + std::to_string(before.out_executes) +
                 " to " + std::to_string(executed.out_executes) + " for one execute");
    }
    Expect(Stats(s).out_live_executables == before.out_live_executables,
           "client_get_stats: out_live_executables did not come back down after "
           "executable_destroy");
  }
}

}  // namespace

TierOutcome RunAbiTier(const std::shared_ptr<Plugin>& plugin, const ClientOptions& options,
                       Runner& runner) {
  Session s(plugin, options);
  // An unavailable plugin is the one result: hosts create no client for it.
  if (s.Has(offsetof(LtcPluginApi, plugin_check_available))) {
    LtcPluginCheckAvailableArgs args{};
    args.struct_size = LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE;
    if (LtcError* error = s.api.plugin_check_available(&args)) {
      runner.ReportSkip("abi", "the plugin is unavailable here (" + Describe(s.Take(error)) +
                                   "); no check can run");
      return TierOutcome::kUnavailable;
    }
  }

  runner.Run("abi.attributes", [&] { CheckAttributes(s); });
  CheckStructSizesBeforeClient(s, runner);

  const bool created = runner.Run("abi.client_create", [&] { s.client = CreateClient(s); });
  if (!created) {
    std::cout << "(the remaining checks need a client)\n";
    return TierOutcome::kRan;
  }
  if (!runner.Run("abi.client_get_info", [&] { CheckClientInfo(s); })) {
    std::cout << "(the remaining checks need the client's device count)\n";
    return TierOutcome::kRan;
  }
  const bool has_stats = s.Has(offsetof(LtcPluginApi, client_get_stats));
  std::optional<LtcClientGetStatsArgs> baseline;
  if (has_stats) {
    runner.Run("abi.client_get_stats", [&] {
      baseline = Stats(s);
      CheckStatsCount(s);
    });
  } else {
    runner.ReportSkip("abi.client_get_stats", "client_get_stats is NULL (OPTIONAL)");
  }

  runner.Run("abi.client_get_device_info", [&] { CheckDeviceInfo(s); });
  runner.Run("abi.errors", [&] { CheckErrorObjects(s); });
  CheckStructSizesWithClient(s, runner);

  const std::string nulled = "abi.outputs_nulled_on_failure.";
  runner.Run(nulled + "buffer_to_host", [&] { CheckToHostFailure(s); });
  runner.Run(nulled + "buffer_from_host", [&] { CheckFromHostFailure(s); });
  runner.Run(nulled + "buffer_from_scalar", [&] { CheckFromScalarFailure(s); });
  runner.Run(nulled + "buffer_create_placeholder", [&] { CheckPlaceholderFailure(s); });
  runner.Run(nulled + "client_get_device_info", [&] { CheckDeviceInfoFailure(s); });
  runner.Run(nulled + "client_compile", [&] { CheckCompileFailure(s); });
  runner.Run("abi.client_compile.unknown_format", [&] { CheckCompileUnknownFormat(s); });
  const auto graph = WritableGraph(s);
  const auto with_graph =
      [&](const std::string& name,
          void (*check)(const Session&, const std::string&, const std::string&)) {
        if (!graph) {
          runner.ReportSkip(name, "needs a compiled graph: " + NoWritableFormat(s));
        } else {
          runner.Run(name, [&] { check(s, graph->first, graph->second); });
        }
      };
  with_graph(nulled + "executable_execute", CheckExecuteFailure);

  for (const DtypeCase& dtype : kDtypes) {
    runner.Run(std::string("abi.dlpack_round_trip.") + dtype.name,
               [&] { CheckDtypeRoundTrip(s, dtype); });
  }
  runner.Run("abi.dlpack_round_trip.strided", [&] { CheckStridedRoundTrip(s); });
  runner.Run("abi.dlpack_round_trip.byte_offset", [&] { CheckByteOffsetRoundTrip(s); });
  runner.Run("abi.dlpack_round_trip.zero_size", [&] { CheckZeroSizeRoundTrip(s); });
  runner.Run("abi.dlpack_round_trip.zero_dim", [&] { CheckZeroDimRoundTrip(s); });
  runner.Run("abi.dlpack_deleter.refused_tensor", [&] { CheckRefusedTensorDeleter(s); });

  runner.Run("abi.scalar.int64", [&] {
    CheckScalar(s, DLDataType{kDLInt, 64, 1}, -7, 0, BytesOf(int64_t{-7}), "an int64 scalar -7");
  });
  runner.Run("abi.scalar.float64", [&] {
    CheckScalar(s, DLDataType{kDLFloat, 64, 1}, 0, 2.5, BytesOf(2.5), "a float64 scalar 2.5");
  });
  runner.Run("abi.scalar.bool", [&] {
    CheckScalar(s, DLDataType{LTC_DL_BOOL_CODE, 8, 1}, 1, 0, {1}, "a bool scalar true");
  });
  runner.Run("abi.placeholder",
             [&] { CheckPlaceholder(s, kMatrix, "a float32 [2, 3] placeholder"); });
  runner.Run("abi.placeholder.zero_dim",
             [&] { CheckPlaceholder(s, {}, "a float32 0-dim placeholder"); });
  with_graph("abi.placeholder.execute_fails", CheckExecutePlaceholder);
  with_graph("abi.donation.argument_emptied", CheckDonatedArgumentIsEmptied);
  with_graph("abi.donation.twice_refused", CheckDonatedTwiceIsRefused);

  for (const std::string& format : s.plugin->attributes().graph_formats) {
    runner.Run("abi.compile_execute." + format, [&] { CheckCompileExecute(s, format); });
  }

  runner.Run("abi.concurrency.buffers", [&] { CheckConcurrentBuffers(s); });
  with_graph("abi.concurrency.execute", CheckConcurrentExecute);

  if (has_stats && baseline) {
    runner.Run("abi.no_leaks", [&] {
      const LtcClientGetStatsArgs now = Stats(s);
      Expect(now.out_live_buffers == baseline->out_live_buffers &&
                 now.out_live_executables == baseline->out_live_executables,
             "with everything destroyed, client_get_stats reports " +
                 std::to_string(now.out_live_buffers) + " live buffers and " +
                 std::to_string(now.out_live_executables) + " live executables; there were " +
                 std::to_string(baseline->out_live_buffers) + " and " +
                 std::to_string(baseline->out_live_executables) + " at the start");
    });
  } else {
    runner.ReportSkip("abi.no_leaks", has_stats ? "client_get_stats failed at the start"
                                                : "client_get_stats is NULL (OPTIONAL)");
  }

  runner.Run("abi.destroy_never_fails", [&] {
    std::lock_guard<std::mutex> lock(s.destroy_mutex);
    Expect(s.destroy_failures.empty(), s.destroy_failures + " (it never fails, says the header)");
  });
  runner.Run("abi.client_destroy", [&] {
    LtcClientDestroyArgs args{};
    args.struct_size = LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE;
    args.client = std::exchange(s.client, nullptr);
    s.Ok("client_destroy", s.api.client_destroy(&args));
  });
  return TierOutcome::kRan;
}

}  // namespace ltc::cts
