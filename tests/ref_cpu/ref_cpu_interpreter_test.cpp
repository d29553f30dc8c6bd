// ref_cpu's interpreter through its Client: graphs built with GraphBuilder,
// compiled and run, their results checked element by element. No LibTorch:
// expected values are computed here by hand.
#include "executable.h"
#include "ref_client.h"
#include "tensor.h"

#include <gtest/gtest.h>
#include <ltc/graph_format.h>
#include <ltc/plugin_adapter.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace ltc::ref_cpu {
namespace {

using graph::Argument;
using graph::GraphBuilder;
using graph::None;
using graph::ValueId;
using graph::ValueKind;
using graph::ValueType;

ValueType TensorType(DLDataType dtype, std::vector<int64_t> shape) {
  return ValueType{ValueKind::kTensor, dtype, std::move(shape)};
}
ValueType ScalarType(DLDataType dtype) { return ValueType{ValueKind::kScalar, dtype, {{}}}; }

template <typename T>
Tensor Make(DLDataType dtype, std::vector<int64_t> shape, std::vector<T> values) {
  Tensor t = Tensor::Empty(dtype, std::move(shape));
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size());
  std::copy(values.begin(), values.end(), t.mutable_data<T>());
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

template <typename T>
std::vector<uint8_t> Bytes(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A client as the plugin creates it, without a host's services.
class RefCpuTest : public ::testing::Test {
 protected:
  RefCpuTest() : host_(nullptr, "ref_cpu"), client_({options_, host_, 2, 0}) {}

  std::unique_ptr<plugin::Executable> Compile(const std::vector<uint8_t>& bytes) {
    plugin::CompileRequest request{
        LTC_GRAPH_FORMAT_PORTABLE,
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), nullptr, 0};
    return client_.compile(request);
  }

  // Compiles and runs `builder`'s graph on `inputs`; returns the results.
  std::vector<Tensor> Run(const GraphBuilder& builder, const std::vector<Tensor>& inputs) {
    auto executable = Compile(builder.Finish());
    std::vector<std::unique_ptr<plugin::Buffer>> buffers;
    std::vector<plugin::Buffer*> arguments;
    for (const Tensor& t : inputs) {
      buffers.push_back(std::make_unique<RefBuffer>(t));
      arguments.push_back(buffers.back().get());
    }
    std::vector<std::unique_ptr<plugin::Buffer>> results(executable->num_results());
    client_.execute(*executable, 0, arguments, std::vector<bool>(arguments.size()), results);
    std::vector<Tensor> out;
    for (auto& r : results) out.push_back(static_cast<RefBuffer&>(*r).tensor());
    return out;
  }

  // The Error a run throws; fails the test when none is thrown.
  plugin::Error RunError(const GraphBuilder& builder, const std::vector<Tensor>& inputs) {
    try {
      Run(builder, inputs);
    } catch (const plugin::Error& e) {
      return e;
    }
    ADD_FAILURE() << "no error";
    return plugin::Error(LTC_ERROR_UNKNOWN, "");
  }

  plugin::Options options_;
  plugin::Host host_;
  RefClient client_;
};

TEST_F(RefCpuTest, MlpForwardMatchesHandComputation) {
  // relu(x @ w.T + b), summed over the features: the shape of an MLP layer
  // as the lazy core lowers it (t_copy, addmm, relu).
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kFloat32, {2, 3}));
  const ValueId w = g.AddParameter(TensorType(kFloat32, {2, 3}));
  const ValueId b = g.AddParameter(TensorType(kFloat32, {2}));
  const ValueId wt = g.AddNode("aten::t_copy", "", {w}, {TensorType(kFloat32, {3, 2})})[0];
  const ValueId h = g.AddNode("aten::addmm", "", {b, x, wt, int64_t{1}, int64_t{1}},
                              {TensorType(kFloat32, {2, 2})})[0];
  const ValueId r = g.AddNode("aten::relu", "", {h}, {TensorType(kFloat32, {2, 2})})[0];
  const ValueId s = g.AddNode("aten::sum", "dim_IntList",
                              {r, std::vector<int64_t>{1}, false, None{}},
                              {TensorType(kFloat32, {2})})[0];
  g.SetOutputs({r, s});
  const auto out = Run(g, {Make<float>(kFloat32, {2, 3}, {1, 2, 3, -1, -2, -3}),
                           Make<float>(kFloat32, {2, 3}, {1, 0, 1, 0, 1, 0}),
                           Make<float>(kFloat32, {2}, {0.5f, -1})});
  // x @ w.T = [[4, 2], [-4, -2]]; + b = [[4.5, 1], [-3.5, -3]].
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{4.5f, 1, 0, 0}));
  EXPECT_EQ(out[1].shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(Values<float>(out[1]), (std::vector<float>{5.5f, 0}));
}

TEST_F(RefCpuTest, MlpBackwardPieces) {
  // threshold_backward then mm(t_copy(grad), x) and sum(dim 0, keepdim):
  // the weight and bias gradients of the layer above.
  GraphBuilder g;
  const ValueId grad = g.AddParameter(TensorType(kFloat32, {2, 2}));
  const ValueId act = g.AddParameter(TensorType(kFloat32, {2, 2}));
  const ValueId x = g.AddParameter(TensorType(kFloat32, {2, 3}));
  const ValueId gr = g.AddNode("aten::threshold_backward", "", {grad, act, int64_t{0}},
                               {TensorType(kFloat32, {2, 2})})[0];
  const ValueId grt = g.AddNode("aten::t_copy", "", {gr}, {TensorType(kFloat32, {2, 2})})[0];
  const ValueId gw = g.AddNode("aten::mm", "", {grt, x}, {TensorType(kFloat32, {2, 3})})[0];
  const ValueId gb = g.AddNode("aten::sum", "dim_IntList",
                               {gr, std::vector<int64_t>{0}, true, None{}},
                               {TensorType(kFloat32, {1, 2})})[0];
  const ValueId gbv = g.AddNode("aten::view_copy", "", {gb, std::vector<int64_t>{2}},
                                {TensorType(kFloat32, {2})})[0];
  g.SetOutputs({gw, gbv});
  const auto out = Run(g, {Make<float>(kFloat32, {2, 2}, {1, 1, 1, 1}),
                           Make<float>(kFloat32, {2, 2}, {4.5f, 1, 0, -3}),
                           Make<float>(kFloat32, {2, 3}, {1, 2, 3, -1, -2, -3})});
  // Only row 0 passes the threshold: grad_w = [[1, 2, 3], [1, 2, 3]].
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(Values<float>(out[1]), (std::vector<float>{1, 1}));
}

TEST_F(RefCpuTest, AddBroadcastsWithScalarAlpha) {
  GraphBuilder g;
  const ValueId a = g.AddParameter(TensorType(kFloat32, {2, 3}));
  const ValueId alpha = g.AddParameter(ScalarType(kFloat64));
  const ValueId c = g.AddConstant(TensorType(kFloat32, {3}), Bytes<float>({1, 2, 3}));
  const ValueId sum =
      g.AddNode("aten::add", "Tensor", {a, c, alpha}, {TensorType(kFloat32, {2, 3})})[0];
  g.SetOutputs({sum});
  auto alpha_buffer = client_.buffer_from_scalar({kFloat64, 0, 2.0}, 0);
  const Tensor alpha_tensor = static_cast<RefBuffer&>(*alpha_buffer).tensor();
  EXPECT_EQ(alpha_tensor.dim(), 0);
  const auto out = Run(g, {Make<float>(kFloat32, {2, 3}, {0, 0, 0, 10, 10, 10}), alpha_tensor});
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{2, 4, 6, 12, 14, 16}));
}

TEST_F(RefCpuTest, TypePromotionFollowsTorch) {
  GraphBuilder g;
  const ValueId i = g.AddParameter(TensorType(kInt64, {3}));
  const ValueId f0 = g.AddParameter(TensorType(kFloat32, {}));
  const ValueId f = g.AddParameter(TensorType(kFloat32, {2}));
  const ValueId d0 = g.AddParameter(TensorType(kFloat64, {}));
  // int64 tensor + float32 0-dim tensor: float32 (higher category wins).
  const ValueId a = g.AddNode("aten::add", "Tensor", {i, f0, int64_t{1}},
                              {TensorType(kFloat32, {3})})[0];
  // float32 tensor * float64 0-dim tensor: float32 (dimensioned wins).
  const ValueId m = g.AddNode("aten::mul", "Tensor", {f, d0}, {TensorType(kFloat32, {2})})[0];
  // int64 tensor + a float number: float32 (the default dtype).
  const ValueId s = g.AddNode("aten::add", "Scalar", {i, 0.5, int64_t{1}},
                              {TensorType(kFloat32, {3})})[0];
  // int64 / int64: true division, float32.
  const ValueId q = g.AddNode("aten::div", "Tensor", {i, i}, {TensorType(kFloat32, {3})})[0];
  // int64 tensor * int number stays int64; comparisons are bool.
  const ValueId k = g.AddNode("aten::mul", "Scalar", {i, int64_t{3}}, {TensorType(kInt64, {3})})[0];
  const ValueId e = g.AddNode("aten::gt", "Scalar", {i, 1.5}, {TensorType(kBool, {3})})[0];
  g.SetOutputs({a, m, s, q, k, e});
  const auto out = Run(g, {Make<int64_t>(kInt64, {3}, {1, 2, 3}), Make<float>(kFloat32, {}, {0.25f}),
                           Make<float>(kFloat32, {2}, {1, 2}), Make<double>(kFloat64, {}, {0.5})});
  EXPECT_EQ(DtypeName(out[0].dtype()), DtypeName(kFloat32));
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{1.25f, 2.25f, 3.25f}));
  EXPECT_EQ(DtypeName(out[1].dtype()), DtypeName(kFloat32));
  EXPECT_EQ(Values<float>(out[1]), (std::vector<float>{0.5f, 1}));
  EXPECT_EQ(Values<float>(out[2]), (std::vector<float>{1.5f, 2.5f, 3.5f}));
  EXPECT_EQ(Values<float>(out[3]), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(Values<int64_t>(out[4]), (std::vector<int64_t>{3, 6, 9}));
  EXPECT_EQ(Values<bool>(out[5]), (std::vector<bool>{false, true, true}));
}

TEST_F(RefCpuTest, SumsOverDimsWithTorchDtypes) {
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kFloat32, {2, 3, 2}));
  const ValueId i = g.AddParameter(TensorType(kInt32, {2, 2}));
  const ValueId s = g.AddNode("aten::sum", "dim_IntList",
                              {x, std::vector<int64_t>{0, 2}, true, None{}},
                              {TensorType(kFloat32, {1, 3, 1})})[0];
  const ValueId all = g.AddNode("aten::sum", "", {x, None{}}, {TensorType(kFloat32, {})})[0];
  // Integer sums are int64, as in torch.
  const ValueId is = g.AddNode("aten::sum", "dim_IntList", {i, None{}, false, None{}},
                               {TensorType(kInt64, {})})[0];
  const ValueId mean = g.AddNode("aten::mean", "dim", {x, std::vector<int64_t>{-1}, false, None{}},
                                 {TensorType(kFloat32, {2, 3})})[0];
  const auto max = g.AddNode("aten::max", "dim", {x, int64_t{1}, false},
                             {TensorType(kFloat32, {2, 2}), TensorType(kInt64, {2, 2})});
  g.SetOutputs({s, all, is, mean, max[0], max[1]});
  std::vector<float> xs(12);
  for (int k = 0; k < 12; ++k) xs[k] = static_cast<float>(k);
  const auto out = Run(g, {Make<float>(kFloat32, {2, 3, 2}, xs),
                           Make<int32_t>(kInt32, {2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{1, 3, 1}));
  // dim 1 index j holds 2j, 2j+1 (batch 0) and 6+2j, 7+2j (batch 1).
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{14, 22, 30}));
  EXPECT_EQ(Values<float>(out[1]), (std::vector<float>{66}));
  EXPECT_EQ(DtypeName(out[2].dtype()), DtypeName(kInt64));
  EXPECT_EQ(Values<int64_t>(out[2]), (std::vector<int64_t>{10}));
  EXPECT_EQ(Values<float>(out[3]), (std::vector<float>{0.5f, 2.5f, 4.5f, 6.5f, 8.5f, 10.5f}));
  EXPECT_EQ(Values<float>(out[4]), (std::vector<float>{4, 5, 10, 11}));
  EXPECT_EQ(Values<int64_t>(out[5]), (std::vector<int64_t>{2, 2, 2, 2}));
}

TEST_F(RefCpuTest, ViewOpsAreCopies) {
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kInt64, {2, 3}));
  const ValueId p = g.AddNode("aten::permute_copy", "", {x, std::vector<int64_t>{1, 0}},
                              {TensorType(kInt64, {3, 2})})[0];
  const ValueId v = g.AddNode("aten::view_copy", "", {p, std::vector<int64_t>{-1}},
                              {TensorType(kInt64, {6})})[0];
  const ValueId sl = g.AddNode("aten::slice_copy", "Tensor",
                               {x, int64_t{1}, int64_t{1}, None{}, int64_t{1}},
                               {TensorType(kInt64, {2, 2})})[0];
  const ValueId sel = g.AddNode("aten::select_copy", "int", {x, int64_t{0}, int64_t{-1}},
                                {TensorType(kInt64, {3})})[0];
  const ValueId ex = g.AddNode("aten::expand_copy", "", {sel, std::vector<int64_t>{2, -1}, false},
                               {TensorType(kInt64, {2, 3})})[0];
  const ValueId tr = g.AddNode("aten::transpose_copy", "int", {ex, int64_t{0}, int64_t{1}},
                               {TensorType(kInt64, {3, 2})})[0];
  g.SetOutputs({v, sl, ex, tr});
  const Tensor input = Make<int64_t>(kInt64, {2, 3}, {0, 1, 2, 3, 4, 5});
  const auto out = Run(g, {input});
  EXPECT_EQ(Values<int64_t>(out[0]), (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(Values<int64_t>(out[1]), (std::vector<int64_t>{1, 2, 4, 5}));
  EXPECT_EQ(Values<int64_t>(out[2]), (std::vector<int64_t>{3, 4, 5, 3, 4, 5}));
  EXPECT_EQ(Values<int64_t>(out[3]), (std::vector<int64_t>{3, 3, 4, 4, 5, 5}));
  for (const Tensor& t : out) EXPECT_NE(t.raw(), input.raw());
}

TEST_F(RefCpuTest, UnknownOpIsRefusedAtCompileNamingIt) {
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kFloat32, {2}));
  const ValueId y = g.AddNode("aten::frobnicate", "Tensor", {x}, {TensorType(kFloat32, {2})})[0];
  g.SetOutputs({y});
  try {
    Compile(g.Finish());
    FAIL() << "compiled an unknown op";
  } catch (const plugin::Error& e) {
    EXPECT_EQ(e.code(), LTC_ERROR_UNIMPLEMENTED);
    EXPECT_STREQ(e.what(), "aten::frobnicate.Tensor is not supported");
  }
}

TEST_F(RefCpuTest, MalformedGraphIsInvalidArgument) {
  const std::vector<uint8_t> garbage = {'L', 'T', 'C', 'G', 'R', 'A', 'P', 'X', 1, 0, 0, 0};
  try {
    Compile(garbage);
    FAIL() << "compiled garbage";
  } catch (const plugin::Error& e) {
    EXPECT_EQ(e.code(), LTC_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(e.what()).rfind("ltc-graph-v1: ", 0), 0u) << e.what();
  }
}

TEST_F(RefCpuTest, OtherFormatsAreRefused) {
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kFloat32, {2}));
  g.SetOutputs({x});
  const std::vector<uint8_t> bytes = g.Finish();
  plugin::CompileRequest request{
      "torchscript-ir", std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
      nullptr, 0};
  try {
    client_.compile(request);
    FAIL() << "compiled another format";
  } catch (const plugin::Error& e) {
    EXPECT_EQ(e.code(), LTC_ERROR_UNIMPLEMENTED);
  }
}

TEST_F(RefCpuTest, ParameterOfWrongDtypeOrShapeIsRefused) {
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kFloat32, {2, graph::kUnknownDim}));
  const ValueId y = g.AddNode("aten::neg", "", {x}, {TensorType(kFloat32, {2, graph::kUnknownDim})})[0];
  g.SetOutputs({y});
  plugin::Error dtype = RunError(g, {Make<int64_t>(kInt64, {2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(dtype.code(), LTC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(dtype.what()), "parameter 0: the buffer is int64, the graph says float32");
  plugin::Error shape = RunError(g, {Make<float>(kFloat32, {3, 1}, {1, 2, 3})});
  EXPECT_EQ(shape.code(), LTC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(shape.what()).find("parameter 0"), std::string::npos) << shape.what();
  // The unknown dimension takes any size.
  const auto out = Run(g, {Make<float>(kFloat32, {2, 1}, {1, 2})});
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{-1, -2}));
}

TEST_F(RefCpuTest, WrongKernelResultTypeIsInternalError) {
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kFloat32, {2}));
  // The graph claims neg(float32) is float64: a host or kernel bug that must
  // never become a silently wrong result.
  const ValueId y = g.AddNode("aten::neg", "", {x}, {TensorType(kFloat64, {2})})[0];
  g.SetOutputs({y});
  plugin::Error e = RunError(g, {Make<float>(kFloat32, {2}, {1, 2})});
  EXPECT_EQ(e.code(), LTC_ERROR_INTERNAL);
  EXPECT_STREQ(e.what(), "aten::neg: returned float32, the graph says float64");
}

TEST_F(RefCpuTest, KernelErrorsNameTheOp) {
  GraphBuilder g;
  const ValueId a = g.AddParameter(TensorType(kFloat32, {2, 3}));
  const ValueId y = g.AddNode("aten::mm", "", {a, a}, {TensorType(kFloat32, {2, 3})})[0];
  g.SetOutputs({y});
  plugin::Error e = RunError(g, {Make<float>(kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(e.code(), LTC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(e.what()).rfind("aten::mm: ", 0), 0u) << e.what();
}

TEST_F(RefCpuTest, OutputsMayBeParametersAndConstants) {
  GraphBuilder g;
  const ValueId x = g.AddParameter(TensorType(kFloat64, {1}));
  const ValueId c = g.AddConstant(TensorType(kBool, {2}), {1, 0});
  g.SetOutputs({c, x});
  const auto out = Run(g, {Make<double>(kFloat64, {1}, {2.5})});
  EXPECT_EQ(Values<bool>(out[0]), (std::vector<bool>{true, false}));
  EXPECT_EQ(Values<double>(out[1]), (std::vector<double>{2.5}));
}

// A DLManagedTensor over a vector, counting its deleter's calls.
struct HostTensor {
  std::vector<float> data;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  int deletes = 0;
  DLManagedTensor managed{};

  DLManagedTensor* Managed(DLDeviceType device = kDLCPU) {
    managed.dl_tensor.data = data.data();
    managed.dl_tensor.device = {device, 0};
    managed.dl_tensor.ndim = static_cast<int32_t>(shape.size());
    managed.dl_tensor.dtype = kFloat32;
    managed.dl_tensor.shape = shape.data();
    managed.dl_tensor.strides = strides.empty() ? nullptr : strides.data();
    managed.dl_tensor.byte_offset = 0;
    managed.manager_ctx = this;
    managed.deleter = [](DLManagedTensor* self) {
      ++static_cast<HostTensor*>(self->manager_ctx)->deletes;
    };
    return &managed;
  }
};

TEST_F(RefCpuTest, HostBuffersAreZeroCopyBothWays) {
  HostTensor host{{1, 2, 3, 4, 5, 6}, {2, 3}, {}};
  auto buffer = client_.buffer_from_host(host.Managed(), 0);
  EXPECT_EQ(static_cast<RefBuffer&>(*buffer).tensor().raw(), host.data.data());
  DLManagedTensor* exported = client_.buffer_to_host(*buffer);
  EXPECT_EQ(exported->dl_tensor.data, host.data.data());
  EXPECT_EQ(exported->dl_tensor.ndim, 2);
  EXPECT_EQ(exported->dl_tensor.shape[1], 3);
  buffer.reset();
  EXPECT_EQ(host.deletes, 0);  // the export still shares the bytes
  exported->deleter(exported);
  EXPECT_EQ(host.deletes, 1);
}

TEST_F(RefCpuTest, StridedHostTensorsAreCopiedInOrder) {
  // The transpose of a row-major [2, 3]: strides (1, 3).
  HostTensor host{{1, 2, 3, 4, 5, 6}, {3, 2}, {1, 3}};
  auto buffer = client_.buffer_from_host(host.Managed(), 0);
  EXPECT_EQ(host.deletes, 1);  // copied, so released at once
  const Tensor& t = static_cast<RefBuffer&>(*buffer).tensor();
  EXPECT_EQ(Values<float>(t), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST_F(RefCpuTest, NonCpuHostTensorsAreRefusedAndReleased) {
  HostTensor host{{1, 2}, {2}, {}};
  try {
    client_.buffer_from_host(host.Managed(kDLCUDA), 0);
    FAIL() << "took a CUDA tensor";
  } catch (const plugin::Error& e) {
    EXPECT_EQ(e.code(), LTC_ERROR_INVALID_ARGUMENT);
  }
  EXPECT_EQ(host.deletes, 1);
}

TEST_F(RefCpuTest, PlaceholdersHaveNoData) {
  auto buffer = client_.buffer_create_placeholder(kFloat32, {4, 2}, 0);
  EXPECT_FALSE(buffer->has_data());
  EXPECT_EQ(buffer->shape(), (std::vector<int64_t>{4, 2}));
}

}  // namespace
}  // namespace ltc::ref_cpu
