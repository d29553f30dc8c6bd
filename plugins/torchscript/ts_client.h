// A TorchScript backend behind the plugin ABI: compiles the graphs the
// host lowers and runs them with TorchScript's GraphExecutor, as LibTorch's
// in-tree lazy backend does, on one kind of device.
#pragma once

#include "cpu_buffer_pool.h"

#include <ltc/plugin_adapter.h>

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/version.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#define LTC_TS_STRINGIFY_(x) #x
#define LTC_TS_STRINGIFY(x) LTC_TS_STRINGIFY_(x)

namespace ltc::torchscript {

// What the TorchScript plugins' descriptors share.
inline constexpr char kVendor[] = "ltc-plugins";
// The LibTorch these headers belong to, "MAJOR.MINOR".
inline constexpr char kLibtorchVersion[] =
    LTC_TS_STRINGIFY(TORCH_VERSION_MAJOR) "." LTC_TS_STRINGIFY(TORCH_VERSION_MINOR);
// The client options TsClient reads. pool_mb applies to the CPU only.
inline constexpr plugin::OptionSpec kOptimizeOption{
    "optimize", LTC_VALUE_BOOL,
    "the graph rewrites, and on the CPU the buffer pool; default: on unless LTC_TS_OPTIMIZE=0"};
inline constexpr plugin::OptionSpec kPoolMbOption{
    "pool_mb", LTC_VALUE_INT64,
    "MiB of freed blocks the CPU buffer pool keeps, 0 for none; default: "
    "LTC_TS_CPU_POOL_MB, else 1024"};

// Data on the device, a scalar argument, or a placeholder with no data.
class TsBuffer final : public plugin::Buffer {
 public:
  // `borrowed`: the tensor aliases memory buffer_from_host was lent, which
  // stays the host's.
  TsBuffer(at::Tensor tensor, int32_t device, bool borrowed = false);
  TsBuffer(const at::Scalar& scalar, at::Tensor tensor, int32_t device);
  TsBuffer(DLDataType dtype, std::vector<int64_t> shape, int32_t device);

  DLDataType dtype() const override { return dtype_; }
  const std::vector<int64_t>& shape() const override { return shape_; }
  int32_t device_ordinal() const override { return device_; }
  bool has_data() const override { return tensor_.defined(); }

  const at::Tensor& tensor() const { return tensor_; }
  // The value bound to a scalar (float/int) graph input.
  at::Scalar scalar() const;

  // Whether a graph may overwrite this buffer's memory once it is donated:
  // dense, not borrowed, and seen by no other tensor (a view, another
  // buffer, a tensor buffer_to_host handed out and not yet released).
  bool Reusable() const;
  // Forgets the data: a donated argument that a failed run may have
  // overwritten in part.
  void Drop() { tensor_ = at::Tensor(); }

 private:
  at::Tensor tensor_;
  bool borrowed_ = false;
  c10::optional<at::Scalar> scalar_;
  DLDataType dtype_;
  std::vector<int64_t> shape_;
  int32_t device_;
};

class TsExecutable final : public plugin::Executable {
 public:
  // With `update_in_place`, each set of overwritable inputs Run is given
  // gets its own copy of `graph`, rewritten by UpdateScratchValuesInPlace;
  // `log` (may be NULL; must outlive this) is told what each copy writes.
  TsExecutable(std::shared_ptr<torch::jit::Graph> graph, bool update_in_place,
               const plugin::Host* log = nullptr);

  size_t num_parameters() const override { return scalar_parameter_.size(); }
  size_t num_results() const override { return num_results_; }

  // Runs the graph; `arguments` are bound to its inputs in order. It may
  // write into the arguments flagged in `overwritable` (one flag each).
  std::vector<at::Tensor> Run(const std::vector<plugin::Buffer*>& arguments,
                              const std::vector<bool>& overwritable);

 private:
  torch::jit::GraphExecutor& ExecutorFor(const std::vector<bool>& overwritable);

  std::shared_ptr<torch::jit::Graph> graph_;
  bool update_in_place_;
  const plugin::Host* log_;
  std::vector<bool> scalar_parameter_;  // per input: scalar, else tensor
  size_t num_results_;
  // One per set of overwritable inputs seen; a training loop sees one or
  // two. Entries are never erased while the executable lives.
  std::mutex mutex_;
  std::map<std::vector<bool>, std::unique_ptr<torch::jit::GraphExecutor>> executors_;
};

// Reads a graph in LTC_GRAPH_FORMAT_TORCHSCRIPT back into the multi-output
// graph the host lowered (tensor inputs, scalar inputs, tensor outputs).
std::shared_ptr<torch::jit::Graph> ReadTorchScriptArchive(
    const void* data, size_t size, const at::Device& device);

// Reads a graph in LTC_GRAPH_FORMAT_TORCHSCRIPT_IR into the same graph,
// its constants bound, tensors moved to `device`.
std::shared_ptr<torch::jit::Graph> ReadTorchScriptIr(const void* data, size_t size,
                                                     const at::Device& device);

// ts_cpu uses it as is; ts_cuda derives from it for its own transfers.
class TsClient : public plugin::Client {
 public:
  // Reads kOptimizeOption and, on the CPU, kPoolMbOption from
  // context.options, defaulting to the environment; throws
  // Error(LTC_ERROR_INVALID_ARGUMENT) naming the option or the variable
  // whose value is out of range. Logs and traces through context.host.
  TsClient(const plugin::ClientContext& context, at::DeviceType device_type,
           int32_t device_count);

  int32_t device_count() override { return device_count_; }
  // The CPU's; clients of other devices override it.
  plugin::DeviceInfo device_info(int32_t device) override;
  DLDeviceType eager_fallback_device() override;

  std::unique_ptr<plugin::Buffer> buffer_from_host(DLManagedTensor* tensor,
                                                   int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_from_scalar(const plugin::Scalar& scalar,
                                                     int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_create_placeholder(
      DLDataType dtype, std::vector<int64_t> shape, int32_t device) override;
  DLManagedTensor* buffer_to_host(plugin::Buffer& buffer) override;

  // Reads LTC_GRAPH_FORMAT_TORCHSCRIPT_IR and LTC_GRAPH_FORMAT_TORCHSCRIPT.
  std::unique_ptr<plugin::Executable> compile(const plugin::CompileRequest& request) override;
  void execute(plugin::Executable& executable, int32_t device,
               const std::vector<plugin::Buffer*>& arguments,
               const std::vector<bool>& donated,
               std::vector<std::unique_ptr<plugin::Buffer>>& results) override;
  void synchronize(int32_t device) override;
  void set_rng_seed(uint64_t seed) override;

 protected:
  // The transfers behind buffer_from_host and buffer_to_host, between the
  // DLPack import/export they share. CopyToDevice gets a tensor on another
  // device than `device`; CopyToHost one that is not on the CPU.
  virtual at::Tensor CopyToDevice(const at::Tensor& tensor, int32_t device);
  virtual at::Tensor CopyToHost(const at::Tensor& tensor);

  at::Device DeviceFor(int32_t ordinal) const;

 private:
  const plugin::Host& host_;  // lives as long as the client
  // Trace event names, made once: execute is a hot path.
  const std::string graph_rewrites_event_;
  const std::string run_graph_event_;
  at::DeviceType device_type_;
  int32_t device_count_;
  // Graph rewrites and the CPU buffer pool.
  bool optimize_;
  // Serves the CPU graphs' large allocations; nullptr where off.
  CpuBufferPool* pool_ = nullptr;
};

}  // namespace ltc::torchscript
