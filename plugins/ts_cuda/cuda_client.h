// The ts_cuda client: TsClient with its own host<->device transfers.
//
// Transfers run on one copy stream per device, the plugin's own (created
// with cudaStreamNonBlocking, so nothing orders it implicitly), through
// pinned staging blocks, with the CUDA runtime API directly: that needs no
// c10_cuda/torch_cuda, so the plugin builds against a CPU-only LibTorch too.
//
// The compute stream is the stream LibTorch runs graphs on: the calling
// thread's current stream on the device (the default stream unless code
// sets another; LTC's threads do not). Every copy is ordered against it
// with events, both ways; see CudaClient::CopyToDevice.
#pragma once

#include "ts_client.h"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace ltc::ts_cuda {

// Throws plugin::Error(LTC_ERROR_INTERNAL, "<call>: <CUDA's message>")
// unless `status` is cudaSuccess.
void CheckCuda(cudaError_t status, const char* call);

// Pinned host blocks of one size for one device's copies, reused. A block
// whose copy may still be running is never handed out before that copy
// finished: each block carries an event recorded after its last copy.
//
// Why fixed-size blocks: a transfer of any size goes through them in
// chunks, so pinned memory stays bounded (cudaHostAlloc is slow and pinned
// memory is scarce), and the host's memcpy of one chunk overlaps the DMA of
// the one before. Blocks beyond `max_cached` are made when every cached one
// is taken, and freed when given back, so no caller ever waits for another
// thread's block (no deadlock, whatever the number of threads).
class StagingPool {
 public:
  struct Block {
    void* data = nullptr;
    cudaEvent_t last_copy = nullptr;  // recorded after the block's last copy
  };

  StagingPool(int device, size_t block_size, size_t max_cached);
  ~StagingPool();
  StagingPool(const StagingPool&) = delete;
  StagingPool& operator=(const StagingPool&) = delete;

  size_t block_size() const { return block_size_; }

  // A block no copy uses any more. May wait for an earlier copy to finish.
  Block Acquire();
  // Gives back `block` after its copy was queued and block.last_copy
  // recorded behind it; the copy may still be running.
  void Release(Block block);

 private:
  Block Allocate();
  static void Free(Block& block);

  const int device_;
  const size_t block_size_;
  const size_t max_cached_;
  std::mutex mutex_;
  std::deque<Block> free_;  // given back, oldest first
  size_t total_ = 0;        // blocks alive, free or taken
};

class CudaClient final : public torchscript::TsClient {
 public:
  CudaClient(const plugin::ClientContext& context, int32_t device_count);
  ~CudaClient() override;

  // The GPU's name and memory, from cudaGetDeviceProperties.
  plugin::DeviceInfo device_info(int32_t device) override;

  // Waits for the device's copy stream and for the calling thread's
  // compute stream on it.
  void synchronize(int32_t device) override;

 protected:
  at::Tensor CopyToDevice(const at::Tensor& tensor, int32_t device) override;
  at::Tensor CopyToHost(const at::Tensor& tensor) override;

 private:
  // Made on a device's first transfer, so unused GPUs get no context.
  struct DeviceState {
    explicit DeviceState(int device);
    ~DeviceState();
    cudaStream_t copy_stream = nullptr;
    StagingPool staging;
  };

  DeviceState& State(int32_t device);

  std::vector<std::unique_ptr<DeviceState>> devices_;
  std::unique_ptr<std::once_flag[]> device_once_;
};

}  // namespace ltc::ts_cuda
