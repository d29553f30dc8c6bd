// faulty: ts_cpu with the faults a test asks for in its client options, for
// the host's fault and broken-contract tests (tests/python/test_host_faults.py).
//
// The faults sit in a table wrapped around the adapter's, so they can do what
// the adapter never would (break the ABI's rules):
// - fail_call / fail_at / fail_times / fail_code: the fail_at-th call
//   (1-based) of one slot, and the fail_times - 1 calls after it, return an
//   error of code fail_code: "injected failure of <slot> call N".
// - fail_async: a failing execute succeeds instead, and its results fail
//   later, as plugin_api.h's "Asynchronous work" says: once, from
//   buffer_to_host of one of them or client_synchronize, and from then on
//   they hold no data. Executions that read them fail the same way.
// - complete_after_ms: every execution's results are ready only that long
//   after execute returns (a worker thread marks them), so work is pending.
// - break_contract: one rule of plugin_api.h broken on every call of the slot
//   concerned (kBreaches).
// - trace: a file that every call of a kSlots slot appends its fail_call name
//   to, one line each, so that a test can find the call to fail in a run
//   where nothing fails (call counts differ between LibTorch versions).
// One client per process: the tests start one interpreter per scenario.
#include "ts_client.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using ltc::plugin::MakeError;
using Clock = std::chrono::steady_clock;

// The slots a fault can hit, by the names fail_call takes.
const std::map<std::string, const char*> kSlots = {
    {"compile", "client_compile"},         {"execute", "executable_execute"},
    {"to_device", "buffer_from_host"},     {"to_host", "buffer_to_host"},
    {"scalar", "buffer_from_scalar"},      {"placeholder", "buffer_create_placeholder"},
    {"synchronize", "client_synchronize"},
};

// break_contract's values: what each breaks.
const std::map<std::string, const char*> kBreaches = {
    {"null_result", "executable_execute succeeds with result 0 NULL"},
    {"result_count", "executable_get_info reports one result more than execute makes"},
    {"result_dtype", "executable_execute's result 0 has another dtype than the graph's"},
    {"result_shape", "executable_execute's result 0 has another shape than the graph's"},
    {"null_message", "error_get_message gives NULL for every error"},
    {"null_deleter", "buffer_to_host returns a tensor without a deleter"},
    {"bad_dlpack", "buffer_to_host returns a tensor with ndim -1"},
    {"throws", "executable_execute throws a C++ exception instead of returning an error"},
};

struct Config {
  std::string fail_call;  // a key of kSlots, or empty
  int64_t fail_at = 1;
  int64_t fail_times = 1;
  LtcErrorCode fail_code = LTC_ERROR_INTERNAL;
  bool fail_async = false;
  int64_t complete_after_ms = 0;
  std::string breach;  // a key of kBreaches, or empty
  std::string trace;   // a file path, or empty
};

// An asynchronous failure, shared by the results it spoils.
struct AsyncFailure {
  std::string message;
  bool reported = false;  // guarded by State::mutex
};

// Everything the wrapped table keeps between calls.
struct State {
  const LtcPluginApi* inner = nullptr;
  Config config;  // set by client_create, read-only after it
  std::mutex mutex;
  std::condition_variable ready;
  std::map<std::string, int64_t> calls;                             // per kSlots key
  std::map<LtcBuffer*, std::shared_ptr<AsyncFailure>> spoiled;      // results of failed executions
  std::map<LtcBuffer*, Clock::time_point> pending;                  // results not ready yet
};

State& state() {
  static State* s = new State;  // never destroyed: buffers may outlive static destruction
  return *s;
}

// complete_after_ms: marks results ready in the order they were made.
class Completer {
 public:
  static Completer& Get() {
    static Completer completer;
    return completer;
  }
  void Add(LtcBuffer* buffer, Clock::time_point at) {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.pending[buffer] = at;
    queue_.push_back({buffer, at});
    s.ready.notify_all();
  }
  ~Completer() {
    {
      std::lock_guard<std::mutex> lock(state().mutex);
      stop_ = true;
    }
    state().ready.notify_all();
    worker_.join();
  }

 private:
  Completer() : worker_([this] { Run(); }) {}
  void Run() {
    State& s = state();
    std::unique_lock<std::mutex> lock(s.mutex);
    while (!stop_) {
      if (queue_.empty()) {
        s.ready.wait(lock);
        continue;
      }
      const auto [buffer, at] = queue_.front();
      if (Clock::now() < at) {
        s.ready.wait_until(lock, at);
        continue;
      }
      queue_.pop_front();
      auto found = s.pending.find(buffer);
      if (found != s.pending.end() && found->second == at) s.pending.erase(found);
      s.ready.notify_all();
    }
  }
  std::deque<std::pair<LtcBuffer*, Clock::time_point>> queue_;  // guarded by state().mutex
  bool stop_ = false;                                            // guarded by state().mutex
  std::thread worker_;
};

void WaitUntilReady(std::unique_lock<std::mutex>& lock, LtcBuffer* buffer) {
  state().ready.wait(lock, [&] { return state().pending.count(buffer) == 0; });
}

// Counts (and traces) a call of `slot` (a kSlots key); whether it is one the
// test wants to fail.
bool ShouldFail(const std::string& slot) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const int64_t n = ++s.calls[slot];
  if (!s.config.trace.empty()) {
    // Opened for each line: the test appends its own lines to the file too.
    if (std::FILE* file = std::fopen(s.config.trace.c_str(), "a")) {
      std::fprintf(file, "%s\n", slot.c_str());
      std::fclose(file);
    }
  }
  return s.config.fail_call == slot && n >= s.config.fail_at &&
         n < s.config.fail_at + s.config.fail_times;
}

std::string InjectedMessage(const std::string& slot) {
  std::lock_guard<std::mutex> lock(state().mutex);
  return "injected failure of " + slot + " call " + std::to_string(state().calls[slot]);
}

LtcError* Injected(const std::string& slot) {
  return MakeError(state().config.fail_code, InjectedMessage(slot));
}

bool Breaks(const char* breach) { return state().config.breach == breach; }

// Reads the options the fault table acts on; the adapter checks their types.
LtcError* ReadConfig(const LtcClientCreateArgs& args) {
  Config config;
  for (size_t i = 0; i < args.num_options; ++i) {
    const LtcNamedValue& option = *args.options[i];
    const std::string name = option.name;
    if (name == "fail_call" && option.type == LTC_VALUE_STRING) {
      config.fail_call = option.string_value;
      if (kSlots.count(config.fail_call) == 0) {
        return MakeError(LTC_ERROR_INVALID_ARGUMENT, "unknown fail_call " + config.fail_call);
      }
    } else if (name == "fail_at" && option.type == LTC_VALUE_INT64) {
      config.fail_at = option.int64_value;
    } else if (name == "fail_times" && option.type == LTC_VALUE_INT64) {
      config.fail_times = option.int64_value;
    } else if (name == "fail_code" && option.type == LTC_VALUE_INT64) {
      config.fail_code = static_cast<LtcErrorCode>(option.int64_value);
    } else if (name == "fail_async" && option.type == LTC_VALUE_BOOL) {
      config.fail_async = option.bool_value;
    } else if (name == "complete_after_ms" && option.type == LTC_VALUE_INT64) {
      config.complete_after_ms = option.int64_value;
    } else if (name == "trace" && option.type == LTC_VALUE_STRING) {
      config.trace = option.string_value;
    } else if (name == "break_contract" && option.type == LTC_VALUE_STRING) {
      config.breach = option.string_value;
      if (kBreaches.count(config.breach) == 0) {
        return MakeError(LTC_ERROR_INVALID_ARGUMENT, "unknown break_contract " + config.breach);
      }
    }
  }
  state().config = config;
  return nullptr;
}

// A buffer of zeros made through the inner table, for the dtype and shape
// breaches.
LtcBuffer* Zeros(LtcClient* client, DLDataType dtype, std::vector<int64_t> shape) {
  struct Owned {
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
    DLManagedTensor managed{};
  };
  auto* owned = new Owned{std::move(shape), {}, {}};
  int64_t elements = 1;
  for (int64_t extent : owned->shape) elements *= extent;
  owned->bytes.assign(static_cast<size_t>(elements) * dtype.bits / 8 + 1, 0);
  DLTensor& t = owned->managed.dl_tensor;
  t.data = owned->bytes.data();
  t.device = {kDLCPU, 0};
  t.ndim = static_cast<int32_t>(owned->shape.size());
  t.dtype = dtype;
  t.shape = owned->shape.data();
  owned->managed.manager_ctx = owned;
  owned->managed.deleter = [](DLManagedTensor* m) { delete static_cast<Owned*>(m->manager_ctx); };
  LtcBufferFromHostArgs args{};
  args.struct_size = LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE;
  args.client = client;
  args.tensor = &owned->managed;
  LtcError* error = state().inner->buffer_from_host(&args);
  if (error != nullptr) {
    LtcErrorDestroyArgs destroy{LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE, nullptr, error};
    state().inner->error_destroy(&destroy);
    return nullptr;
  }
  return args.out_buffer;
}

void DestroyBuffer(LtcClient* client, LtcBuffer* buffer) {
  LtcBufferDestroyArgs args{LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE, nullptr, client, buffer};
  state().inner->buffer_destroy(&args);
}

// Replaces result 0 with zeros of another dtype or shape.
void SwapFirstResult(LtcExecutableExecuteArgs* args, bool change_dtype) {
  if (args->num_results == 0) return;
  LtcBufferGetInfoArgs info{};
  info.struct_size = LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE;
  info.client = args->client;
  info.buffer = args->out_results[0];
  if (state().inner->buffer_get_info(&info) != nullptr) return;
  DLDataType dtype = info.out_dtype;
  std::vector<int64_t> shape(info.out_shape, info.out_shape + info.out_ndim);
  if (change_dtype) {
    dtype = dtype.code == kDLFloat ? DLDataType{kDLInt, 32, 1} : DLDataType{kDLFloat, 32, 1};
  } else {
    shape.push_back(2);
  }
  LtcBuffer* swapped = Zeros(args->client, dtype, shape);
  if (swapped == nullptr) return;
  DestroyBuffer(args->client, args->out_results[0]);
  args->out_results[0] = swapped;
}

// --- The wrapped slots ---------------------------------------------------------

LtcError* ClientCreate(LtcClientCreateArgs* args) {
  if (LtcError* error = ReadConfig(*args)) return error;
  return state().inner->client_create(args);
}

LtcError* Compile(LtcClientCompileArgs* args) {
  if (ShouldFail("compile")) return Injected("compile");
  return state().inner->client_compile(args);
}

LtcError* ExecutableGetInfo(LtcExecutableGetInfoArgs* args) {
  LtcError* error = state().inner->executable_get_info(args);
  if (error == nullptr && Breaks("result_count")) ++args->out_num_results;
  return error;
}

LtcError* Execute(LtcExecutableExecuteArgs* args) {
  if (Breaks("throws")) throw std::runtime_error("faulty threw this across the C ABI");
  State& s = state();
  std::shared_ptr<AsyncFailure> spoiled;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    for (size_t i = 0; i < args->num_arguments; ++i) {
      WaitUntilReady(lock, args->arguments[i]);
      auto found = s.spoiled.find(args->arguments[i]);
      if (found == s.spoiled.end()) continue;
      if (found->second->reported) {
        return MakeError(LTC_ERROR_FAILED_PRECONDITION,
                         "argument " + std::to_string(i) + " is a result of a failed execution");
      }
      spoiled = found->second;
    }
  }
  if (ShouldFail("execute")) {
    if (!s.config.fail_async) return Injected("execute");
    spoiled = std::make_shared<AsyncFailure>(AsyncFailure{InjectedMessage("execute") + " (async)"});
  }
  LtcError* error = s.inner->executable_execute(args);
  if (error != nullptr) return error;
  if (spoiled != nullptr) {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (size_t i = 0; i < args->num_results; ++i) s.spoiled[args->out_results[i]] = spoiled;
  }
  if (s.config.complete_after_ms > 0) {
    const auto at = Clock::now() + std::chrono::milliseconds(s.config.complete_after_ms);
    for (size_t i = 0; i < args->num_results; ++i) Completer::Get().Add(args->out_results[i], at);
  }
  if (Breaks("null_result") && args->num_results > 0) {
    DestroyBuffer(args->client, args->out_results[0]);
    args->out_results[0] = nullptr;
  }
  if (Breaks("result_dtype") || Breaks("result_shape")) {
    SwapFirstResult(args, Breaks("result_dtype"));
  }
  return nullptr;
}

LtcError* BufferFromHost(LtcBufferFromHostArgs* args) {
  if (ShouldFail("to_device")) {
    args->tensor->deleter(args->tensor);  // ownership passed to us, as on every failure
    return Injected("to_device");
  }
  return state().inner->buffer_from_host(args);
}

LtcError* BufferFromScalar(LtcBufferFromScalarArgs* args) {
  if (ShouldFail("scalar")) return Injected("scalar");
  return state().inner->buffer_from_scalar(args);
}

LtcError* CreatePlaceholder(LtcBufferCreatePlaceholderArgs* args) {
  if (ShouldFail("placeholder")) return Injected("placeholder");
  return state().inner->buffer_create_placeholder(args);
}

LtcError* ToHost(LtcBufferToHostArgs* args) {
  State& s = state();
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    WaitUntilReady(lock, args->buffer);
    auto found = s.spoiled.find(args->buffer);
    if (found != s.spoiled.end()) {
      if (found->second->reported) {
        return MakeError(LTC_ERROR_FAILED_PRECONDITION, "the result of a failed execution");
      }
      found->second->reported = true;
      return MakeError(s.config.fail_code, found->second->message);
    }
  }
  if (ShouldFail("to_host")) return Injected("to_host");
  LtcError* error = s.inner->buffer_to_host(args);
  if (error != nullptr) return error;
  if (Breaks("null_deleter")) args->out_tensor->deleter = nullptr;  // leaks, as it must
  if (Breaks("bad_dlpack")) args->out_tensor->dl_tensor.ndim = -1;
  return nullptr;
}

LtcError* BufferGetInfo(LtcBufferGetInfoArgs* args) {
  LtcError* error = state().inner->buffer_get_info(args);
  if (error != nullptr) return error;
  std::lock_guard<std::mutex> lock(state().mutex);
  auto found = state().spoiled.find(args->buffer);
  if (found != state().spoiled.end() && found->second->reported) args->out_has_data = false;
  return nullptr;
}

LtcError* BufferDestroy(LtcBufferDestroyArgs* args) {
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    state().spoiled.erase(args->buffer);
    state().pending.erase(args->buffer);
  }
  return state().inner->buffer_destroy(args);
}

LtcError* Synchronize(LtcClientSynchronizeArgs* args) {
  if (ShouldFail("synchronize")) return Injected("synchronize");
  State& s = state();
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.ready.wait(lock, [&] { return s.pending.empty(); });
    for (auto& [buffer, failure] : s.spoiled) {
      if (failure->reported) continue;
      failure->reported = true;
      return MakeError(s.config.fail_code, failure->message);
    }
  }
  return s.inner->client_synchronize(args);
}

void ErrorGetMessage(LtcErrorGetMessageArgs* args) {
  state().inner->error_get_message(args);
  if (Breaks("null_message")) {
    args->out_message = nullptr;
    args->out_message_size = 0;
  }
}

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<ltc::torchscript::TsClient>(context, at::kCPU, /*device_count=*/1);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"faulty",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"test plugin: ts_cpu with injected faults and broken contracts",
    /*vendor=*/"ltc-plugins tests",
    /*build=*/nullptr,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, LTC_GRAPH_FORMAT_TORCHSCRIPT},
    /*libtorch_version=*/ltc::torchscript::kLibtorchVersion,
    /*options=*/
    {ltc::torchscript::kOptimizeOption,
     ltc::torchscript::kPoolMbOption,
     {"fail_call", LTC_VALUE_STRING,
      "the slot to fail: compile, execute, to_device, to_host, scalar, placeholder, synchronize"},
     {"fail_at", LTC_VALUE_INT64, "the first call of fail_call that fails, 1-based (default 1)"},
     {"fail_times", LTC_VALUE_INT64, "how many calls in a row fail (default 1)"},
     {"fail_code", LTC_VALUE_INT64, "the LtcErrorCode of injected failures (default INTERNAL)"},
     {"fail_async", LTC_VALUE_BOOL, "a failing execute fails asynchronously (default false)"},
     {"complete_after_ms", LTC_VALUE_INT64,
      "results are ready this long after execute returns (default 0)"},
     {"break_contract", LTC_VALUE_STRING,
      "a rule to break: null_result, result_count, result_dtype, result_shape, null_message, "
      "null_deleter, bad_dlpack, throws"},
     {"trace", LTC_VALUE_STRING, "a file each slot call appends its fail_call name to"}},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

const LtcPluginApi* Table() {
  static const LtcPluginApi table = [] {
    state().inner = ltc::plugin::MakePluginApi(kDescriptor);
    LtcPluginApi wrapped = *state().inner;
    wrapped.client_create = ClientCreate;
    wrapped.client_compile = Compile;
    wrapped.executable_get_info = ExecutableGetInfo;
    wrapped.executable_execute = Execute;
    wrapped.buffer_from_host = BufferFromHost;
    wrapped.buffer_from_scalar = BufferFromScalar;
    wrapped.buffer_create_placeholder = CreatePlaceholder;
    wrapped.buffer_to_host = ToHost;
    wrapped.buffer_get_info = BufferGetInfo;
    wrapped.buffer_destroy = BufferDestroy;
    wrapped.client_synchronize = Synchronize;
    wrapped.error_get_message = ErrorGetMessage;
    return wrapped;
  }();
  return &table;
}

}  // namespace

extern "C" LTC_PLUGIN_EXPORT const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major,
                                                                  uint32_t /*host_abi_minor*/) {
  return host_abi_major == LTC_PLUGIN_ABI_MAJOR ? Table() : nullptr;
}
