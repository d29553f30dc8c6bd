#include "plugin_backend.h"

#include "graph_export.h"

#include <ltc/dlpack_aten.h>
#include <ltc/graph_format.h>
#include <ltc/loader.h>

#include <ATen/record_function.h>
#include <c10/util/Exception.h>
#include <torch/csrc/lazy/core/hash.h>
#include <torch/csrc/lazy/core/lazy_graph_executor.h>
#include <torch/csrc/lazy/core/metrics.h>
#include <torch/csrc/lazy/ts_backend/ts_lowering_context.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace ltc::host {
namespace {

using torch::lazy::BackendDataPtr;
using torch::lazy::BackendDevice;
using torch::lazy::ComputationPtr;

// The lazy device type, named after the plugin's device kind ("CPU").
struct PluginDeviceType final : torch::lazy::BackendDeviceType {
  PluginDeviceType(at::DeviceType type, std::string kind)
      : BackendDeviceType(static_cast<int8_t>(type)), kind(std::move(kind)) {}
  std::string toString() const override { return kind; }
  std::string kind;
};

// A computation that is a TorchScript graph: what the lazy core asks of
// every computation, answered from the graph.
class GraphComputation : public torch::lazy::Computation {
 public:
  explicit GraphComputation(std::shared_ptr<torch::jit::Graph> graph,
                            std::vector<bool> boolean_scalars = {})
      : graph_(std::move(graph)), boolean_scalars_(std::move(boolean_scalars)) {
    for (const torch::jit::Value* input : graph_->inputs()) {
      parameter_names_.push_back(input->debugName());
    }
  }

  int parameters_size() const override { return parameter_names_.size(); }
  const std::vector<torch::lazy::Shape>& parameter_shapes() const override {
    TORCH_CHECK(false, "parameter shapes are not tracked for TorchScript graphs");
  }
  const std::vector<std::string>& parameter_names() const override {
    return parameter_names_;
  }
  const torch::lazy::Shape& result_shape() const override {
    TORCH_CHECK(false, "result shapes are not tracked for TorchScript graphs");
  }
  const std::string to_string() const override { return graph_->toString(); }

  const std::shared_ptr<torch::jit::Graph>& graph() const { return graph_; }
  // Per graph input: a boolean scalar, which the lowering types `int`.
  // Known only where lowering typed the values (AnnotateValueTypes).
  const std::vector<bool>& boolean_scalars() const { return boolean_scalars_; }

 private:
  std::shared_ptr<torch::jit::Graph> graph_;
  std::vector<bool> boolean_scalars_;
  std::vector<std::string> parameter_names_;
};

// A lowered graph and the device it was lowered for. The lazy core hands
// Compile() computations without their device; this one keeps it.
class LoweredGraph final : public GraphComputation {
 public:
  LoweredGraph(std::shared_ptr<torch::jit::Graph> graph, std::vector<bool> boolean_scalars,
               int32_t ordinal)
      : GraphComputation(std::move(graph), std::move(boolean_scalars)), ordinal_(ordinal) {}
  int32_t ordinal() const { return ordinal_; }

 private:
  int32_t ordinal_;
};

// The sync about to execute on this thread: the placeholders the lazy core
// made for its outputs (FetchTensorData makes them, in output order, on the
// thread that then executes, right before it does), and why the plugin
// could not make one of them.
thread_local std::vector<std::weak_ptr<PluginData>> t_placeholders;
thread_local std::string t_placeholder_failure;
// A device whose lazy-core locker keeps a copy of a failure this thread has
// raised already, to raise it again at the device's next sync.
thread_local c10::optional<BackendDevice> t_stale_failure;

// Drops that copy. Called where each sync enters the host before it locks
// the device (the lazy core's lock is not reentrant): _mark_step asks for
// the device first, a read lowers the graph's nodes first.
void DropStaleFailure() {
  if (!t_stale_failure) return;
  const BackendDevice device = *t_stale_failure;
  t_stale_failure.reset();
  try {
    torch::lazy::LazyGraphExecutor::Get()->DeviceBarrier(device);
  } catch (const std::exception&) {
    // The copy: its original reached the caller of the failed sync.
  }
}

// A graph input whose value is gone for good (an asynchronous failure lost
// it): running the graph again cannot help.
class LostValue : public std::runtime_error {
 public:
  LostValue(size_t argument, std::string lost)
      : std::runtime_error("argument " + std::to_string(argument) + " has no value: " + lost),
        lost_(std::move(lost)) {}
  // Why, as the value itself says: what the graph's outputs lose too.
  const std::string& lost() const { return lost_; }

 private:
  std::string lost_;
};

// Whether a result of dtype `got` may stand where the lazy core expects
// `want`. The lazy core hands Python numbers to graphs as 0-dim float64
// tensors, so `int_tensor * 2.5` runs in float64 where its shape says
// float32 (the in-tree backend's graphs too), and reads cast back.
bool DtypeAgrees(at::ScalarType want, at::ScalarType got) {
  return want == got || (got == at::kDouble && at::isFloatingType(want));
}

// An exception's message without the C++ backtrace c10::Error carries.
std::string MessageOf(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) {
    return c10_error->what_without_backtrace();
  }
  return error.what();
}

const PluginData& AsPluginData(const BackendDataPtr& data) {
  const auto* plugin_data = dynamic_cast<const PluginData*>(data.get());
  TORCH_CHECK(plugin_data != nullptr,
              "lazy data does not belong to the plugin backend (was another "
              "backend registered after ltc_plugins.init()?)");
  return *plugin_data;
}

// LibTorch's TorchScript lowering, remembering the device it lowers for.
// For plugins that read ltc-graph-v1 it also types the graph's values from
// the lazy IR (the TorchScript lowering leaves every tensor a bare
// `Tensor`), so that the portable export knows each dtype and shape.
class PluginLoweringContext final : public torch::lazy::TSLoweringContext {
 public:
  PluginLoweringContext(const std::string& name, BackendDevice device,
                        c10::ArrayRef<compat::LazyNode*> post_order,
                        torch::lazy::Util::EmissionMap emit_status, bool annotate_types)
      : TSLoweringContext(name, std::move(device), post_order, std::move(emit_status)),
        post_order_(post_order.begin(), post_order.end()),
        annotate_types_(annotate_types) {}
  // Lowering one node at a time (debug dumps): nothing to type from.
  PluginLoweringContext(const std::string& name, BackendDevice device)
      : TSLoweringContext(name, std::move(device)) {}

  ComputationPtr Build() override {
    if (annotate_types_) AnnotateValueTypes();
    const ComputationPtr built = TSLoweringContext::Build();
    return std::make_shared<LoweredGraph>(
        std::static_pointer_cast<torch::lazy::TSComputation>(built)->graph(),
        std::move(boolean_scalars_), static_cast<int32_t>(device_.ordinal()));
  }

 private:
  static c10::TypePtr CompleteType(const torch::lazy::Shape& shape) {
    return c10::TensorType::createContiguous(shape.scalar_type(), at::kCPU, shape.sizes());
  }

  void AnnotateValueTypes() {
    torch::jit::Graph& graph = *this->graph();
    const std::vector<BackendDataPtr>& parameters = GetParametersData();
    for (size_t i = 0; i < parameters.size() && i < graph.inputs().size(); ++i) {
      const PluginData& data = AsPluginData(parameters[i]);
      if (!data.scalar) graph.inputs()[i]->setType(CompleteType(data.shape()));
      // Retyping these `bool` would make the ops that take them match no
      // schema: the export writes them bool instead.
      boolean_scalars_.push_back(data.scalar && data.scalar->isBoolean());
    }
    // Every output of the post order was lowered by the constructor, so
    // GetOutputOp finds it and lowers nothing.
    for (compat::LazyNode* node : post_order_) {
      for (size_t i = 0; i < node->num_outputs(); ++i) {
        torch::jit::Value* value = GetOutputOp(torch::lazy::Output(node, i));
        const auto tensor = value->type()->cast<c10::TensorType>();
        if (tensor && !tensor->scalarType()) value->setType(CompleteType(node->shape(i)));
      }
    }
  }

  std::vector<compat::LazyNode*> post_order_;
  bool annotate_types_ = false;
  std::vector<bool> boolean_scalars_;
};

// A graph compiled by the plugin, for the device it was lowered for and,
// on demand, for every other device the lazy core runs it on (its cache is
// keyed by graph, not by device). The host keeps the lowered graph for
// those compiles and for debugging output.
class PluginComputation final : public GraphComputation {
 public:
  PluginComputation(const PluginBackend& backend, const GraphComputation& lowered,
                    PluginBackend::CompiledGraph compiled)
      : GraphComputation(lowered.graph(), lowered.boolean_scalars()), backend_(backend) {
    const int32_t ordinal = compiled.executable.device_ordinal();
    executables_.emplace(ordinal, std::move(compiled));
  }

  // The executable for device `ordinal`, compiled the first time it is
  // asked for. Stable: entries are never erased while the computation lives.
  const PluginBackend::CompiledGraph& ExecutableFor(int32_t ordinal) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = executables_.find(ordinal);
    if (found == executables_.end()) {
      found = executables_
                  .emplace(ordinal, backend_.CompileGraph(*graph(), boolean_scalars(), ordinal))
                  .first;
    }
    return found->second;
  }

  // True the first time it is asked: a graph's disagreeing results are
  // logged once, not at every step.
  bool FirstDisagreement() const { return !disagreement_logged_.exchange(true); }

 private:
  const PluginBackend& backend_;
  mutable std::mutex mutex_;
  mutable std::map<int32_t, PluginBackend::CompiledGraph> executables_;
  mutable std::atomic<bool> disagreement_logged_{false};
};

// Counts the results whose dtype or shape is not what the lazy core expects
// (`expected`: its placeholders for them) and warns once per graph.
void CheckAgainstLazyShapes(const std::string& plugin, const PluginComputation& computation,
                            const std::string& cache_key,
                            const std::vector<BackendDataPtr>& outputs,
                            const std::vector<std::weak_ptr<PluginData>>& expected) {
  std::string disagreements;
  for (size_t i = 0; i < expected.size() && i < outputs.size(); ++i) {
    const std::shared_ptr<PluginData> placeholder = expected[i].lock();
    if (placeholder == nullptr) continue;
    const torch::lazy::Shape& want = placeholder->shape();
    const torch::lazy::Shape& got = outputs[i]->shape();
    if (want.sizes() == got.sizes() && DtypeAgrees(want.scalar_type(), got.scalar_type())) {
      continue;
    }
    TORCH_LAZY_COUNTER("PluginResultDisagrees", 1);
    disagreements += " result " + std::to_string(i) + " is " + got.to_string() +
                     " where the lazy core expects " + want.to_string() + ";";
  }
  if (disagreements.empty() || !computation.FirstDisagreement()) return;
  // A warning, not an error: LibTorch's own shape inference is wrong for a
  // few ops whose results every backend, the in-tree one too, computes as
  // eager does (native_batch_norm's saved statistics in eval mode, std
  // over every dimension of a tensor in 1.13).
  ltc::LogWarning(
      plugin + ": executable_execute: results disagree with what the lazy core expects of graph " +
      cache_key + ":" + disagreements +
      " their tensors change dtype or shape when read (once per graph; counter "
      "PluginResultDisagrees counts every time). Either the plugin breaks the contract of "
      "executable_execute or LibTorch's shape inference is wrong for an op of the graph.");
}

// The graph formats this host writes.
const std::vector<std::string>& HostFormats() {
  static const std::vector<std::string> formats = {
      LTC_GRAPH_FORMAT_PORTABLE, LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, LTC_GRAPH_FORMAT_TORCHSCRIPT};
  return formats;
}

bool HostWrites(const std::string& format) {
  const std::vector<std::string>& formats = HostFormats();
  return std::find(formats.begin(), formats.end(), format) != formats.end();
}

// The plugin's formats that this host writes, in the plugin's order, or
// only `requested` (LTC_GRAPH_FORMAT) when it is set.
std::vector<std::string> ChooseFormats(const PluginClient& client, const char* requested) {
  const std::vector<std::string>& reads = client.plugin().attributes().graph_formats;
  std::vector<std::string> formats;
  for (const std::string& format : reads) {
    if (HostWrites(format) && (requested == nullptr || *requested == '\0' || format == requested)) {
      formats.push_back(format);
    }
  }
  if (requested != nullptr && *requested != '\0') {
    TORCH_CHECK(HostWrites(requested), "LTC_GRAPH_FORMAT=", requested,
                " is not a graph format this host writes (",
                Join(HostFormats()), ")");
    TORCH_CHECK(!formats.empty(), "LTC_GRAPH_FORMAT=", requested, ": plugin ", client.name(),
                " does not read it; it reads ", Join(reads));
  }
  TORCH_CHECK(!formats.empty(), "plugin ", client.name(), " reads graph formats ",
              Join(reads), "; this host writes ",
              Join(HostFormats()));
  return formats;
}

// LTC_DONATE=0 turns donation off (plugin_backend.h, Donation). So does
// LibTorch 2.x: its lazy core was seen to keep using a buffer the host had
// donated (an uploaded tensor the user still held, in
// test_host_faults.py's null_result case), so reference counts there do not
// prove that nothing reads an argument again.
bool DonationEnabled() {
  if (TORCH_VERSION_MAJOR >= 2) return false;
  const char* setting = std::getenv("LTC_DONATE");
  return setting == nullptr || std::strcmp(setting, "0") != 0;
}

// A lazy-core scalar as buffer_from_scalar takes it.
struct ScalarValue {
  DLDataType dtype;
  int64_t int64_value = 0;
  double double_value = 0;
};

ScalarValue ToScalarValue(const at::Scalar& scalar) {
  ScalarValue value{ToDLDataType(scalar.type())};
  if (scalar.isFloatingPoint()) {
    value.double_value = scalar.toDouble();
  } else if (scalar.isIntegral(/*includeBool=*/true)) {
    value.int64_value = scalar.toLong();
  } else {
    TORCH_CHECK(false, "scalars of type ", scalar.type(), " cannot be sent to a plugin");
  }
  return value;
}

}  // namespace

void* ProfilerTracer::Begin(const char* name) const {
  // Most steps run unprofiled: then an event costs no allocation.
  if (!at::hasCallbacks()) return nullptr;
  auto event = std::make_unique<at::RecordFunction>(at::RecordScope::USER_SCOPE);
  if (!event->isActive()) return nullptr;
  event->before(std::string(name), c10::ArrayRef<const c10::IValue>{});
  return event.release();
}

void ProfilerTracer::End(void* token) const { delete static_cast<at::RecordFunction*>(token); }

PluginData::PluginData(std::shared_ptr<const Buffer> buffer, const torch::lazy::Shape& shape,
                       const torch::lazy::BackendDevice& device, bool has_data,
                       std::shared_ptr<ExecutionResults> execution)
    : TSData(shape, device), state_{std::move(buffer), has_data, nullptr, std::move(execution)} {}

PluginData::PluginData(std::shared_ptr<const Buffer> buffer, const at::Scalar& scalar,
                       const torch::lazy::BackendDevice& device)
    : TSData(scalar, device), state_{std::move(buffer), true, nullptr, nullptr} {}

PluginData::State PluginData::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

void PluginData::Assign(const torch::lazy::BackendData& data) {
  State other = static_cast<const PluginData&>(data).state();
  other.failed_run.reset();
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = std::move(other);
}

bool PluginData::HasValue() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_.has_data;
}

void PluginData::KeepPending(std::shared_ptr<FailedRun> run) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_.failed_run = std::move(run);
}

void PluginData::Lose(std::shared_ptr<ExecutionResults> execution) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_.execution = std::move(execution);
}

std::string PluginData::State::Lost() const {
  if (execution == nullptr) return "";
  std::lock_guard<std::mutex> lock(execution->mutex);
  return execution->lost;
}

PluginBackend::PluginBackend(std::unique_ptr<PluginClient> client)
    : client_(std::move(client)),
      formats_(ChooseFormats(*client_, std::getenv("LTC_GRAPH_FORMAT"))),
      annotate_types_(std::find(formats_.begin(), formats_.end(), LTC_GRAPH_FORMAT_PORTABLE) !=
                      formats_.end()),
      donate_(client_->plugin().agreed_minor() >= 1 && DonationEnabled()) {
  const DLDeviceType fallback = client_->eager_fallback_device();
  TORCH_CHECK(fallback == kDLCPU || fallback == kDLCUDA, "plugin ", name(),
              " names an eager fallback device this host cannot use (DLPack type ",
              static_cast<int>(fallback), ")");
  eager_fallback_ = fallback == kDLCUDA ? at::kCUDA : at::kCPU;

  std::string kind = client_->device_info(0).kind;
  for (char& c : kind) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  device_type_ = std::make_shared<PluginDeviceType>(eager_fallback_, kind);
}

int32_t PluginBackend::Ordinal(const BackendDevice& device) const {
  const int64_t ordinal = device.ordinal();
  TORCH_CHECK(ordinal >= 0 && ordinal < client_->device_count(), "lazy device ordinal ",
              ordinal, " out of range: plugin ", name(), " has ", client_->device_count(),
              " device(s)");
  return static_cast<int32_t>(ordinal);
}

void PluginBackend::PrepareToExit() const {}

void PluginBackend::SetRngSeed(size_t seed) const {
  TORCH_LAZY_COUNTER("PluginSetRngSeed", 1);
  client_->SetRngSeed(seed);
}

const torch::lazy::IrBuilder* PluginBackend::GetIrBuilder() const {
  // The TorchScript IR builder is reachable only through the in-tree backend
  // (its header needs generated files LibTorch does not ship).
  return torch::lazy::GetTSBackendImpl()->GetIrBuilder();
}

BackendDataPtr PluginBackend::MakeComputationDataFromTensor(
    const at::Tensor& tensor, const torch::lazy::Shape& shape,
    const BackendDevice& device) const {
  DropStaleFailure();
  RECORD_FUNCTION("ltc::to_device", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginToDevice", 1);
  const int32_t ordinal = Ordinal(device);
  Buffer buffer = client_->BufferFromHost(DLManagedTensorPtr(ToDLPack(tensor)), ordinal);
  return std::make_shared<PluginData>(std::make_shared<const Buffer>(std::move(buffer)), shape,
                                      device, true);
}

BackendDataPtr PluginBackend::MakeComputationDataFromScalar(
    const at::Scalar& scalar, const BackendDevice& device) const {
  const ScalarValue value = ToScalarValue(scalar);
  return std::make_shared<PluginData>(
      ScalarBuffer(value.dtype, value.int64_value, value.double_value, Ordinal(device)), scalar,
      device);
}

std::shared_ptr<const Buffer> PluginBackend::ScalarBuffer(DLDataType dtype, int64_t int64_value,
                                                          double double_value,
                                                          int32_t ordinal) const {
  constexpr size_t kMaxScalarBuffers = 1024;
  std::array<uint64_t, 3> key{
      uint64_t{dtype.code} | uint64_t{dtype.bits} << 8 | uint64_t{dtype.lanes} << 16 |
          uint64_t{static_cast<uint32_t>(ordinal)} << 32,
      static_cast<uint64_t>(int64_value), 0};
  static_assert(sizeof(double_value) == sizeof(key[2]), "a double is 64 bits");
  std::memcpy(&key[2], &double_value, sizeof(key[2]));
  std::lock_guard<std::mutex> lock(scalar_mutex_);
  auto found = scalar_buffers_.find(key);
  if (found != scalar_buffers_.end()) return found->second;
  RECORD_FUNCTION("ltc::to_device", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginToDevice", 1);
  auto owned = std::make_shared<const Buffer>(
      client_->BufferFromScalar(dtype, int64_value, double_value, ordinal));
  if (scalar_buffers_.size() >= kMaxScalarBuffers) scalar_buffers_.clear();
  scalar_buffers_.emplace(key, owned);
  return owned;
}

void PluginBackend::CaptureProfilingState() const {
  if (!at::hasThreadLocalCallbacks()) return;
  auto state = std::make_shared<at::ThreadLocalState>();
  std::lock_guard<std::mutex> lock(profiling_mutex_);
  profiling_state_ = std::move(state);
}

std::shared_ptr<at::ThreadLocalState> PluginBackend::TakeProfilingState() const {
  std::lock_guard<std::mutex> lock(profiling_mutex_);
  return std::move(profiling_state_);
}

BackendDataPtr PluginBackend::CreateDataPlaceholder(
    const BackendDevice& device, const torch::lazy::Shape& shape) const {
  CaptureProfilingState();
  const std::vector<int64_t> sizes(shape.sizes().begin(), shape.sizes().end());
  std::shared_ptr<const Buffer> buffer;
  try {
    buffer = std::make_shared<const Buffer>(
        client_->CreatePlaceholder(ToDLDataType(shape.scalar_type()), sizes, Ordinal(device)));
  } catch (const std::exception& error) {
    // Raising here would strand the placeholders made before this one: their
    // tensors have dropped their IR already. The execution that follows
    // raises it instead, with nothing lost.
    if (t_placeholder_failure.empty()) t_placeholder_failure = MessageOf(error);
  }
  auto data = std::make_shared<PluginData>(std::move(buffer), shape, device, false);
  t_placeholders.push_back(data);
  return data;
}

BackendDataPtr PluginBackend::GetComputationDataFromNode(compat::LazyNode* node) const {
  DropStaleFailure();
  // The DeviceData node's header is generated and not shipped; the in-tree
  // backend reads it for us and hands back our own PluginData.
  return torch::lazy::GetTSBackendImpl()->GetComputationDataFromNode(node);
}

at::Tensor PluginBackend::MakeTensorFromComputationData(
    const BackendDataPtr data, c10::optional<at::ScalarType>) const {
  RECORD_FUNCTION("ltc::from_device", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginFromDevice", 1);
  const PluginData& plugin_data = AsPluginData(data);
  RunAgain(plugin_data);
  const PluginData::State state = plugin_data.state();
  const std::string lost = state.Lost();
  TORCH_CHECK(lost.empty(), "ltc: this lazy tensor has no value: ", lost);
  TORCH_CHECK(state.has_data && state.get() != nullptr,
              "ltc: this lazy tensor has no value: nothing computed it");
  try {
    return FromDLPack(client_->ToHost(state.get()).release());
  } catch (const PluginError& error) {
    // An asynchronous failure leaves every result of its execution without
    // data (plugin_api.h): all of them are lost, and say so from now on.
    if (state.execution != nullptr && !client_->Info(state.get()).has_data) {
      state.execution->MarkLost(std::string("the graph that computed it failed: ") + error.what());
    }
    throw;
  }
}

std::unique_ptr<torch::lazy::LoweringContext> PluginBackend::CreateLoweringContext(
    const std::string& name, BackendDevice device,
    c10::ArrayRef<compat::LazyNode*> post_order,
    torch::lazy::Util::EmissionMap emit_status) const {
  return std::make_unique<PluginLoweringContext>(name, std::move(device), post_order,
                                                 std::move(emit_status), annotate_types_);
}

std::unique_ptr<torch::lazy::LoweringContext> PluginBackend::CreateLoweringContext(
    const std::string& name, BackendDevice device) const {
  return std::make_unique<PluginLoweringContext>(name, std::move(device));
}

std::vector<std::string> PluginBackend::GetCompilationDevices(
    const std::string&, c10::ArrayRef<std::string> devices) const {
  return std::vector<std::string>(devices.begin(), devices.end());
}

std::vector<ComputationPtr> PluginBackend::Compile(
    std::vector<ComputationPtr> instances) const {
  RECORD_FUNCTION("ltc::compile", std::vector<c10::IValue>());
  std::vector<ComputationPtr> compiled;
  compiled.reserve(instances.size());
  for (const ComputationPtr& instance : instances) {
    const auto* lowered = dynamic_cast<const LoweredGraph*>(instance.get());
    TORCH_CHECK(lowered != nullptr, "expected a graph lowered by the plugin backend");
    compiled.push_back(std::make_shared<PluginComputation>(
        *this, *lowered,
        CompileGraph(*lowered->graph(), lowered->boolean_scalars(), lowered->ordinal())));
  }
  return compiled;
}

PluginBackend::CompiledGraph PluginBackend::CompileGraph(
    torch::jit::Graph& graph, const std::vector<bool>& boolean_scalars, int32_t ordinal) const {
  TORCH_LAZY_COUNTER("PluginCompile", 1);
  // Why each format the plugin reads could not carry this graph.
  std::string refusals;
  for (const std::string& format : formats_) {
    c10::optional<std::string> serialized;
    std::vector<uint32_t> results;
    if (format == LTC_GRAPH_FORMAT_PORTABLE) {
      PortableGraph portable = ExportPortableGraph(graph, boolean_scalars);
      if (portable.bytes.empty()) {
        refusals += "\n  " + format + ": " + portable.reason;
        continue;
      }
      serialized = std::move(portable.bytes);
      results = std::move(portable.results);
    } else if (format == LTC_GRAPH_FORMAT_TORCHSCRIPT_IR) {
      serialized = ExportTorchScriptIr(graph);
      if (!serialized) {
        refusals += "\n  " + format + ": a value of a type the IR parser does not read back";
        continue;
      }
    } else {
      TORCH_LAZY_COUNTER("PluginCompileArchive", 1);
      serialized = ExportTorchScriptArchive(graph);
    }
    const std::string cache_key =
        torch::lazy::HashToString(torch::lazy::DataHash(serialized->data(), serialized->size()));
    Executable executable = client_->Compile(format, *serialized, cache_key, ordinal);
    const size_t want_results =
        results.empty() ? graph.outputs().size()
                        : *std::max_element(results.begin(), results.end()) + size_t{1};
    TORCH_CHECK(executable.num_parameters() == graph.inputs().size() &&
                    executable.num_results() == want_results,
                "plugin ", name(), " broke the contract of client_compile: its executable takes ",
                executable.num_parameters(), " arguments and makes ", executable.num_results(),
                " results, where the graph has ", graph.inputs().size(), " inputs and ",
                want_results, " results");
    return CompiledGraph{std::move(executable), std::move(results), cache_key};
  }
  TORCH_CHECK(false, "plugin ", name(), " reads only ", Join(formats_),
              ", which cannot carry this graph:", refusals, "\n", graph.toString());
}

std::vector<BackendDataPtr> PluginBackend::ExecuteComputation(
    ComputationPtr computation, c10::ArrayRef<BackendDataPtr> arguments,
    const BackendDevice& device) const {
  // The lazy core's sync: `arguments` is its own list of the graph's data.
  return ExecuteGraph(computation, arguments, device, /*donate=*/true);
}

std::vector<BackendDataPtr> PluginBackend::ExecuteGraph(const ComputationPtr& computation,
                                                        c10::ArrayRef<BackendDataPtr> arguments,
                                                        const BackendDevice& device,
                                                        bool donate) const {
  std::vector<std::weak_ptr<PluginData>> placeholders = std::exchange(t_placeholders, {});
  const std::string placeholder_failure = std::exchange(t_placeholder_failure, {});
  const auto* graph = dynamic_cast<const GraphComputation*>(computation.get());
  // Placeholders are this sync's when there is one per output (mark_step);
  // a read makes none, and its tensors keep their IR.
  if (graph == nullptr || placeholders.size() != graph->graph()->outputs().size()) {
    placeholders.clear();
  }
  const std::shared_ptr<at::ThreadLocalState> profiling = TakeProfilingState();
  c10::optional<at::ThreadLocalStateGuard> on_worker_thread;
  if (profiling && !at::hasThreadLocalCallbacks()) on_worker_thread.emplace(*profiling);
  try {
    if (!placeholder_failure.empty()) throw std::runtime_error(placeholder_failure);
    return Run(computation, arguments, device, placeholders, donate);
  } catch (const LostValue& error) {
    TORCH_LAZY_COUNTER("PluginExecuteFailed", 1);
    const auto lost = std::make_shared<ExecutionResults>();
    lost->MarkLost(error.lost());
    for (const std::weak_ptr<PluginData>& placeholder : placeholders) {
      if (const std::shared_ptr<PluginData> data = placeholder.lock()) data->Lose(lost);
    }
    t_stale_failure = device;
    throw std::runtime_error("ltc: running a graph on " + device.toString() + " failed: " +
                             error.what());
  } catch (const std::exception& error) {
    TORCH_LAZY_COUNTER("PluginExecuteFailed", 1);
    std::string kept;
    if (!placeholders.empty()) {
      auto run = std::make_shared<FailedRun>(
          computation, std::vector<BackendDataPtr>(arguments.begin(), arguments.end()), device,
          placeholders);
      for (const std::weak_ptr<PluginData>& placeholder : placeholders) {
        if (const std::shared_ptr<PluginData> data = placeholder.lock()) data->KeepPending(run);
      }
      kept = "; nothing is lost: the tensors it computes run it again when a sync or read "
             "needs them";
    }
    t_stale_failure = device;
    throw std::runtime_error("ltc: running a graph on " + device.toString() + " failed" + kept +
                             ": " + MessageOf(error));
  }
}

std::vector<bool> PluginBackend::Donatable(c10::ArrayRef<BackendDataPtr> arguments,
                                          const std::vector<PluginData::State>& states) const {
  std::unordered_map<const LtcBuffer*, int> uses;
  for (const PluginData::State& state : states) ++uses[state.get()];
  std::vector<bool> donated(arguments.size(), false);
  size_t count = 0;
  for (size_t i = 0; i < arguments.size(); ++i) {
    // One reference to the data (the caller's list), two to its buffer (the
    // data's own and the copy in `states`), one use in the call. Last, what
    // the plugin holds no data of (a result of a failed asynchronous
    // execution) fails the call for its own reason, donated or not.
    donated[i] = arguments[i].use_count() == 1 && states[i].buffer.use_count() == 2 &&
                 uses[states[i].get()] == 1 && !AsPluginData(arguments[i]).scalar &&
                 client_->Info(states[i].get()).has_data;
    count += donated[i];
  }
  if (count == 0) return {};
  TORCH_LAZY_COUNTER("PluginDonatedArguments", count);
  return donated;
}

std::vector<BackendDataPtr> PluginBackend::Run(
    const ComputationPtr& computation, c10::ArrayRef<BackendDataPtr> arguments,
    const BackendDevice& device, const std::vector<std::weak_ptr<PluginData>>& expected,
    bool donate) const {
  RECORD_FUNCTION("ltc::execute", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginExecute", 1);
  const auto* compiled = dynamic_cast<const PluginComputation*>(computation.get());
  TORCH_CHECK(compiled != nullptr, "computation was not compiled by the plugin backend");
  const CompiledGraph& executable = compiled->ExecutableFor(Ordinal(device));

  // The arguments' states keep their buffers alive through the execution.
  std::vector<PluginData::State> states;
  std::vector<LtcBuffer*> buffers;
  states.reserve(arguments.size());
  buffers.reserve(arguments.size());
  for (size_t i = 0; i < arguments.size(); ++i) {
    const PluginData& data = AsPluginData(arguments[i]);
    RunAgain(data);
    states.push_back(data.state());
    const std::string lost = states.back().Lost();
    if (!lost.empty()) throw LostValue(i, lost);
    TORCH_CHECK(states.back().has_data && states.back().get() != nullptr, "argument ", i,
                " has no value: nothing computed it");
    buffers.push_back(states.back().get());
  }
  const std::vector<bool> donated = donate && donate_ ? Donatable(arguments, states)
                                                     : std::vector<bool>();
  std::vector<Buffer> results;
  try {
    results = client_->Execute(executable.executable, buffers, donated);
  } catch (const PluginError& error) {
    // A donated argument the failed execution left without data is lost,
    // and so are the tensors the graph computes from it.
    for (size_t i = 0; i < donated.size(); ++i) {
      if (!donated[i] || client_->Info(buffers[i]).has_data) continue;
      throw LostValue(i, std::string("it was donated to a graph that failed: ") + error.what());
    }
    // An argument an asynchronous failure left without data (reported by
    // client_synchronize, say) is lost, and so is every result of its
    // execution: say so, rather than keep the graph to run again.
    for (size_t i = 0; i < arguments.size(); ++i) {
      const std::shared_ptr<ExecutionResults>& execution = states[i].execution;
      if (execution == nullptr || client_->Info(buffers[i]).has_data) continue;
      throw LostValue(i, execution->MarkLost(
                             std::string("the graph that computed it failed asynchronously; ") +
                             "running the next graph: " + error.what()));
    }
    throw;
  }

  const auto execution = std::make_shared<ExecutionResults>();
  std::vector<BackendDataPtr> distinct;
  distinct.reserve(results.size());
  for (Buffer& result : results) {
    const BufferInfo info = client_->Info(result.get());
    distinct.push_back(std::make_shared<PluginData>(
        std::make_shared<const Buffer>(std::move(result)),
        torch::lazy::Shape(ToScalarType(info.dtype), info.shape), device, true, execution));
  }
  std::vector<BackendDataPtr> outputs;
  if (executable.results.empty()) {
    outputs = std::move(distinct);
  } else {
    outputs.reserve(executable.results.size());
    for (uint32_t result : executable.results) outputs.push_back(distinct.at(result));
  }
  CheckAgainstLazyShapes(name(), *compiled, executable.cache_key, outputs, expected);
  return outputs;
}

void PluginBackend::RunAgain(const PluginData& data) const {
  // A copy: Assign clears the data's own, and another thread may just have.
  const std::shared_ptr<FailedRun> run = data.state().failed_run;
  if (run == nullptr) return;
  std::lock_guard<std::mutex> lock(run->mutex);
  if (data.HasValue()) return;
  TORCH_LAZY_COUNTER("PluginRunAgain", 1);
  // run->arguments is the only list of them: the sync that failed made it.
  const std::vector<BackendDataPtr> results =
      Run(run->computation, run->arguments, run->device, run->outputs, /*donate=*/true);
  for (size_t i = 0; i < results.size() && i < run->outputs.size(); ++i) {
    if (const std::shared_ptr<PluginData> output = run->outputs[i].lock()) {
      output->Assign(*results[i]);
    }
  }
  run->arguments.clear();
}

std::shared_ptr<torch::lazy::BackendDeviceType> PluginBackend::GetDefaultDeviceType() const {
  DropStaleFailure();
  return device_type_;
}

void PluginBackend::SetDefaultDeviceType(int8_t type) {
  TORCH_CHECK(type == device_type_->type, "the lazy device type is fixed by plugin ",
              name(), " (", device_type_->toString(), ")");
}

int64_t PluginBackend::GetDefaultDeviceOrdinal() const { return default_ordinal_; }

void PluginBackend::SetDefaultDeviceOrdinal(int64_t ordinal) {
  TORCH_CHECK(ordinal >= 0 && ordinal < client_->device_count(), "lazy device ordinal ",
              ordinal, " out of range: plugin ", name(), " has ", client_->device_count(),
              " device(s)");
  default_ordinal_ = ordinal;
}

at::DeviceType PluginBackend::EagerFallbackDeviceType() const { return eager_fallback_; }

std::vector<BackendDevice> PluginBackend::GetBackendDevices() const {
  DropStaleFailure();
  std::vector<BackendDevice> devices;
  for (int32_t ordinal = 0; ordinal < client_->device_count(); ++ordinal) {
    devices.emplace_back(GetDefaultDeviceType(), ordinal);
  }
  return devices;
}

std::string PluginBackend::CreateMetricReport() const {
  const std::optional<ClientStats> stats = client_->Stats();
  if (!stats) return "";
  std::ostringstream report;
  report << "Plugin " << name() << ": live buffers " << stats->live_buffers
         << ", live executables " << stats->live_executables << ", compiles "
         << stats->compiles << ", executes " << stats->executes << "\n";
  return report.str();
}

BackendDevice PluginBackend::GetBackendDevice(c10::Device device) const {
  DropStaleFailure();
  const int64_t ordinal = device.has_index() ? device.index() : default_ordinal_.load();
  return BackendDevice(GetDefaultDeviceType(), ordinal);
}

std::vector<at::Tensor> PluginBackend::RunComputation(
    const ComputationPtr& computation, const c10::List<c10::IValue>& inputs) const {
  const BackendDevice device(GetDefaultDeviceType(), default_ordinal_);
  std::vector<BackendDataPtr> arguments;
  arguments.reserve(inputs.size());
  for (const c10::IValue& input : inputs) {
    if (input.isTensor()) {
      const at::Tensor& tensor = input.toTensor();
      arguments.push_back(MakeComputationDataFromTensor(
          tensor, torch::lazy::Shape(tensor.scalar_type(), tensor.sizes()), device));
    } else {
      TORCH_CHECK(input.isScalar(), "graph inputs must be tensors or numbers, got ",
                  input.tagKind());
      arguments.push_back(MakeComputationDataFromScalar(input.toScalar(), device));
    }
  }
  // The uploads may alias `inputs`, which stay the caller's: no donation.
  std::vector<at::Tensor> results;
  for (const BackendDataPtr& result :
       ExecuteGraph(computation, arguments, device, /*donate=*/false)) {
    at::Tensor tensor = MakeTensorFromComputationData(result, c10::nullopt);
    results.push_back(eager_fallback_ == at::kCPU ? tensor : tensor.to(eager_fallback_));
  }
  return results;
}

c10::IValue PluginBackend::HostValue(const BackendDataPtr& data) const {
  const auto& plugin_data = AsPluginData(data);
  if (plugin_data.scalar) return *plugin_data.scalar;
  return MakeTensorFromComputationData(data, c10::nullopt);
}

std::string PluginBackend::GetComputationBackendText(const ComputationPtr computation) const {
  // debug.dump_ir(..., "backend") asks for the text of a freshly lowered,
  // uncompiled graph; the cache holds compiled ones.
  const auto* graph = dynamic_cast<const GraphComputation*>(computation.get());
  TORCH_CHECK(graph != nullptr, "not a graph lowered by the plugin backend");
  return graph->graph()->toString();
}

}  // namespace ltc::host
