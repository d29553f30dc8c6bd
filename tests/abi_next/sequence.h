// The host's whole sequence over one test-identity plugin (tests/plugins'
// CPU backend), through the typed client of ltc/plugin_client.h; included
// by tests built against either header, so it runs with either version's
// structs.
#pragma once

#include <ltc/plugin_client.h>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

namespace ltc::test {

// A host tensor owning a copy of `values`.
inline DLManagedTensorPtr HostTensor(const std::vector<float>& values) {
  struct Owned {
    std::vector<float> values;
    int64_t shape[1];
    DLManagedTensor managed{};
  };
  auto owned = std::make_unique<Owned>();
  owned->values = values;
  owned->shape[0] = static_cast<int64_t>(values.size());
  DLTensor& tensor = owned->managed.dl_tensor;
  tensor.data = owned->values.data();
  tensor.device = DLDevice{kDLCPU, 0};
  tensor.ndim = 1;
  tensor.dtype = DLDataType{kDLFloat, 32, 1};
  tensor.shape = owned->shape;
  owned->managed.manager_ctx = owned.get();
  owned->managed.deleter = [](DLManagedTensor* self) {
    delete static_cast<Owned*>(self->manager_ctx);
  };
  return DLManagedTensorPtr(&owned.release()->managed);
}

// Create (already done: `client`), upload, compile, execute, download,
// synchronize, seed and stats, checking each result.
inline void ExpectIdentityRoundTrip(const PluginClient& client) {
  ASSERT_EQ(client.device_count(), 1);
  const DeviceInfo device = client.device_info(0);
  EXPECT_EQ(device.kind, "cpu");
  EXPECT_EQ(device.name, "test device 0");
  EXPECT_EQ(device.memory_bytes, uint64_t{1} << 30);

  const std::vector<float> values{1.5f, -2.0f, 3.25f, 0.0f};
  {
    Buffer input = client.BufferFromHost(HostTensor(values), 0);
    Buffer scalar = client.BufferFromScalar(DLDataType{kDLFloat, 64, 1}, 0, 2.5, 0);
    const Executable executable = client.Compile("test-identity", "2", "cache-key", 0);
    EXPECT_EQ(executable.num_parameters(), 2u);
    EXPECT_EQ(executable.num_results(), 2u);
    std::vector<Buffer> results = client.Execute(executable, {input.get(), scalar.get()});
    ASSERT_EQ(results.size(), 2u);

    const DLManagedTensorPtr tensor = client.ToHost(results[0].get());
    ASSERT_EQ(tensor->dl_tensor.ndim, 1);
    ASSERT_EQ(tensor->dl_tensor.shape[0], 4);
    std::vector<float> back(4);
    std::memcpy(back.data(), tensor->dl_tensor.data, sizeof(float) * 4);
    EXPECT_EQ(back, values);
    const DLManagedTensorPtr value = client.ToHost(results[1].get());
    double back_value = 0;
    std::memcpy(&back_value, value->dl_tensor.data, sizeof back_value);
    EXPECT_EQ(back_value, 2.5);

    client.Synchronize(0);
    client.SetRngSeed(7);
    const std::optional<ClientStats> stats = client.Stats();
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->live_buffers, 4u);
    EXPECT_EQ(stats->live_executables, 1u);
    EXPECT_EQ(stats->compiles, 1u);
    EXPECT_EQ(stats->executes, 1u);
  }
  EXPECT_EQ(client.Stats()->live_buffers, 0u);
  EXPECT_EQ(client.Stats()->live_executables, 0u);
}

}  // namespace ltc::test
