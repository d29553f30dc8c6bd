#include "plugin_backend.h"

#include <ltc/dlpack_aten.h>

#include <ATen/record_function.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/csrc/lazy/core/hash.h>
#include <torch/csrc/lazy/core/metrics.h>
#include <torch/csrc/lazy/ts_backend/ts_lowering_context.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

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

// A graph compiled by the plugin. The host keeps the lowered graph for
// debugging output (backend text, parameter names).
class PluginComputation final : public torch::lazy::Computation {
 public:
  PluginComputation(std::shared_ptr<torch::jit::Graph> graph,
                    const PluginClient& client, LtcExecutable* executable)
      : graph_(std::move(graph)), client_(client), executable_(executable) {
    for (const torch::jit::Value* input : graph_->inputs()) {
      parameter_names_.push_back(input->debugName());
    }
    num_results_ = graph_->outputs().size();
  }
  ~PluginComputation() override {
    client_.api().executable_destroy(client_.get(), executable_);
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

  LtcExecutable* executable() const { return executable_; }
  size_t num_results() const { return num_results_; }
  const torch::jit::Graph& graph() const { return *graph_; }

 private:
  std::shared_ptr<torch::jit::Graph> graph_;
  const PluginClient& client_;
  LtcExecutable* executable_;
  std::vector<std::string> parameter_names_;
  size_t num_results_;
};

const PluginData& AsPluginData(const BackendDataPtr& data) {
  const auto* plugin_data = dynamic_cast<const PluginData*>(data.get());
  TORCH_CHECK(plugin_data != nullptr,
              "lazy data does not belong to the plugin backend (was another "
              "backend registered after ltc_plugins.init()?)");
  return *plugin_data;
}

LtcScalar ToLtcScalar(const at::Scalar& scalar) {
  LtcScalar result{};
  result.struct_size = LTC_SCALAR_STRUCT_SIZE;
  result.dtype = ToDLDataType(scalar.type());
  if (scalar.isFloatingPoint()) {
    result.f = scalar.toDouble();
  } else if (scalar.isIntegral(/*includeBool=*/true)) {
    result.i = scalar.toLong();
  } else {
    TORCH_CHECK(false, "scalars of type ", scalar.type(),
                " cannot be sent to a plugin");
  }
  return result;
}

}  // namespace

PluginData::PluginData(std::shared_ptr<BufferHandle> buffer,
                       const torch::lazy::Shape& shape,
                       const torch::lazy::BackendDevice& device, bool has_data)
    : TSData(shape, device), buffer_(std::move(buffer)), has_data_(has_data) {}

PluginData::PluginData(std::shared_ptr<BufferHandle> buffer,
                       const at::Scalar& scalar,
                       const torch::lazy::BackendDevice& device)
    : TSData(scalar, device), buffer_(std::move(buffer)), has_data_(true) {}

void PluginData::Assign(const torch::lazy::BackendData& data) {
  const auto& other = static_cast<const PluginData&>(data);
  buffer_ = other.buffer_;
  has_data_ = other.has_data_;
}

std::string ExportTorchScriptArchive(torch::jit::Graph& lowered) {
  std::shared_ptr<torch::jit::Graph> graph = lowered.copy();

  // Exported functions return a single value.
  torch::jit::Node* tuple = graph->createTuple(graph->outputs());
  graph->appendNode(tuple);
  while (!graph->outputs().empty()) graph->eraseOutput(0);
  graph->registerOutput(tuple->output());

  torch::jit::Module module(c10::QualifiedName("__torch__.ltc.LoweredGraph"));
  graph->insertInput(0, "self")->setType(module.type());
  auto* function = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), "forward"), graph);
  module.type()->addMethod(function);

  std::ostringstream archive;
  module.save(archive);
  return archive.str();
}

namespace {

// Types whose values print as IR text that parseIR reads back as they were.
bool IrTextCarries(const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
    case c10::TypeKind::IntType:
    case c10::TypeKind::FloatType:
    case c10::TypeKind::NumberType:  // "Scalar"
    case c10::TypeKind::BoolType:
    case c10::TypeKind::NoneType:
    case c10::TypeKind::StringType:
      return true;
    case c10::TypeKind::ListType:
    case c10::TypeKind::OptionalType:
      return IrTextCarries(type->containedTypes()[0]);
    default:
      return false;
  }
}

// A constant the IR text holds exactly: an int, bool, None or finite float.
bool IsTextLiteral(const torch::jit::Node& constant) {
  const c10::TypePtr& type = constant.output()->type();
  switch (type->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::BoolType:
    case c10::TypeKind::NoneType:
      return true;
    case c10::TypeKind::FloatType:
      return std::isfinite(constant.f(c10::attr::value));
    default:
      return false;
  }
}

bool IrTextCarries(const torch::jit::Block& block) {
  for (const torch::jit::Value* input : block.inputs()) {
    if (!IrTextCarries(input->type())) return false;
  }
  for (const torch::jit::Node* node : block.nodes()) {
    for (const torch::jit::Value* output : node->outputs()) {
      if (!IrTextCarries(output->type())) return false;
    }
    for (const torch::jit::Block* nested : node->blocks()) {
      if (!IrTextCarries(*nested)) return false;
    }
  }
  return true;
}

}  // namespace

c10::optional<std::string> ExportTorchScriptIr(torch::jit::Graph& lowered) {
  std::shared_ptr<torch::jit::Graph> graph = lowered.copy();
  // The lowering leaves dead tuple constructs (named tuples, which the
  // parser cannot read) behind multi-output ops.
  torch::jit::EliminateDeadCode(graph);

  // Constants other than numbers, booleans and None (tensors, lists,
  // strings, devices) do not all survive the text: they become trailing
  // inputs, their values pickled beside it.
  c10::impl::GenericList constants(c10::AnyType::get());
  for (auto it = graph->nodes().begin(); it != graph->nodes().end();) {
    torch::jit::Node* node = *it++;
    if (node->kind() != c10::prim::Constant || IsTextLiteral(*node)) continue;
    torch::jit::Value* input = graph->addInput();
    input->setType(node->output()->type());
    node->output()->replaceAllUsesWith(input);
    constants.push_back(torch::jit::toIValue(node->output()).value());
    node->destroy();
  }
  if (!IrTextCarries(*graph->block())) return c10::nullopt;

  const std::vector<char> bytes = torch::jit::pickle_save(
      c10::ivalue::Tuple::create(graph->toString(/*print_source_locations=*/false),
                                 std::move(constants)));
  return std::string(bytes.begin(), bytes.end());
}

PluginBackend::PluginBackend(std::unique_ptr<PluginClient> client)
    : client_(std::move(client)) {
  const LtcPluginApi& api = client_->api();
  LtcClient* handle = client_->get();

  int32_t count = 0;
  Check(api.client_device_count(handle, &count));
  TORCH_CHECK(count > 0, "plugin ", name(), " reports no devices");
  device_count_ = count;

  DLDeviceType fallback = kDLCPU;
  Check(api.client_eager_fallback_device(handle, &fallback));
  TORCH_CHECK(fallback == kDLCPU || fallback == kDLCUDA, "plugin ", name(),
              " names an eager fallback device this host cannot use (DLPack type ",
              static_cast<int>(fallback), ")");
  eager_fallback_ = fallback == kDLCUDA ? at::kCUDA : at::kCPU;

  const char* kind = nullptr;
  Check(api.client_device_kind(handle, &kind));
  std::string kind_upper(kind);
  for (char& c : kind_upper) c = static_cast<char>(std::toupper(c));
  device_type_ = std::make_shared<PluginDeviceType>(eager_fallback_, kind_upper);

  if (const char* format = std::getenv("LTC_GRAPH_FORMAT")) {
    const std::string name(format);
    TORCH_CHECK(name.empty() || name == LTC_GRAPH_FORMAT_TORCHSCRIPT_IR ||
                    name == LTC_GRAPH_FORMAT_TORCHSCRIPT,
                "LTC_GRAPH_FORMAT=", name, " is not a graph format this host writes (",
                LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, ", ", LTC_GRAPH_FORMAT_TORCHSCRIPT, ")");
    plugin_reads_ir_ = name != LTC_GRAPH_FORMAT_TORCHSCRIPT;
  }
}

std::shared_ptr<BufferHandle> PluginBackend::Own(LtcBuffer* buffer) const {
  return std::make_shared<BufferHandle>(*client_, buffer);
}

int32_t PluginBackend::Ordinal(const BackendDevice& device) const {
  const int64_t ordinal = device.ordinal();
  TORCH_CHECK(ordinal >= 0 && ordinal < device_count_, "lazy device ordinal ",
              ordinal, " out of range: plugin ", name(), " has ", device_count_,
              " device(s)");
  return static_cast<int32_t>(ordinal);
}

void PluginBackend::PrepareToExit() const {}

void PluginBackend::SetRngSeed(size_t seed) const {
  TORCH_LAZY_COUNTER("PluginSetRngSeed", 1);
  Check(client_->api().set_rng_seed(client_->get(), seed));
}

const torch::lazy::IrBuilder* PluginBackend::GetIrBuilder() const {
  // The TorchScript IR builder is reachable only through the in-tree backend
  // (its header needs generated files LibTorch does not ship).
  return torch::lazy::GetTSBackendImpl()->GetIrBuilder();
}

BackendDataPtr PluginBackend::MakeComputationDataFromTensor(
    const at::Tensor& tensor, const torch::lazy::Shape& shape,
    const BackendDevice& device) const {
  RECORD_FUNCTION("ltc::to_device", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginToDevice", 1);
  LtcBuffer* buffer = nullptr;
  Check(client_->api().buffer_from_host(client_->get(), ToDLPack(tensor),
                                         Ordinal(device), &buffer));
  return std::make_shared<PluginData>(Own(buffer), shape, device, true);
}

BackendDataPtr PluginBackend::MakeComputationDataFromScalar(
    const at::Scalar& scalar, const BackendDevice& device) const {
  return std::make_shared<PluginData>(
      ScalarBuffer(ToLtcScalar(scalar), Ordinal(device)), scalar, device);
}

std::shared_ptr<BufferHandle> PluginBackend::ScalarBuffer(const LtcScalar& scalar,
                                                          int32_t ordinal) const {
  constexpr size_t kMaxScalarBuffers = 1024;
  std::array<uint64_t, 3> key{
      uint64_t{scalar.dtype.code} | uint64_t{scalar.dtype.bits} << 8 |
          uint64_t{scalar.dtype.lanes} << 16 | uint64_t{static_cast<uint32_t>(ordinal)} << 32,
      static_cast<uint64_t>(scalar.i), 0};
  static_assert(sizeof(scalar.f) == sizeof(key[2]), "LtcScalar.f is a 64-bit double");
  std::memcpy(&key[2], &scalar.f, sizeof(key[2]));
  std::lock_guard<std::mutex> lock(scalar_mutex_);
  auto found = scalar_buffers_.find(key);
  if (found != scalar_buffers_.end()) return found->second;
  RECORD_FUNCTION("ltc::to_device", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginToDevice", 1);
  LtcBuffer* buffer = nullptr;
  Check(client_->api().buffer_from_scalar(client_->get(), &scalar, ordinal, &buffer));
  std::shared_ptr<BufferHandle> owned = Own(buffer);
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
  LtcBuffer* buffer = nullptr;
  Check(client_->api().buffer_create_placeholder(
      client_->get(), ToDLDataType(shape.scalar_type()), sizes.data(),
      static_cast<int32_t>(sizes.size()), Ordinal(device), &buffer));
  return std::make_shared<PluginData>(Own(buffer), shape, device, false);
}

BackendDataPtr PluginBackend::GetComputationDataFromNode(compat::LazyNode* node) const {
  // The DeviceData node's header is generated and not shipped; the in-tree
  // backend reads it for us and hands back our own PluginData.
  return torch::lazy::GetTSBackendImpl()->GetComputationDataFromNode(node);
}

at::Tensor PluginBackend::MakeTensorFromComputationData(
    const BackendDataPtr data, c10::optional<at::ScalarType>) const {
  RECORD_FUNCTION("ltc::from_device", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginFromDevice", 1);
  DLManagedTensor* tensor = nullptr;
  Check(client_->api().buffer_to_host(client_->get(), AsPluginData(data).buffer(),
                                       &tensor));
  return FromDLPack(tensor);
}

std::unique_ptr<torch::lazy::LoweringContext> PluginBackend::CreateLoweringContext(
    const std::string& name, BackendDevice device,
    c10::ArrayRef<compat::LazyNode*> post_order,
    torch::lazy::Util::EmissionMap emit_status) const {
  return std::make_unique<torch::lazy::TSLoweringContext>(
      name, std::move(device), post_order, std::move(emit_status));
}

std::unique_ptr<torch::lazy::LoweringContext> PluginBackend::CreateLoweringContext(
    const std::string& name, BackendDevice device) const {
  return std::make_unique<torch::lazy::TSLoweringContext>(name, std::move(device));
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
    TORCH_LAZY_COUNTER("PluginCompile", 1);
    auto* lowered = dynamic_cast<torch::lazy::TSComputation*>(instance.get());
    TORCH_CHECK(lowered != nullptr, "expected a TorchScript-lowered computation");
    LtcExecutable* executable = nullptr;
    if (plugin_reads_ir_) {
      if (c10::optional<std::string> ir = ExportTorchScriptIr(*lowered->graph())) {
        try {
          executable = CompileGraph(LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, *ir);
        } catch (const PluginError& e) {
          if (e.code() != LTC_ERROR_UNIMPLEMENTED) throw;
          plugin_reads_ir_ = false;
        }
      }
    }
    if (executable == nullptr) {
      TORCH_LAZY_COUNTER("PluginCompileArchive", 1);
      executable = CompileGraph(LTC_GRAPH_FORMAT_TORCHSCRIPT,
                                ExportTorchScriptArchive(*lowered->graph()));
    }
    compiled.push_back(
        std::make_shared<PluginComputation>(lowered->graph(), *client_, executable));
  }
  return compiled;
}

LtcExecutable* PluginBackend::CompileGraph(const char* format,
                                           const std::string& graph) const {
  const std::string cache_key =
      torch::lazy::HashToString(torch::lazy::DataHash(graph.data(), graph.size()));
  LtcCompileArgs args{};
  args.struct_size = LTC_COMPILE_ARGS_STRUCT_SIZE;
  args.format = format;
  args.graph = graph.data();
  args.graph_size = graph.size();
  args.cache_key = cache_key.c_str();
  args.device_ordinal = static_cast<int32_t>(default_ordinal_.load());
  LtcExecutable* executable = nullptr;
  Check(client_->api().compile(client_->get(), &args, &executable));
  return executable;
}

std::vector<BackendDataPtr> PluginBackend::ExecuteComputation(
    ComputationPtr computation, c10::ArrayRef<BackendDataPtr> arguments,
    const BackendDevice& device) const {
  const std::shared_ptr<at::ThreadLocalState> profiling = TakeProfilingState();
  c10::optional<at::ThreadLocalStateGuard> on_worker_thread;
  if (profiling && !at::hasThreadLocalCallbacks()) on_worker_thread.emplace(*profiling);
  RECORD_FUNCTION("ltc::execute", std::vector<c10::IValue>());
  TORCH_LAZY_COUNTER("PluginExecute", 1);
  const auto* compiled = dynamic_cast<const PluginComputation*>(computation.get());
  TORCH_CHECK(compiled != nullptr, "computation was not compiled by the plugin backend");

  std::vector<LtcBuffer*> buffers;
  buffers.reserve(arguments.size());
  for (const BackendDataPtr& argument : arguments) {
    buffers.push_back(AsPluginData(argument).buffer());
  }
  std::vector<LtcBuffer*> results(compiled->num_results(), nullptr);

  LtcExecuteArgs args{};
  args.struct_size = LTC_EXECUTE_ARGS_STRUCT_SIZE;
  args.executable = compiled->executable();
  args.device_ordinal = Ordinal(device);
  args.arguments = buffers.data();
  args.num_arguments = buffers.size();
  args.out_results = results.data();
  args.num_results = results.size();
  Check(client_->api().execute(client_->get(), &args));

  std::vector<BackendDataPtr> outputs;
  outputs.reserve(results.size());
  for (LtcBuffer* result : results) {
    std::shared_ptr<BufferHandle> owned = Own(result);
    LtcBufferInfo info{};
    info.struct_size = LTC_BUFFER_INFO_STRUCT_SIZE;
    Check(client_->api().buffer_get_info(client_->get(), result, &info));
    torch::lazy::Shape shape(ToScalarType(info.dtype),
                             c10::ArrayRef<int64_t>(info.shape, info.ndim));
    outputs.push_back(std::make_shared<PluginData>(std::move(owned), shape, device, true));
  }
  return outputs;
}

std::shared_ptr<torch::lazy::BackendDeviceType> PluginBackend::GetDefaultDeviceType() const {
  return device_type_;
}

void PluginBackend::SetDefaultDeviceType(int8_t type) {
  TORCH_CHECK(type == device_type_->type, "the lazy device type is fixed by plugin ",
              name(), " (", device_type_->toString(), ")");
}

int64_t PluginBackend::GetDefaultDeviceOrdinal() const { return default_ordinal_; }

void PluginBackend::SetDefaultDeviceOrdinal(int64_t ordinal) {
  TORCH_CHECK(ordinal >= 0 && ordinal < device_count_, "lazy device ordinal ",
              ordinal, " out of range: plugin ", name(), " has ", device_count_,
              " device(s)");
  default_ordinal_ = ordinal;
}

at::DeviceType PluginBackend::EagerFallbackDeviceType() const { return eager_fallback_; }

std::vector<BackendDevice> PluginBackend::GetBackendDevices() const {
  std::vector<BackendDevice> devices;
  for (int32_t ordinal = 0; ordinal < device_count_; ++ordinal) {
    devices.emplace_back(GetDefaultDeviceType(), ordinal);
  }
  return devices;
}

std::string PluginBackend::CreateMetricReport() const {
  if (!client_->plugin().HasSlot(offsetof(LtcPluginApi, client_get_stats))) return "";
  LtcClientStats stats{};
  stats.struct_size = LTC_CLIENT_STATS_STRUCT_SIZE;
  Check(client_->api().client_get_stats(client_->get(), &stats));
  std::ostringstream report;
  report << "Plugin " << name() << ": live buffers " << stats.live_buffers
         << ", live executables " << stats.live_executables << ", compiles "
         << stats.compiles << ", executes " << stats.executes << "\n";
  return report.str();
}

BackendDevice PluginBackend::GetBackendDevice(c10::Device device) const {
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
  std::vector<at::Tensor> results;
  for (const BackendDataPtr& result : ExecuteComputation(computation, arguments, device)) {
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
  if (const auto* compiled = dynamic_cast<const PluginComputation*>(computation.get())) {
    return compiled->graph().toString();
  }
  const auto* lowered = dynamic_cast<const torch::lazy::TSComputation*>(computation.get());
  TORCH_CHECK(lowered != nullptr, "not a TorchScript computation");
  return lowered->graph()->toString();
}

}  // namespace ltc::host
