// A cache of the large CPU blocks that graphs allocate while they run.
//
// A training step's graph allocates the same large tensors every step
// (activations, gradients, updated weights) and the host frees last step's.
// From glibc each such block is fresh pages: 1024 page faults per 4 MiB,
// about as long as computing it. Eager PyTorch updates in place and never
// pays that; the lazy core lowers every update out of place. The pool keeps
// freed blocks for the next allocation of the same size.
//
// The pool is installed as LibTorch's CPU allocator, but serves only
// allocations made on a thread inside a Scope (a graph run); every other
// allocation, and every block it would hold past its capacity, goes to the
// allocator it replaced.
#pragma once

#include <ltc/torch_compat.h>

#include <c10/core/Allocator.h>

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ltc::torchscript {

class CpuBufferPool final : public compat::AllocatorBase {
 public:
  // Blocks smaller than this come from glibc's heap, which reuses them
  // without faulting (glibc maps only blocks of 128 KiB and up).
  static constexpr size_t kMinBlockBytes = size_t{128} << 10;

  // The process's pool, installed on the first call, which sets its
  // capacity (later calls keep the first). Returns nullptr where another
  // allocator of higher priority is installed (it is then left alone).
  // Thread-safe.
  static CpuBufferPool* Install(size_t capacity_bytes);

  // While one lives on a thread, that thread's large CPU allocations come
  // from the pool. Nests.
  class Scope {
   public:
    Scope();
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };

  // Bytes held for reuse (not in any tensor).
  size_t cached_bytes() const;
  // The most bytes it holds for reuse, as the first Install set it.
  size_t capacity_bytes() const { return capacity_; }

  c10::DeleterFnPtr raw_deleter() const override { return &RawDelete; }

 private:
  CpuBufferPool(c10::Allocator* previous, size_t capacity_bytes);
  c10::DataPtr Allocate(size_t nbytes) const override;
  // Keeps or frees a block the pool handed out; false where `data` is not one.
  bool TakeBack(void* data) const;
  // Deleters of pooled DataPtrs, and of raw allocations (pooled or not).
  static void Release(void* data);
  static void RawDelete(void* data);

  c10::Allocator* const previous_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> in_use_;  // block -> bytes
  mutable std::unordered_map<size_t, std::vector<void*>> free_;  // bytes -> blocks
  mutable size_t cached_ = 0;
};

}  // namespace ltc::torchscript
