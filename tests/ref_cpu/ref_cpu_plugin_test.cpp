// libltc_ref_cpu.so through the C ABI, as a host loads it: what it says it
// is, the errors a user sees, and one graph run end to end.
#include <gtest/gtest.h>
#include <ltc/graph_format.h>
#include <ltc/plugin_client.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

using ltc::ClientConfig;
using ltc::DLManagedTensorPtr;
using ltc::Plugin;
using ltc::PluginClient;
using ltc::PluginError;
namespace graph = ltc::graph;

constexpr DLDataType kFloat32{kDLFloat, 32, 1};

graph::ValueType TensorType(std::vector<int64_t> shape) {
  return graph::ValueType{graph::ValueKind::kTensor, kFloat32, std::move(shape)};
}

std::string_view View(const std::vector<uint8_t>& bytes) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A host tensor over `data`, released by nobody (the test owns the data).
DLManagedTensorPtr HostTensor(std::vector<float>& data, std::vector<int64_t>& shape) {
  auto* t = new DLManagedTensor{};
  t->dl_tensor.data = data.data();
  t->dl_tensor.device = {kDLCPU, 0};
  t->dl_tensor.ndim = static_cast<int32_t>(shape.size());
  t->dl_tensor.dtype = kFloat32;
  t->dl_tensor.shape = shape.data();
  t->deleter = [](DLManagedTensor* self) { delete self; };
  return DLManagedTensorPtr(t);
}

TEST(RefCpuPlugin, DescribesItselfWithoutLibTorch) {
  const auto plugin = Plugin::Load(LTC_REF_CPU_PLUGIN);
  EXPECT_EQ(plugin->name(), "ref_cpu");
  EXPECT_EQ(plugin->attributes().vendor, "ltc-plugins");
  EXPECT_EQ(plugin->attributes().graph_formats, std::vector<std::string>{LTC_GRAPH_FORMAT_PORTABLE});
  EXPECT_EQ(plugin->attributes().libtorch_version, "");
}

TEST(RefCpuPlugin, UnknownOpErrorNamesPluginCallAndOp) {
  PluginClient client(Plugin::Load(LTC_REF_CPU_PLUGIN), ClientConfig{});
  graph::GraphBuilder g;
  const auto x = g.AddParameter(TensorType({2}));
  const auto y = g.AddNode("aten::foo", "", {x}, {TensorType({2})})[0];
  g.SetOutputs({y});
  try {
    client.Compile(LTC_GRAPH_FORMAT_PORTABLE, View(g.Finish()), "", 0);
    FAIL() << "compiled aten::foo";
  } catch (const PluginError& e) {
    EXPECT_STREQ(e.what(), "ref_cpu: compile: UNIMPLEMENTED: aten::foo is not supported");
  }
}

TEST(RefCpuPlugin, RunsAGraphFromHostTensorsToHostTensors) {
  PluginClient client(Plugin::Load(LTC_REF_CPU_PLUGIN), ClientConfig{});
  EXPECT_EQ(client.device_count(), 1);
  EXPECT_EQ(client.eager_fallback_device(), kDLCPU);
  EXPECT_EQ(client.device_info(0).kind, "cpu");
  graph::GraphBuilder g;
  const auto x = g.AddParameter(TensorType({2, 2}));
  const auto y = g.AddNode("aten::mm", "", {x, x}, {TensorType({2, 2})})[0];
  g.SetOutputs({y});
  const auto executable = client.Compile(LTC_GRAPH_FORMAT_PORTABLE, View(g.Finish()), "", 0);
  std::vector<float> data{1, 2, 3, 4};
  std::vector<int64_t> shape{2, 2};
  const auto input = client.BufferFromHost(HostTensor(data, shape), 0);
  const auto results = client.Execute(executable, {input.get()});
  ASSERT_EQ(results.size(), 1u);
  const DLManagedTensorPtr out = client.ToHost(results[0].get());
  ASSERT_EQ(out->dl_tensor.ndim, 2);
  const auto* values = static_cast<const float*>(out->dl_tensor.data);
  EXPECT_EQ(std::vector<float>(values, values + 4), (std::vector<float>{7, 10, 15, 22}));
}

}  // namespace
