#include "ts_client.h"

#include "graph_rewrites.h"

#include <ltc/dlpack_aten.h>
#include <ltc/torch_compat.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>

namespace ltc::torchscript {

using plugin::Error;

namespace {

std::vector<int64_t> ShapeOf(const at::Tensor& tensor) {
  return std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end());
}

bool IsScalarType(const c10::TypePtr& type) {
  return type->kind() == c10::TypeKind::FloatType ||
         type->kind() == c10::TypeKind::IntType ||
         type->kind() == c10::TypeKind::BoolType;
}

}  // namespace

TsBuffer::TsBuffer(at::Tensor tensor, int32_t device)
    : tensor_(std::move(tensor)),
      dtype_(ToDLDataType(tensor_.scalar_type())),
      shape_(ShapeOf(tensor_)),
      device_(device) {}

TsBuffer::TsBuffer(const at::Scalar& scalar, at::Tensor tensor, int32_t device)
    : TsBuffer(std::move(tensor), device) {
  scalar_ = scalar;
}

TsBuffer::TsBuffer(DLDataType dtype, std::vector<int64_t> shape, int32_t device)
    : dtype_(dtype), shape_(std::move(shape)), device_(device) {}

at::Scalar TsBuffer::scalar() const {
  if (scalar_) return *scalar_;
  if (tensor_.numel() != 1) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                "a scalar graph input needs a one-element buffer, got " +
                    std::to_string(tensor_.numel()) + " elements");
  }
  return tensor_.item();
}

TsExecutable::TsExecutable(std::shared_ptr<torch::jit::Graph> graph, bool optimize)
    : graph_(std::move(graph)), num_results_(graph_->outputs().size()) {
  for (const torch::jit::Value* input : graph_->inputs()) {
    scalar_parameter_.push_back(IsScalarType(input->type()));
  }
  if (optimize) {
    // Views first: a copy of a copy that feeds a product is then two views,
    // where the other order leaves the inner copy.
    ReplaceViewCopiesWithViews(*graph_);
    ElideTransposeCopies(*graph_);
    FoldZeroAdd(*graph_);
    ZeroWithoutCopying(*graph_);
    UpdateScratchValuesInPlace(*graph_);
    torch::jit::EliminateDeadCode(graph_);
    GRAPH_DUMP("after the plugin's rewrites:", graph_);
  }
  executor_ = std::make_unique<torch::jit::GraphExecutor>(graph_, "");
}

std::vector<at::Tensor> TsExecutable::Run(
    const std::vector<plugin::Buffer*>& arguments) {
  torch::jit::Stack stack;
  stack.reserve(arguments.size());
  for (size_t i = 0; i < arguments.size(); ++i) {
    const auto& buffer = static_cast<const TsBuffer&>(*arguments[i]);
    if (scalar_parameter_[i]) {
      stack.emplace_back(buffer.scalar());
    } else {
      stack.emplace_back(buffer.tensor());
    }
  }
  executor_->run(stack);
  std::vector<at::Tensor> results;
  results.reserve(stack.size());
  for (const c10::IValue& value : stack) {
    results.push_back(value.toTensor());
  }
  return results;
}

std::shared_ptr<torch::jit::Graph> ReadTorchScriptArchive(
    const void* data, size_t size, const at::Device& device) {
  std::istringstream stream(std::string(static_cast<const char*>(data), size));
  torch::jit::Module module = torch::jit::load(stream, device);
  std::shared_ptr<torch::jit::Graph> graph =
      module.get_method("forward").graph()->copy();

  // The archive's module has no attributes, so nothing reads `self`.
  if (graph->inputs().empty() || graph->inputs()[0]->hasUses()) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, "archive's forward uses self");
  }
  graph->eraseInput(0);

  // Exported functions return one value: the host packed its results into a
  // tuple. Unpack it so the graph runs exactly as the host lowered it.
  if (graph->outputs().size() != 1 ||
      graph->outputs()[0]->node()->kind() != c10::prim::TupleConstruct) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                "archive's forward must return a tuple of tensors");
  }
  torch::jit::Node* tuple = graph->outputs()[0]->node();
  graph->eraseOutput(0);
  for (torch::jit::Value* result : tuple->inputs()) {
    graph->registerOutput(result);
  }
  tuple->destroy();
  return graph;
}

std::shared_ptr<torch::jit::Graph> ReadTorchScriptIr(const void* data, size_t size,
                                                     const at::Device& device) {
  const auto* bytes = static_cast<const char*>(data);
  const c10::IValue value = torch::jit::pickle_load(std::vector<char>(bytes, bytes + size));
  const auto& elements = value.isTuple() ? value.toTupleRef().elements()
                                         : c10::ArrayRef<c10::IValue>();
  if (elements.size() != 2 || !elements[0].isString() || !elements[1].isList()) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                "a " LTC_GRAPH_FORMAT_TORCHSCRIPT_IR " graph must be a pickled "
                "(str, list) tuple");
  }
  auto graph = std::make_shared<torch::jit::Graph>();
  torch::jit::parseIR(elements[0].toStringRef(), graph.get());

  const c10::ArrayRef<c10::IValue> constants = elements[1].toListRef();
  if (graph->inputs().size() < constants.size()) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, "graph has fewer inputs than constants");
  }
  const size_t first = graph->inputs().size() - constants.size();
  torch::jit::WithInsertPoint at_start(graph->block()->nodes().front());
  for (size_t i = 0; i < constants.size(); ++i) {
    const c10::IValue& value = constants[i];
    torch::jit::Value* constant =
        graph->insertConstant(value.isTensor() ? value.toTensor().to(device) : value);
    constant->setType(graph->inputs()[first + i]->type());
    graph->inputs()[first + i]->replaceAllUsesWith(constant);
  }
  for (size_t i = constants.size(); i > 0; --i) graph->eraseInput(first + i - 1);
  return graph;
}

namespace {

// LTC_TS_CPU_POOL_MB, else 1 GiB; 0 keeps no blocks.
size_t PoolCapacity() {
  const char* setting = std::getenv("LTC_TS_CPU_POOL_MB");
  if (setting == nullptr || *setting == '\0') return size_t{1} << 30;
  char* end = nullptr;
  const unsigned long long mib = std::strtoull(setting, &end, 10);
  if (*end != '\0') {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                std::string("LTC_TS_CPU_POOL_MB must be a number of MiB, got '") + setting + "'");
  }
  return static_cast<size_t>(mib) << 20;
}

}  // namespace

TsClient::TsClient(at::DeviceType device_type, int32_t device_count,
                   std::string kind)
    : device_type_(device_type),
      device_count_(device_count),
      kind_(std::move(kind)),
      optimize_([] {
        const char* setting = std::getenv("LTC_TS_OPTIMIZE");
        return setting == nullptr || std::strcmp(setting, "0") != 0;
      }()) {
  if (optimize_ && device_type_ == at::kCPU) pool_ = CpuBufferPool::Install(PoolCapacity());
}

at::Device TsClient::DeviceFor(int32_t ordinal) const {
  if (device_type_ == at::kCPU) return at::Device(at::kCPU);
  return at::Device(device_type_, static_cast<c10::DeviceIndex>(ordinal));
}

DLDeviceType TsClient::eager_fallback_device() {
  return device_type_ == at::kCUDA ? kDLCUDA : kDLCPU;
}

std::unique_ptr<plugin::Buffer> TsClient::buffer_from_host(
    DLManagedTensor* tensor, int32_t device) {
  at::Tensor host;
  try {
    host = FromDLPack(tensor);
  } catch (const std::exception& e) {
    tensor->deleter(tensor);
    throw Error(LTC_ERROR_INVALID_ARGUMENT, e.what());
  }
  // Same device: alias the host's memory, as the in-tree backend does.
  if (host.device() != DeviceFor(device)) host = CopyToDevice(host, device);
  return std::make_unique<TsBuffer>(std::move(host), device);
}

at::Tensor TsClient::CopyToDevice(const at::Tensor& tensor, int32_t device) {
  return tensor.to(DeviceFor(device), /*non_blocking=*/true);
}

std::unique_ptr<plugin::Buffer> TsClient::buffer_from_scalar(
    const LtcScalar& scalar, int32_t device) {
  const at::ScalarType type = ToScalarType(scalar.dtype);
  at::Scalar value;
  if (at::isFloatingType(type)) {
    value = scalar.f;
  } else if (type == at::kBool) {
    value = scalar.i != 0;
  } else if (at::isIntegralType(type, /*includeBool=*/false)) {
    value = scalar.i;
  } else {
    throw Error(LTC_ERROR_UNIMPLEMENTED,
                std::string("scalars of type ") + at::toString(type) +
                    " are not supported");
  }
  at::Tensor tensor =
      at::scalar_tensor(value, at::TensorOptions(type).device(DeviceFor(device)));
  return std::make_unique<TsBuffer>(value, std::move(tensor), device);
}

std::unique_ptr<plugin::Buffer> TsClient::buffer_create_placeholder(
    DLDataType dtype, std::vector<int64_t> shape, int32_t device) {
  ToScalarType(dtype);  // rejects types this backend cannot hold
  return std::make_unique<TsBuffer>(dtype, std::move(shape), device);
}

DLManagedTensor* TsClient::buffer_to_host(plugin::Buffer& buffer) {
  const at::Tensor& tensor = static_cast<TsBuffer&>(buffer).tensor();
  return ToDLPack(tensor.is_cpu() ? tensor : CopyToHost(tensor));
}

at::Tensor TsClient::CopyToHost(const at::Tensor& tensor) {
  return tensor.to(at::kCPU);
}

std::unique_ptr<plugin::Executable> TsClient::compile(const LtcCompileArgs& args) {
  const std::string format(args.format);
  const at::Device device = DeviceFor(args.device_ordinal);
  std::shared_ptr<torch::jit::Graph> graph;
  if (format == LTC_GRAPH_FORMAT_TORCHSCRIPT_IR) {
    graph = ReadTorchScriptIr(args.graph, args.graph_size, device);
  } else if (format == LTC_GRAPH_FORMAT_TORCHSCRIPT) {
    graph = ReadTorchScriptArchive(args.graph, args.graph_size, device);
  } else {
    throw Error(LTC_ERROR_UNIMPLEMENTED,
                "graph format '" + format + "' is not supported; this plugin reads '"
                LTC_GRAPH_FORMAT_TORCHSCRIPT_IR "' and '" LTC_GRAPH_FORMAT_TORCHSCRIPT "'");
  }
  return std::make_unique<TsExecutable>(std::move(graph), optimize_);
}

void TsClient::execute(plugin::Executable& executable, int32_t device,
                       const std::vector<plugin::Buffer*>& arguments,
                       std::vector<std::unique_ptr<plugin::Buffer>>& results) {
  std::optional<CpuBufferPool::Scope> pooled;
  if (pool_ != nullptr) pooled.emplace();
  std::vector<at::Tensor> outputs =
      static_cast<TsExecutable&>(executable).Run(arguments);
  for (size_t i = 0; i < outputs.size(); ++i) {
    results[i] = std::make_unique<TsBuffer>(std::move(outputs[i]), device);
  }
}

void TsClient::synchronize(int32_t device) {
  if (device_type_ == at::kCUDA) at::detail::getCUDAHooks().deviceSynchronize(device);
}

void TsClient::set_rng_seed(uint64_t seed) {
  if (device_type_ == at::kCUDA) {
    for (int32_t i = 0; i < device_count_; ++i) {
      at::Generator generator = compat::DefaultCudaGenerator(i);
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_current_seed(seed);
    }
    return;
  }
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
}

}  // namespace ltc::torchscript
