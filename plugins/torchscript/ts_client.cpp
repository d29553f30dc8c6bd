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
#include <torch/csrc/jit/serialization/import_read.h>

#include <c10/core/DeviceGuard.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>

namespace ltc::torchscript {

using plugin::Error;

namespace {

std::vector<int64_t> ShapeOf(const at::Tensor& tensor) {
  return std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end());
}

// An archive in memory for PyTorchStreamReader. A read past the end
// returns fewer bytes, which the reader reports as a malformed archive.
class BoundedReader final : public caffe2::serialize::ReadAdapterInterface {
 public:
  BoundedReader(const char* data, size_t size) : data_(data), size_(size) {}
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char*) const override {
    if (pos >= size_) return 0;
    n = std::min<uint64_t>(n, size_ - pos);
    std::memcpy(buf, data_ + pos, n);
    return n;
  }

 private:
  const char* data_;
  size_t size_;
};

// Zip's CRC-32 (reflected, polynomial 0xEDB88320).
uint32_t Crc32(const uint8_t* bytes, size_t size) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> entries{};
    for (uint32_t i = 0; i < entries.size(); ++i) {
      uint32_t crc = i;
      for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0xEDB88320u : 0);
      entries[i] = crc;
    }
    return entries;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

// The little-endian integer of `width` bytes at `offset`, or nullopt where
// it runs past `size`.
std::optional<uint64_t> Field(const uint8_t* data, size_t size, uint64_t offset, size_t width) {
  if (offset > size || width > size - offset) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = width; i-- > 0;) value = (value << 8) | data[offset + i];
  return value;
}

// Refuses a damaged archive before LibTorch reads it. LibTorch 1.13 checks
// no CRC-32 (its miniz is built with MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS)
// and compiles the TorchScript source and unpickles the data it finds: a
// damaged source crashes its compiler (ScriptTypeParser) where it should
// fail. So every entry `reader` (over `data`) can read must match its
// CRC-32 in the zip's central directory. A structure this check cannot
// follow is left to LibTorch's reader.
void CheckArchiveChecksums(const void* data, size_t size,
                           caffe2::serialize::PyTorchStreamReader& reader) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  // The end of central directory record: 22 bytes and a comment of at most
  // 65535, at the end.
  constexpr uint32_t kEndSignature = 0x06054b50, kEnd64LocatorSignature = 0x07064b50,
                     kEnd64Signature = 0x06064b50, kEntrySignature = 0x02014b50;
  std::optional<uint64_t> end;
  for (size_t back = 22; back <= size && back <= 22 + 0xFFFF && !end; ++back) {
    if (Field(bytes, size, size - back, 4) == kEndSignature) end = size - back;
  }
  if (!end) return;
  std::optional<uint64_t> count = Field(bytes, size, *end + 10, 2);
  std::optional<uint64_t> offset = Field(bytes, size, *end + 16, 4);
  // As miniz (LibTorch's zip reader) does, the zip64 record wins wherever
  // its locator precedes the end record; PyTorch's writer always adds one.
  if (*end >= 20 && Field(bytes, size, *end - 20, 4) == kEnd64LocatorSignature) {
    const std::optional<uint64_t> end64 = Field(bytes, size, *end - 12, 8);
    if (end64 && Field(bytes, size, *end64, 4) == kEnd64Signature) {
      count = Field(bytes, size, *end64 + 32, 8);
      offset = Field(bytes, size, *end64 + 48, 8);
    }
  }
  if (!count || !offset) return;
  // getRecord names entries below the first entry's directory.
  const std::vector<std::string> records = reader.getAllRecords();
  for (uint64_t i = 0, at = *offset; i < *count; ++i) {
    const auto signature = Field(bytes, size, at, 4);
    const auto crc = Field(bytes, size, at + 16, 4);
    const auto name_length = Field(bytes, size, at + 28, 2);
    const auto extra_length = Field(bytes, size, at + 30, 2);
    const auto comment_length = Field(bytes, size, at + 32, 2);
    if (signature != kEntrySignature || !crc || !name_length || !extra_length ||
        !comment_length || at + 46 + *name_length > size) {
      return;
    }
    const std::string name(reinterpret_cast<const char*>(bytes + at + 46), *name_length);
    at += 46 + *name_length + *extra_length + *comment_length;
    const auto slash = name.find('/');
    const std::string record = slash == std::string::npos ? name : name.substr(slash + 1);
    if (std::find(records.begin(), records.end(), record) == records.end()) continue;
    const auto [record_data, record_size] = reader.getRecord(record);
    if (Crc32(static_cast<const uint8_t*>(record_data.get()), record_size) != *crc) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT,
                  "the archive is damaged: entry '" + name + "' does not match its CRC-32");
    }
  }
}

// The ATen type of a DLPack type. One LibTorch cannot hold (uint16 in
// 1.13, vector lanes) is refused with UNIMPLEMENTED: valid DLPack this
// backend does not support, not a malformed argument.
at::ScalarType HeldScalarType(DLDataType dtype) {
  try {
    return ToScalarType(dtype);
  } catch (const std::exception&) {
    throw Error(LTC_ERROR_UNIMPLEMENTED,
                "DLPack type {code " + std::to_string(dtype.code) + ", bits " +
                    std::to_string(dtype.bits) + ", lanes " + std::to_string(dtype.lanes) +
                    "} is not supported");
  }
}

bool IsScalarType(const c10::TypePtr& type) {
  return type->kind() == c10::TypeKind::FloatType ||
         type->kind() == c10::TypeKind::IntType ||
         type->kind() == c10::TypeKind::BoolType;
}

}  // namespace

TsBuffer::TsBuffer(at::Tensor tensor, int32_t device, bool borrowed)
    : tensor_(std::move(tensor)),
      borrowed_(borrowed),
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

bool TsBuffer::Reusable() const {
  // The buffer's tensor is the only one naming its storage, and the buffer
  // the only holder of that tensor.
  return !borrowed_ && !scalar_ && tensor_.defined() && tensor_.use_count() == 1 &&
         tensor_.storage().use_count() == 1 && tensor_.is_non_overlapping_and_dense();
}

TsExecutable::TsExecutable(std::shared_ptr<torch::jit::Graph> graph, bool update_in_place,
                           const plugin::Host* log)
    : graph_(std::move(graph)),
      update_in_place_(update_in_place),
      log_(log),
      num_results_(graph_->outputs().size()) {
  for (const torch::jit::Value* input : graph_->inputs()) {
    scalar_parameter_.push_back(IsScalarType(input->type()));
  }
  ExecutorFor(std::vector<bool>(scalar_parameter_.size(), false));
}

torch::jit::GraphExecutor& TsExecutable::ExecutorFor(const std::vector<bool>& overwritable) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::unique_ptr<torch::jit::GraphExecutor>& executor = executors_[overwritable];
  if (executor == nullptr) {
    std::shared_ptr<torch::jit::Graph> graph = graph_;
    if (update_in_place_) {
      graph = graph_->copy();
      const int updates = UpdateScratchValuesInPlace(*graph, overwritable);
      GRAPH_DUMP("after the in-place updates:", graph);
      std::string donated;
      for (size_t i = 0; i < overwritable.size(); ++i) {
        if (overwritable[i]) donated += (donated.empty() ? "" : ", ") + std::to_string(i);
      }
      if (!donated.empty() && log_ != nullptr && log_->LogEnabled(LTC_LOG_DEBUG)) {
        log_->Log(LTC_LOG_DEBUG, "graph variant with donated inputs [" + donated + "] of " +
                                     std::to_string(overwritable.size()) + ": " +
                                     std::to_string(updates) + " ops write in place");
      }
    }
    executor = std::make_unique<torch::jit::GraphExecutor>(graph, "");
  }
  return *executor;
}

std::vector<at::Tensor> TsExecutable::Run(const std::vector<plugin::Buffer*>& arguments,
                                          const std::vector<bool>& overwritable) {
  torch::jit::GraphExecutor& executor = ExecutorFor(overwritable);
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
  executor.run(stack);
  std::vector<at::Tensor> results;
  results.reserve(stack.size());
  for (const c10::IValue& value : stack) {
    results.push_back(value.toTensor());
  }
  return results;
}

std::shared_ptr<torch::jit::Graph> ReadTorchScriptArchive(
    const void* data, size_t size, const at::Device& device) {
  {
    caffe2::serialize::PyTorchStreamReader reader(
        std::make_shared<BoundedReader>(static_cast<const char*>(data), size));
    CheckArchiveChecksums(data, size, reader);
  }
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
  // What torch::jit::pickle_load does, through a reader that stays in
  // bounds: pickle_load's own (LibTorch 1.13) copies whatever range the
  // archive's directory names, past the end of the bytes too.
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<BoundedReader>(static_cast<const char*>(data), size));
  CheckArchiveChecksums(data, size, reader);
  const c10::IValue value = torch::jit::readArchiveAndTensors(
      "data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", /*type_resolver=*/c10::nullopt,
      /*obj_loader=*/c10::nullopt, /*device=*/c10::nullopt, reader);
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

// The plugin's own rewrites (graph_rewrites.h), but for the in-place
// updates, which depend on what each execution donates (TsExecutable).
void RewriteGraph(std::shared_ptr<torch::jit::Graph>& graph) {
  // Views first: a copy of a copy that feeds a product is then two views,
  // where the other order leaves the inner copy.
  ReplaceViewCopiesWithViews(*graph);
  ElideTransposeCopies(*graph);
  FoldZeroAdd(*graph);
  ZeroWithoutCopying(*graph);
  torch::jit::EliminateDeadCode(graph);
  GRAPH_DUMP("after the plugin's rewrites:", graph);
}

// The default of the optimize option: off only with LTC_TS_OPTIMIZE=0.
bool OptimizeByDefault() {
  const char* setting = std::getenv("LTC_TS_OPTIMIZE");
  return setting == nullptr || std::strcmp(setting, "0") != 0;
}

// `mib` in bytes; `what` names where the value came from.
size_t PoolBytes(int64_t mib, const std::string& what) {
  constexpr int64_t kMaxMib = static_cast<int64_t>(
      std::min<uint64_t>(std::numeric_limits<size_t>::max() >> 20,
                         std::numeric_limits<int64_t>::max()));
  if (mib < 0 || mib > kMaxMib) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                what + " must be a number of MiB from 0 to " + std::to_string(kMaxMib) +
                    ", got " + std::to_string(mib));
  }
  return static_cast<size_t>(mib) << 20;
}

// The pool's capacity: the pool_mb option, else LTC_TS_CPU_POOL_MB, else
// 1 GiB; 0 keeps no blocks.
size_t PoolCapacity(const plugin::Options& options) {
  if (options.Has(kPoolMbOption.name)) {
    return PoolBytes(options.Int(kPoolMbOption.name, 0),
                     std::string("option '") + kPoolMbOption.name + "'");
  }
  const char* setting = std::getenv("LTC_TS_CPU_POOL_MB");
  if (setting == nullptr || *setting == '\0') return size_t{1} << 30;
  char* end = nullptr;
  errno = 0;
  const long long mib = std::strtoll(setting, &end, 10);
  if (*end != '\0' || errno == ERANGE) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                std::string("LTC_TS_CPU_POOL_MB must be a number of MiB, got '") + setting + "'");
  }
  return PoolBytes(mib, "LTC_TS_CPU_POOL_MB");
}

}  // namespace

TsClient::TsClient(const plugin::ClientContext& context, at::DeviceType device_type,
                   int32_t device_count)
    : host_(context.host),
      graph_rewrites_event_(context.host.plugin_name() + "::graph_rewrites"),
      run_graph_event_(context.host.plugin_name() + "::run_graph"),
      device_type_(device_type),
      device_count_(device_count),
      optimize_(context.options.Bool(kOptimizeOption.name, OptimizeByDefault())) {
  if (device_type_ != at::kCPU) return;
  // Read also where the pool stays off, so that a bad value never goes unseen.
  const size_t capacity = PoolCapacity(context.options);
  if (!optimize_) return;
  pool_ = CpuBufferPool::Install(capacity);
  if (pool_ == nullptr) {
    host_.Log(LTC_LOG_INFO, "CPU buffer pool not installed: another CPU allocator "
                            "of higher priority is installed");
  } else {
    host_.Log(LTC_LOG_INFO, "CPU buffer pool installed as the CPU allocator, keeping up to " +
                                std::to_string(pool_->capacity_bytes() >> 20) +
                                " MiB of freed blocks");
  }
}

at::Device TsClient::DeviceFor(int32_t ordinal) const {
  if (device_type_ == at::kCPU) return at::Device(at::kCPU);
  return at::Device(device_type_, static_cast<c10::DeviceIndex>(ordinal));
}

plugin::DeviceInfo TsClient::device_info(int32_t) {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  const uint64_t memory =
      pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * page_size : 0;
  return {"cpu", "host CPU", memory};
}

DLDeviceType TsClient::eager_fallback_device() {
  return device_type_ == at::kCUDA ? kDLCUDA : kDLCPU;
}

std::unique_ptr<plugin::Buffer> TsClient::buffer_from_host(
    DLManagedTensor* tensor, int32_t device) {
  at::Tensor host;
  try {
    HeldScalarType(tensor->dl_tensor.dtype);
    host = FromDLPack(tensor);
  } catch (const Error&) {
    tensor->deleter(tensor);
    throw;
  } catch (const std::exception& e) {
    tensor->deleter(tensor);
    throw Error(LTC_ERROR_INVALID_ARGUMENT, e.what());
  }
  // Same device: alias the host's memory, as the in-tree backend does.
  if (host.device() == DeviceFor(device)) {
    return std::make_unique<TsBuffer>(std::move(host), device, /*borrowed=*/true);
  }
  return std::make_unique<TsBuffer>(CopyToDevice(host, device), device);
}

at::Tensor TsClient::CopyToDevice(const at::Tensor& tensor, int32_t device) {
  return tensor.to(DeviceFor(device), /*non_blocking=*/true);
}

std::unique_ptr<plugin::Buffer> TsClient::buffer_from_scalar(
    const plugin::Scalar& scalar, int32_t device) {
  const at::ScalarType type = HeldScalarType(scalar.dtype);
  at::Scalar value;
  if (at::isFloatingType(type)) {
    value = scalar.double_value;
  } else if (type == at::kBool) {
    value = scalar.int64_value != 0;
  } else if (at::isIntegralType(type, /*includeBool=*/false)) {
    value = scalar.int64_value;
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
  HeldScalarType(dtype);  // rejects types this backend cannot hold
  return std::make_unique<TsBuffer>(dtype, std::move(shape), device);
}

DLManagedTensor* TsClient::buffer_to_host(plugin::Buffer& buffer) {
  const at::Tensor& tensor = static_cast<TsBuffer&>(buffer).tensor();
  return ToDLPack(tensor.is_cpu() ? tensor : CopyToHost(tensor));
}

at::Tensor TsClient::CopyToHost(const at::Tensor& tensor) {
  return tensor.to(at::kCPU);
}

std::unique_ptr<plugin::Executable> TsClient::compile(
    const plugin::CompileRequest& request) {
  const at::Device device = DeviceFor(request.device_ordinal);
  const char* data = request.graph.data();
  std::shared_ptr<torch::jit::Graph> graph;
  if (request.format == LTC_GRAPH_FORMAT_TORCHSCRIPT_IR) {
    graph = ReadTorchScriptIr(data, request.graph.size(), device);
  } else if (request.format == LTC_GRAPH_FORMAT_TORCHSCRIPT) {
    graph = ReadTorchScriptArchive(data, request.graph.size(), device);
  } else {
    // Only a derived plugin that lists more formats gets here.
    throw Error(LTC_ERROR_UNIMPLEMENTED,
                "graph format '" + std::string(request.format) + "' is not supported");
  }
  if (optimize_) {
    plugin::Host::Trace trace(host_, graph_rewrites_event_.c_str());
    RewriteGraph(graph);
  }
  if (host_.LogEnabled(LTC_LOG_DEBUG)) {
    const auto nodes = std::distance(graph->nodes().begin(), graph->nodes().end());
    host_.Log(LTC_LOG_DEBUG,
              "compiled a " + std::string(request.format) + " graph, cache key " +
                  (request.cache_key != nullptr ? request.cache_key : "(none)") +
                  ", for device " + std::to_string(request.device_ordinal) + ": " +
                  std::to_string(nodes) +
                  (optimize_ ? " nodes after rewrites" : " nodes (rewrites off)"));
  }
  return std::make_unique<TsExecutable>(std::move(graph), /*update_in_place=*/optimize_, &host_);
}

void TsClient::execute(plugin::Executable& executable, int32_t device,
                       const std::vector<plugin::Buffer*>& arguments,
                       const std::vector<bool>& donated,
                       std::vector<std::unique_ptr<plugin::Buffer>>& results) {
  plugin::Host::Trace trace(host_, run_graph_event_.c_str());
  std::optional<CpuBufferPool::Scope> pooled;
  if (pool_ != nullptr) pooled.emplace();
  // Kernels that make tensors without naming a device index use this one.
  std::optional<c10::DeviceGuard> on_device;
  if (device_type_ != at::kCPU) on_device.emplace(DeviceFor(device));
  // Donated arguments whose memory the graph may overwrite.
  std::vector<bool> overwritable(arguments.size(), false);
  for (size_t i = 0; i < arguments.size(); ++i) {
    overwritable[i] = donated[i] && static_cast<const TsBuffer&>(*arguments[i]).Reusable();
  }
  std::vector<at::Tensor> outputs;
  try {
    outputs = static_cast<TsExecutable&>(executable).Run(arguments, overwritable);
  } catch (...) {
    // A failed run may have overwritten them in part (plugin_api.h: such an
    // argument holds its data unchanged or none).
    for (size_t i = 0; i < arguments.size(); ++i) {
      if (overwritable[i]) static_cast<TsBuffer&>(*arguments[i]).Drop();
    }
    throw;
  }
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
