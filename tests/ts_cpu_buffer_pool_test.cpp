// The CPU buffer pool: graph runs reuse the large blocks freed before them,
// and nothing else changes. Each test runs in its own process (the pool is
// installed once per process, with the capacity of the first call).
#include "cpu_buffer_pool.h"

#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

namespace ltc::torchscript {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

at::Tensor FourMiB() { return at::empty({1 << 20}, at::kFloat); }

TEST(CpuBufferPool, GraphRunsReuseFreedBlocksOfTheirSize) {
  CpuBufferPool* pool = CpuBufferPool::Install(64 * kMiB);
  ASSERT_NE(pool, nullptr);
  void* first = nullptr;
  {
    CpuBufferPool::Scope graph_run;
    at::Tensor a = FourMiB();
    first = a.data_ptr();
  }
  EXPECT_EQ(pool->cached_bytes(), 4 * kMiB);

  CpuBufferPool::Scope graph_run;
  at::Tensor b = FourMiB();
  EXPECT_EQ(b.data_ptr(), first);
  EXPECT_EQ(pool->cached_bytes(), 0u);
  at::Tensor c = at::empty({2 * kMiB}, at::kByte);  // another size: a new block
  EXPECT_NE(c.data_ptr(), first);
}

TEST(CpuBufferPool, OtherAllocationsBypassIt) {
  CpuBufferPool* pool = CpuBufferPool::Install(64 * kMiB);
  ASSERT_NE(pool, nullptr);
  { at::Tensor outside_a_graph = FourMiB(); }
  EXPECT_EQ(pool->cached_bytes(), 0u);
  {
    CpuBufferPool::Scope graph_run;
    at::Tensor small = at::empty({1000}, at::kFloat);
  }
  EXPECT_EQ(pool->cached_bytes(), 0u);
}

TEST(CpuBufferPool, KeepsNoMoreThanItsCapacity) {
  CpuBufferPool* pool = CpuBufferPool::Install(6 * kMiB);
  ASSERT_NE(pool, nullptr);
  {
    CpuBufferPool::Scope graph_run;
    at::Tensor a = FourMiB();
    at::Tensor b = FourMiB();
  }
  EXPECT_EQ(pool->cached_bytes(), 4 * kMiB);
}

TEST(CpuBufferPool, BlocksReturnFromAnyThreadAndThroughRawDeallocation) {
  CpuBufferPool* pool = CpuBufferPool::Install(64 * kMiB);
  ASSERT_NE(pool, nullptr);
  at::Tensor result;
  void* raw = nullptr;
  {
    CpuBufferPool::Scope graph_run;
    result = FourMiB().fill_(3);
    raw = c10::GetCPUAllocator()->raw_allocate(4 * kMiB);
  }
  // The host frees results on its own threads.
  std::thread([moved = std::move(result)]() mutable {
    EXPECT_EQ(moved.sum().item<float>(), 3.0f * (1 << 20));
    moved.reset();
  }).join();
  c10::GetCPUAllocator()->raw_deallocate(raw);
  EXPECT_EQ(pool->cached_bytes(), 8 * kMiB);
}

}  // namespace
}  // namespace ltc::torchscript
