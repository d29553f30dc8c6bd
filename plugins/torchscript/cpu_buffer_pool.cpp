#include "cpu_buffer_pool.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

namespace ltc::torchscript {
namespace {

thread_local int scope_depth = 0;

CpuBufferPool* installed = nullptr;  // set once, under Install's lock; never freed

}  // namespace

CpuBufferPool::Scope::Scope() { ++scope_depth; }
CpuBufferPool::Scope::~Scope() { --scope_depth; }

CpuBufferPool::CpuBufferPool(c10::Allocator* previous, size_t capacity_bytes)
    : previous_(previous), capacity_(capacity_bytes) {}

CpuBufferPool* CpuBufferPool::Install(size_t capacity_bytes) {
  static std::mutex mutex;
  static bool tried = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (tried) return installed;
  tried = true;
  // Blocks outlive any plugin state (the host may free a result at exit),
  // so the pool is never destroyed.
  auto* pool = new CpuBufferPool(c10::GetCPUAllocator(), capacity_bytes);
  // LibTorch registers its own CPU allocator at priority 0; one installed
  // above that (a user's) wins, and the pool stays out of the way.
  c10::SetCPUAllocator(pool, /*priority=*/0);
  if (c10::GetCPUAllocator() != pool) {
    delete pool;
    return nullptr;
  }
  installed = pool;
  return installed;
}

c10::DataPtr CpuBufferPool::Allocate(size_t nbytes) const {
  if (scope_depth == 0 || nbytes < kMinBlockBytes) return previous_->allocate(nbytes);
  void* data = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto blocks = free_.find(nbytes);
    if (blocks != free_.end() && !blocks->second.empty()) {
      data = blocks->second.back();
      blocks->second.pop_back();
      cached_ -= nbytes;
    }
  }
  if (data == nullptr) data = c10::alloc_cpu(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_.emplace(data, nbytes);
  }
  return {data, data, &Release, c10::Device(c10::kCPU)};
}

void CpuBufferPool::Release(void* data) {
  CpuBufferPool& pool = *installed;
  std::unique_lock<std::mutex> lock(pool.mutex_);
  const auto block = pool.in_use_.find(data);
  const size_t nbytes = block->second;
  pool.in_use_.erase(block);
  if (pool.cached_ + nbytes <= pool.capacity_) {
    pool.free_[nbytes].push_back(data);
    pool.cached_ += nbytes;
    return;
  }
  lock.unlock();
  c10::free_cpu(data);
}

void CpuBufferPool::RawDelete(void* data) {
  {
    std::lock_guard<std::mutex> lock(installed->mutex_);
    if (installed->in_use_.count(data) == 0) {
      installed->previous_->raw_deleter()(data);
      return;
    }
  }
  Release(data);
}

size_t CpuBufferPool::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

}  // namespace ltc::torchscript
