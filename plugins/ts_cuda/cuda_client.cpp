#include "cuda_client.h"

#include <ltc/torch_compat.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace ltc::ts_cuda {

using plugin::Error;

namespace {

// 8 blocks of 4 MiB: 32 MiB of pinned memory per device once warm, and
// chunks big enough that each copy runs near the bus's speed.
constexpr size_t kStagingBlockSize = size_t{4} << 20;
constexpr size_t kStagingBlocksCached = 8;
// Chunks of one download queued before the host copies the oldest out.
constexpr size_t kDownloadChunksInFlight = 4;

// Sets this thread's device for the CUDA runtime calls in its scope, and
// puts the previous one back: the runtime's current device is shared with
// LibTorch's through the driver's current context.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    CheckCuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) CheckCuda(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// An event on the current device that orders one stream behind another.
// Destroying it while a stream still waits on it is allowed: CUDA frees it
// once the wait is over.
class Event {
 public:
  Event() {
    CheckCuda(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming),
              "cudaEventCreateWithFlags");
  }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Work queued on `waiter` from now on runs after all work queued on
  // `stream` so far.
  void Order(cudaStream_t stream, cudaStream_t waiter) {
    CheckCuda(cudaEventRecord(event_, stream), "cudaEventRecord");
    CheckCuda(cudaStreamWaitEvent(waiter, event_, 0), "cudaStreamWaitEvent");
  }

 private:
  cudaEvent_t event_ = nullptr;
};

// The stream LibTorch queues a graph's kernels on when this thread runs it.
cudaStream_t ComputeStream(int32_t device) {
  void* handle = compat::CurrentStreamHandle(at::Device(at::kCUDA, device));
  return handle != nullptr ? static_cast<cudaStream_t>(handle) : cudaStreamLegacy;
}

size_t Bytes(const at::Tensor& tensor) {
  return static_cast<size_t>(tensor.numel()) * tensor.element_size();
}

}  // namespace

void CheckCuda(cudaError_t status, const char* call) {
  if (status != cudaSuccess) {
    throw Error(LTC_ERROR_INTERNAL, std::string(call) + ": " + cudaGetErrorString(status));
  }
}

StagingPool::StagingPool(int device, size_t block_size, size_t max_cached)
    : device_(device), block_size_(block_size), max_cached_(max_cached) {}

StagingPool::~StagingPool() {
  for (Block& block : free_) Free(block);
}

StagingPool::Block StagingPool::Acquire() {
  Block block;
  bool reuse_busy = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      const cudaError_t status = cudaEventQuery(it->last_copy);
      if (status == cudaErrorNotReady) continue;
      CheckCuda(status, "cudaEventQuery");
      block = *it;
      free_.erase(it);
      return block;
    }
    if (!free_.empty() && total_ >= max_cached_) {
      block = free_.front();  // the oldest copy: the first to finish
      free_.pop_front();
      reuse_busy = true;
    } else {
      ++total_;
    }
  }
  if (reuse_busy) {
    const cudaError_t status = cudaEventSynchronize(block.last_copy);
    if (status != cudaSuccess) Release(block);
    CheckCuda(status, "cudaEventSynchronize");
    return block;
  }
  try {
    return Allocate();
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    --total_;
    throw;
  }
}

void StagingPool::Release(Block block) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (total_ <= max_cached_) {
      free_.push_back(block);
      return;
    }
    --total_;
  }
  Free(block);
}

StagingPool::Block StagingPool::Allocate() {
  Block block;
  CheckCuda(cudaHostAlloc(&block.data, block_size_, cudaHostAllocDefault),
            "cudaHostAlloc");
  const cudaError_t status =
      cudaEventCreateWithFlags(&block.last_copy, cudaEventDisableTiming);
  if (status != cudaSuccess) cudaFreeHost(block.data);
  CheckCuda(status, "cudaEventCreateWithFlags");
  return block;
}

void StagingPool::Free(Block& block) {
  // Cleanup paths cannot report errors; a failing runtime leaks at worst.
  cudaEventSynchronize(block.last_copy);
  cudaEventDestroy(block.last_copy);
  cudaFreeHost(block.data);
  block = Block{};
}

CudaClient::DeviceState::DeviceState(int device)
    : staging(device, kStagingBlockSize, kStagingBlocksCached) {
  CheckCuda(cudaStreamCreateWithFlags(&copy_stream, cudaStreamNonBlocking),
            "cudaStreamCreateWithFlags");
}

CudaClient::DeviceState::~DeviceState() {
  cudaStreamSynchronize(copy_stream);
  cudaStreamDestroy(copy_stream);
}

CudaClient::CudaClient(const plugin::ClientContext& context, int32_t device_count)
    : TsClient(context, at::kCUDA, device_count),
      devices_(static_cast<size_t>(device_count)),
      device_once_(new std::once_flag[static_cast<size_t>(device_count)]) {}

plugin::DeviceInfo CudaClient::device_info(int32_t device) {
  cudaDeviceProp properties{};
  CheckCuda(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties");
  return {"cuda", properties.name, static_cast<uint64_t>(properties.totalGlobalMem)};
}

CudaClient::~CudaClient() {
  // No DeviceScope: it throws, and a destructor must not.
  int previous = 0;
  cudaGetDevice(&previous);
  for (size_t device = 0; device < devices_.size(); ++device) {
    if (devices_[device] == nullptr) continue;
    cudaSetDevice(static_cast<int>(device));
    devices_[device].reset();
  }
  cudaSetDevice(previous);
}

CudaClient::DeviceState& CudaClient::State(int32_t device) {
  // The caller holds a DeviceScope for `device`, so the stream and the
  // staging blocks' events belong to it.
  std::call_once(device_once_[device], [&] {
    devices_[device] = std::make_unique<DeviceState>(device);
  });
  return *devices_[device];
}

// Host memory is staged through pinned blocks, and each chunk is copied on
// the copy stream. The host's memory is read here and nowhere later, so the
// caller may release it as soon as this returns.
//
// The result is allocated by LibTorch's CUDA caching allocator, which ties
// memory to the stream current at allocation, the compute stream, and
// reuses freed memory for that stream at once, counting on stream order.
// Two events keep that sound without telling the allocator about the copy
// stream (recordStream needs c10_cuda, which a CPU-only LibTorch lacks):
//   1. the copy stream waits for the compute stream before writing: the
//      memory may have belonged, a moment ago, to a tensor that kernels
//      queued there still use;
//   2. the compute stream waits for the copies: graphs that read the result
//      are queued there later, and so is whatever next gets its memory.
// The cost of (1) is that an upload starts on the GPU only after the work
// queued before it; the host thread still never waits for it.
at::Tensor CudaClient::CopyToDevice(const at::Tensor& tensor, int32_t device) {
  // CUDA memory of another GPU: LibTorch's peer copy does it.
  if (!tensor.is_cpu()) return TsClient::CopyToDevice(tensor, device);
  // Dense tensors keep their strides, as tensor.to(device) keeps them;
  // others are made contiguous here, on the host.
  const at::Tensor host =
      tensor.is_non_overlapping_and_dense() ? tensor : tensor.contiguous();
  at::Tensor result = at::empty_strided(host.sizes(), host.strides(),
                                        host.options().device(DeviceFor(device)));
  const size_t bytes = Bytes(host);
  if (bytes == 0) return result;

  DeviceScope scope(device);
  DeviceState& state = State(device);
  const cudaStream_t compute = ComputeStream(device);
  Event allocated;
  allocated.Order(compute, state.copy_stream);

  // A dense tensor's elements fill [data_ptr, data_ptr + bytes) on both
  // sides, whatever the order of its strides.
  const auto* source = static_cast<const char*>(host.data_ptr());
  auto* target = static_cast<char*>(result.data_ptr());
  try {
    for (size_t offset = 0; offset < bytes; offset += state.staging.block_size()) {
      const size_t size = std::min(state.staging.block_size(), bytes - offset);
      StagingPool::Block block = state.staging.Acquire();
      std::memcpy(block.data, source + offset, size);
      cudaError_t status = cudaMemcpyAsync(target + offset, block.data, size,
                                           cudaMemcpyHostToDevice, state.copy_stream);
      if (status == cudaSuccess) {
        status = cudaEventRecord(block.last_copy, state.copy_stream);
      }
      if (status != cudaSuccess) {
        cudaStreamSynchronize(state.copy_stream);  // the block may be in a copy
        state.staging.Release(block);
        CheckCuda(status, "cudaMemcpyAsync (host to device)");
      }
      state.staging.Release(block);
    }
    Event copied;
    copied.Order(state.copy_stream, compute);
  } catch (...) {
    // `result` dies with the exception; no copy may still write to it then.
    cudaStreamSynchronize(state.copy_stream);
    throw;
  }
  return result;
}

// The result is a pageable host tensor: the host may keep it as long as it
// likes (a user's .cpu() result), and pinned memory is too scarce and too
// slow to allocate to hand out per download. Chunks are copied into pinned
// blocks on the copy stream and from there into the result, the host's
// copy of one chunk overlapping the DMA of the next.
//
// `source` lives until this returns, and every copy from it has finished
// by then, so the caching allocator cannot reuse its memory under a copy.
at::Tensor CudaClient::CopyToHost(const at::Tensor& tensor) {
  if (!tensor.is_cuda()) return TsClient::CopyToHost(tensor);
  const auto device = static_cast<int32_t>(tensor.get_device());
  // Queued on the compute stream, so ordered before the copies below.
  const at::Tensor source =
      tensor.is_non_overlapping_and_dense() ? tensor : tensor.contiguous();
  at::Tensor result = at::empty_strided(source.sizes(), source.strides(),
                                        source.options().device(at::kCPU));
  const size_t bytes = Bytes(source);
  if (bytes == 0) return result;

  DeviceScope scope(device);
  DeviceState& state = State(device);
  // The graphs that computed `source` were queued on the compute stream.
  Event computed;
  computed.Order(ComputeStream(device), state.copy_stream);

  struct Chunk {
    StagingPool::Block block;
    size_t offset;
    size_t size;
  };
  std::deque<Chunk> in_flight;
  const auto* from = static_cast<const char*>(source.data_ptr());
  auto* to = static_cast<char*>(result.data_ptr());
  const auto copy_out_oldest = [&] {
    Chunk& chunk = in_flight.front();
    CheckCuda(cudaEventSynchronize(chunk.block.last_copy), "cudaEventSynchronize");
    std::memcpy(to + chunk.offset, chunk.block.data, chunk.size);
    state.staging.Release(chunk.block);
    in_flight.pop_front();
  };
  try {
    for (size_t offset = 0; offset < bytes; offset += state.staging.block_size()) {
      if (in_flight.size() == kDownloadChunksInFlight) copy_out_oldest();
      const size_t size = std::min(state.staging.block_size(), bytes - offset);
      in_flight.push_back({state.staging.Acquire(), offset, size});
      StagingPool::Block& block = in_flight.back().block;
      CheckCuda(cudaMemcpyAsync(block.data, from + offset, size,
                                cudaMemcpyDeviceToHost, state.copy_stream),
                "cudaMemcpyAsync (device to host)");
      CheckCuda(cudaEventRecord(block.last_copy, state.copy_stream), "cudaEventRecord");
    }
    while (!in_flight.empty()) copy_out_oldest();
  } catch (...) {
    cudaStreamSynchronize(state.copy_stream);  // no block may stay in a copy
    for (Chunk& chunk : in_flight) state.staging.Release(chunk.block);
    throw;
  }
  return result;
}

void CudaClient::synchronize(int32_t device) {
  DeviceScope scope(device);
  CheckCuda(cudaStreamSynchronize(State(device).copy_stream), "cudaStreamSynchronize");
  CheckCuda(cudaStreamSynchronize(ComputeStream(device)), "cudaStreamSynchronize");
}

}  // namespace ltc::ts_cuda
