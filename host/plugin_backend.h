// The lazy core's backend, forwarding to a plugin through the C ABI.
//
// Tracing and lowering stay in the host (LibTorch's TorchScript lowering);
// compile, execute and data transfer go to the plugin.
#pragma once

#include <ltc/plugin_client.h>
#include <ltc/torch_compat.h>

#include <torch/csrc/lazy/backend/backend_interface.h>
#include <torch/csrc/lazy/ts_backend/ts_backend_impl.h>

#include <ATen/ThreadLocalState.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ltc::host {

class PluginData;

// A graph whose execution failed, kept so that nothing it was computing is
// lost: its inputs stay alive, and the placeholders the lazy core made for
// its outputs run it again when something needs them (PluginBackend::
// ExecuteComputation).
struct FailedRun {
  FailedRun(torch::lazy::ComputationPtr computation,
            std::vector<torch::lazy::BackendDataPtr> arguments, torch::lazy::BackendDevice device,
            std::vector<std::weak_ptr<PluginData>> outputs)
      : computation(std::move(computation)),
        arguments(std::move(arguments)),
        device(std::move(device)),
        outputs(std::move(outputs)) {}

  torch::lazy::ComputationPtr computation;
  std::vector<torch::lazy::BackendDataPtr> arguments;
  torch::lazy::BackendDevice device;
  // The lazy core's placeholders for the graph's outputs, in order.
  std::vector<std::weak_ptr<PluginData>> outputs;
  std::mutex mutex;  // held while running it again
};

// The results of one execution. An asynchronous failure, once the plugin
// reports it, loses all of them: `lost` then says why.
struct ExecutionResults {
  // Records why, unless an earlier loss did; returns what is recorded.
  std::string MarkLost(const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex);
    if (lost.empty()) lost = why;
    return lost;
  }

  std::mutex mutex;
  std::string lost;  // guarded by mutex; empty while the results are good
};

// Lazy-core data backed by a plugin buffer. Derives from TSData because
// LibTorch's TorchScript lowering casts every parameter to TSData (it reads
// `scalar` to type scalar inputs).
class PluginData final : public torch::lazy::TSData {
 public:
  // `buffer` may be NULL for a placeholder the plugin could not make.
  PluginData(std::shared_ptr<const Buffer> buffer, const torch::lazy::Shape& shape,
             const torch::lazy::BackendDevice& device, bool has_data,
             std::shared_ptr<ExecutionResults> execution = nullptr);
  PluginData(std::shared_ptr<const Buffer> buffer, const at::Scalar& scalar,
             const torch::lazy::BackendDevice& device);

  // What the data holds, copied at once: the lazy core assigns a placeholder
  // its value on the thread that executes while other threads trace with it
  // (TSan saw this with torch_lazy_use_thread_pool).
  struct State {
    std::shared_ptr<const Buffer> buffer;  // NULL: no buffer
    bool has_data = false;
    // A placeholder of this failed run's outputs: it gets its value when the
    // run runs again.
    std::shared_ptr<FailedRun> failed_run;
    // The execution that computed it, which may have lost its results.
    std::shared_ptr<ExecutionResults> execution;

    LtcBuffer* get() const { return buffer != nullptr ? buffer->get() : nullptr; }
    // Why the value is gone for good, or "".
    std::string Lost() const;
  };
  State state() const;

  void Assign(const torch::lazy::BackendData& data) override;
  bool HasValue() const override;

  void KeepPending(std::shared_ptr<FailedRun> run);
  // A placeholder that never gets a value: `execution` says why.
  void Lose(std::shared_ptr<ExecutionResults> execution);

 private:
  mutable std::mutex mutex_;
  State state_;  // guarded by mutex_
};

// torch.profiler events for what a plugin traces through the host services.
class ProfilerTracer final : public Tracer {
 public:
  void* Begin(const char* name) const override;
  void End(void* token) const override;
};

class PluginBackend final : public torch::lazy::BackendImplInterface {
 public:
  explicit PluginBackend(std::unique_ptr<PluginClient> client);

  const PluginClient& client() const { return *client_; }
  const std::string& name() const { return client_->name(); }

  void PrepareToExit() const override;
  void SetRngSeed(size_t seed) const override;
  const torch::lazy::IrBuilder* GetIrBuilder() const override;

  torch::lazy::BackendDataPtr MakeComputationDataFromTensor(
      const at::Tensor& tensor, const torch::lazy::Shape& shape,
      const torch::lazy::BackendDevice& device) const override;
  torch::lazy::BackendDataPtr MakeComputationDataFromScalar(
      const at::Scalar& scalar,
      const torch::lazy::BackendDevice& device) const override;
  torch::lazy::BackendDataPtr CreateDataPlaceholder(
      const torch::lazy::BackendDevice& device,
      const torch::lazy::Shape& shape) const override;
  torch::lazy::BackendDataPtr GetComputationDataFromNode(
      compat::LazyNode* node) const override;
  at::Tensor MakeTensorFromComputationData(
      const torch::lazy::BackendDataPtr data,
      c10::optional<at::ScalarType> logical_scalar_type) const override;

  std::unique_ptr<torch::lazy::LoweringContext> CreateLoweringContext(
      const std::string& name, torch::lazy::BackendDevice device,
      c10::ArrayRef<compat::LazyNode*> post_order,
      torch::lazy::Util::EmissionMap emit_status) const override;
  std::unique_ptr<torch::lazy::LoweringContext> CreateLoweringContext(
      const std::string& name, torch::lazy::BackendDevice device) const override;
  std::vector<std::string> GetCompilationDevices(
      const std::string& device, c10::ArrayRef<std::string> devices) const override;
  std::vector<torch::lazy::ComputationPtr> Compile(
      std::vector<torch::lazy::ComputationPtr> instances) const override;
  std::vector<torch::lazy::BackendDataPtr> ExecuteComputation(
      torch::lazy::ComputationPtr computation,
      c10::ArrayRef<torch::lazy::BackendDataPtr> arguments,
      const torch::lazy::BackendDevice& device) const override;

  std::shared_ptr<torch::lazy::BackendDeviceType> GetDefaultDeviceType() const override;
  void SetDefaultDeviceType(int8_t type) override;
  int64_t GetDefaultDeviceOrdinal() const override;
  void SetDefaultDeviceOrdinal(int64_t ordinal) override;
  at::DeviceType EagerFallbackDeviceType() const override;
  std::vector<torch::lazy::BackendDevice> GetBackendDevices() const override;
  std::string CreateMetricReport() const override;
  torch::lazy::BackendDevice GetBackendDevice(c10::Device device) const override;
  std::string GetComputationBackendText(
      const torch::lazy::ComputationPtr computation) const override;

  // Failures. A graph that fails to run is raised once, by the sync that ran
  // it, and loses nothing: the tensors it was computing keep placeholders
  // that run it again (with the same inputs, kept alive) when a later sync
  // or read needs them. The lazy core also stores the error to raise it
  // again at the device's next sync; the host drops that copy at its next
  // entry on the same thread (DropStaleFailure).

  // Donation (ABI 2.1). A sync donates an argument to the plugin when
  // nothing but the sync itself can ever read it again: the lazy core's
  // argument list holds the only reference to its data, which shares its
  // buffer with no other data (the scalar cache, a user tensor, an alias,
  // an IR node of a live tensor, a failed run kept to run again: each holds
  // one), it is no other argument of the call, and the plugin holds data
  // for it. The parameters and optimizer state an update replaces are such
  // arguments: the plugin may then write the update into them. If the
  // execution fails and the plugin says a donated argument lost its data,
  // the tensors computed from it are lost too, and say so. LTC_DONATE=0
  // turns donation off, and so does LibTorch 2.x (DonationEnabled); a
  // plugin older than 2.1 is sent none. Counter PluginDonatedArguments.

  // For ltc::run_cached_graph: runs a compiled graph on host values
  // (tensors are uploaded, numbers become scalar buffers) and returns its
  // results on the eager fallback device.
  std::vector<at::Tensor> RunComputation(const torch::lazy::ComputationPtr& computation,
                                         const c10::List<c10::IValue>& inputs) const;
  // For ltc::get_tensors_device_data_node: a lazy data's value on the host,
  // a number for scalar data, else a tensor.
  c10::IValue HostValue(const torch::lazy::BackendDataPtr& data) const;

  // A plugin's executable, and which of its results each graph output is.
  struct CompiledGraph {
    Executable executable;
    // Graph output i is the executable's result results[i] (ltc-graph-v1
    // returns a repeated value once); empty where output i is result i.
    std::vector<uint32_t> results;
    // The serialized graph's hash, as the plugin was given it.
    std::string cache_key;
  };
  // The plugin's executable for `graph` on device `ordinal`, in the first of
  // the plugin's graph formats this host can write for it. `boolean_scalars`:
  // which inputs are boolean scalars (typed `int` by the lowering).
  CompiledGraph CompileGraph(torch::jit::Graph& graph, const std::vector<bool>& boolean_scalars,
                             int32_t ordinal) const;

 private:
  int32_t Ordinal(const torch::lazy::BackendDevice& device) const;

  // ExecuteComputation, donating (`donate`) what the Donation rules allow.
  std::vector<torch::lazy::BackendDataPtr> ExecuteGraph(
      const torch::lazy::ComputationPtr& computation,
      c10::ArrayRef<torch::lazy::BackendDataPtr> arguments,
      const torch::lazy::BackendDevice& device, bool donate) const;
  // Runs `computation` on the plugin: first the failed runs its arguments
  // wait for, then the graph. `expected`: the lazy core's placeholders for
  // its outputs (empty where it made none), whose dtypes and shapes the
  // results are checked against. `donate`: `arguments` is the caller's
  // only list of them, so the Donation rules apply.
  std::vector<torch::lazy::BackendDataPtr> Run(
      const torch::lazy::ComputationPtr& computation,
      c10::ArrayRef<torch::lazy::BackendDataPtr> arguments,
      const torch::lazy::BackendDevice& device,
      const std::vector<std::weak_ptr<PluginData>>& expected, bool donate) const;
  // Per argument: whether the Donation rules let this call donate it.
  // `states` are the arguments' states, copied by the caller.
  std::vector<bool> Donatable(c10::ArrayRef<torch::lazy::BackendDataPtr> arguments,
                              const std::vector<PluginData::State>& states) const;
  // Runs `data`'s failed run again, if it has one and no other thread just
  // did; throws its error if it fails again.
  void RunAgain(const PluginData& data) const;

  // torch.profiler's callbacks are thread-local, and LTC may execute on its
  // own worker thread. The profiling thread's state is captured when LTC
  // creates a sync's output placeholders (on the syncing thread, under LTC's
  // device lock) and applied to that sync's execution.
  void CaptureProfilingState() const;
  std::shared_ptr<at::ThreadLocalState> TakeProfilingState() const;

  // One plugin buffer per distinct scalar. The lazy core asks for a scalar
  // argument for every scalar in every traced op (learning rate, momentum,
  // alpha, ...), on every step, and buffers are immutable, so equal scalars
  // share one: a step then makes no plugin calls for its scalars, as the
  // in-tree backend makes no tensors for them.
  std::shared_ptr<const Buffer> ScalarBuffer(DLDataType dtype, int64_t int64_value,
                                             double double_value, int32_t ordinal) const;

  std::unique_ptr<PluginClient> client_;
  // The graph formats to send, in the plugin's order of preference: those
  // it reads that this host writes (LTC_GRAPH_FORMAT narrows them to one).
  std::vector<std::string> formats_;
  // Whether lowering types the graph's values (for LTC_GRAPH_FORMAT_PORTABLE).
  bool annotate_types_ = false;
  // Whether syncs donate (see Donation).
  bool donate_ = false;
  mutable std::mutex scalar_mutex_;
  // Key: dtype and ordinal, then the bits of the int and double values.
  // Emptied when it reaches kMaxScalarBuffers, so scalars that change every
  // step cannot grow it without bound.
  mutable std::map<std::array<uint64_t, 3>, std::shared_ptr<const Buffer>> scalar_buffers_;
  mutable std::mutex profiling_mutex_;
  mutable std::shared_ptr<at::ThreadLocalState> profiling_state_;
  std::shared_ptr<torch::lazy::BackendDeviceType> device_type_;
  at::DeviceType eager_fallback_;
  std::atomic<int64_t> default_ordinal_{0};
};

}  // namespace ltc::host
