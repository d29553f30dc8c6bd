#include "cpu_buffer_pool.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

namespace ltc::torchscript {
namespace {

thread_local int scope_depth = 0;

CpuBufferPool* installed = nullptr;  // set once, by Install; never freed

}  // namespace

CpuBufferPool::Scope::Scope() { ++scope_depth; }
CpuBufferPool::Scope::~Scope() { --scope_depth; }

CpuBufferPool::CpuBufferPool(c10::Allocator* previous, size_t capacity_bytes)
    : previous_(previous), capacity_(capacity_bytes) {}

CpuBufferPool* CpuBufferPool::Install(size_t capacity_bytes) {
  // Initialised once, thread-safely; blocks outlive any plugin state (the
  // host may free a result at exit), so the pool is never destroyed.
  static CpuBufferPool* const pool = [capacity_bytes]() -> CpuBufferPool* {
    auto* candidate = new CpuBufferPool(c10::GetCPUAllocator(), capacity_bytes);
    // LibTorch registers its own CPU allocator at priority 0; one installed
    // above that (a user's) wins, and the pool stays out of the way.
    c10::SetCPUAllocator(candidate, /*priority=*/0);
    if (c10::GetCPUAllocator() != candidate) {
      delete candidate;
      return nullptr;
    }
    installed = candidate;
    return candidate;
  }();
  return pool;
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
      in_use_.emplace(data, nbytes);
    }
  }
  if (data == nullptr) {
    data = c10::alloc_cpu(nbytes);  // outside the lock: it may fault for long
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_.emplace(data, nbytes);
  }
  return {data, data, &Release, c10::Device(c10::kCPU)};
}

bool CpuBufferPool::TakeBack(void* data) const {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto block = in_use_.find(data);
  if (block == in_use_.end()) return false;
  const size_t nbytes = block->second;
  in_use_.erase(block);
  if (cached_ + nbytes <= capacity_) {
    free_[nbytes].push_back(data);
    cached_ += nbytes;
    return true;
  }
  lock.unlock();
  c10::free_cpu(data);
  return true;
}

void CpuBufferPool::Release(void* data) { installed->TakeBack(data); }

void CpuBufferPool::RawDelete(void* data) {
  if (!installed->TakeBack(data)) installed->previous_->raw_deleter()(data);
}

size_t CpuBufferPool::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

}  // namespace ltc::torchscript
