// ref_cpu's neural-network kernels against ATen: each kernel runs as a
// one-node call through the registry, on random float32 and float64 inputs,
// and must give eager's dtype, shape and values (within float tolerance);
// one lowered CNN training step runs through the interpreter against
// autograd.
#include "executable.h"
#include "kernel.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace ltc::ref_cpu {
namespace {

using graph::Argument;

DLDataType DtypeOf(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return kFloat32;
    case at::kDouble:
      return kFloat64;
    case at::kLong:
      return kInt64;
    case at::kInt:
      return kInt32;
    case at::kByte:
      return kUInt8;
    case at::kBool:
      return kBool;
    default:
      throw std::runtime_error("test: unmapped dtype");
  }
}

Tensor FromAten(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  Tensor out = Tensor::Empty(DtypeOf(c.scalar_type()), c.sizes().vec());
  if (out.nbytes() != 0) std::memcpy(out.mutable_raw(), c.data_ptr(), out.nbytes());
  return out;
}

// One node of `full_name` ("aten::add.Tensor"), its arguments added in
// schema order.
class Call {
 public:
  explicit Call(const std::string& full_name) {
    const size_t dot = full_name.find('.');
    node_.op = full_name.substr(0, dot);
    if (dot != std::string::npos) node_.overload = full_name.substr(dot + 1);
  }
  Call& T(const at::Tensor& t) {
    node_.arguments.emplace_back(graph::ValueId{static_cast<uint32_t>(values_.size())});
    values_.push_back(FromAten(t));
    return *this;
  }
  Call& OptT(const c10::optional<at::Tensor>& t) { return t ? T(*t) : None(); }
  Call& None() { return Arg(graph::None{}); }
  Call& I(int64_t v) { return Arg(v); }
  Call& F(double v) { return Arg(v); }
  Call& B(bool v) { return Arg(v); }
  Call& Ints(std::vector<int64_t> v) { return Arg(std::move(v)); }
  Call& Bools(std::vector<bool> v) { return Arg(std::move(v)); }
  Call& Dtype(at::ScalarType t) { return Arg(DtypeOf(t)); }
  Call& Str(std::string s) { return Arg(std::move(s)); }

  std::vector<Tensor> Run() const {
    const Kernel kernel = Kernels().Find(node_.full_name());
    if (kernel == nullptr) throw std::runtime_error(node_.full_name() + " is not registered");
    return kernel(KernelArgs(node_, values_));
  }
  // The error code the kernel throws; 0 (no code) when it does not.
  int RunError() const {
    try {
      Run();
    } catch (const plugin::Error& e) {
      return e.code();
    }
    return 0;
  }

 private:
  Call& Arg(Argument a) {
    node_.arguments.push_back(std::move(a));
    return *this;
  }
  graph::Node node_;
  std::vector<Tensor> values_;
};

at::Tensor ToAten(const Tensor& t) {
  at::ScalarType type;
  if (t.dtype() == kFloat32)
    type = at::kFloat;
  else if (t.dtype() == kFloat64)
    type = at::kDouble;
  else if (t.dtype() == kInt64)
    type = at::kLong;
  else if (t.dtype() == kBool)
    type = at::kBool;
  else
    throw std::runtime_error("test: unmapped dtype " + DtypeName(t.dtype()));
  at::Tensor out = at::empty(t.shape(), at::TensorOptions().dtype(type));
  if (t.nbytes() != 0) std::memcpy(out.data_ptr(), t.raw(), t.nbytes());
  return out;
}

double Rtol(at::ScalarType t) { return t == at::kFloat ? 1e-4 : 1e-10; }
double Atol(at::ScalarType t) { return t == at::kFloat ? 1e-5 : 1e-12; }

// Same dtype, same shape, same values (NaN where eager has NaN).
::testing::AssertionResult Same(const Tensor& got, const at::Tensor& want, double scale = 1) {
  if (got.dtype() != DtypeOf(want.scalar_type())) {
    return ::testing::AssertionFailure()
           << "dtype " << DtypeName(got.dtype()) << ", eager " << want.scalar_type();
  }
  if (got.shape() != want.sizes().vec()) {
    return ::testing::AssertionFailure()
           << "shape " << ShapeString(got.shape()) << ", eager " << want.sizes();
  }
  const at::Tensor g = ToAten(got);
  if (!at::isFloatingType(want.scalar_type())) {
    if (at::equal(g, want)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got\n" << g << "\neager\n" << want;
  }
  const double rtol = Rtol(want.scalar_type()), atol = Atol(want.scalar_type()) * scale;
  if (at::allclose(g, want, rtol, atol, /*equal_nan=*/true)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max abs difference " << (g - want).abs().nan_to_num(0).max().item<double>()
         << "\ngot\n"
         << g << "\neager\n"
         << want;
}

class NnKernels : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override { at::manual_seed(0); }
  at::TensorOptions opts() const { return at::TensorOptions().dtype(GetParam()); }
  at::Tensor randn(at::IntArrayRef shape) const { return at::randn(shape, opts()); }
  at::Tensor rand(at::IntArrayRef shape) const { return at::rand(shape, opts()); }
};

// ---- softmax ---------------------------------------------------------------

TEST_P(NnKernels, SoftmaxAndLogSoftmaxAlongEveryDim) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{7}, {3, 5}, {2, 3, 4}, {}, {4, 0}}) {
    const at::Tensor x = randn(shape) * 3;
    for (int64_t dim = -std::max<int64_t>(x.dim(), 1); dim < std::max<int64_t>(x.dim(), 1); ++dim) {
      SCOPED_TRACE("shape " + ShapeString(shape) + " dim " + std::to_string(dim));
      const at::Tensor y = at::_softmax(x, dim, false);
      const at::Tensor ly = at::_log_softmax(x, dim, false);
      EXPECT_TRUE(Same(Call("aten::_softmax").T(x).I(dim).B(false).Run()[0], y));
      EXPECT_TRUE(Same(Call("aten::_log_softmax").T(x).I(dim).B(false).Run()[0], ly));
      const at::Tensor g = randn(shape);
      EXPECT_TRUE(
          Same(Call("aten::_softmax_backward_data").T(g).T(y).I(dim).Dtype(GetParam()).Run()[0],
               at::_softmax_backward_data(g, y, dim, GetParam())));
      EXPECT_TRUE(Same(
          Call("aten::_log_softmax_backward_data").T(g).T(ly).I(dim).Dtype(GetParam()).Run()[0],
          at::_log_softmax_backward_data(g, ly, dim, GetParam())));
    }
  }
}

TEST_P(NnKernels, SoftmaxOfNanAndInfinityIsEagers) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const at::Tensor x =
      at::tensor({1.0, nan, 2.0, -inf, -inf, -inf, inf, 0.0, 1.0}, opts()).view({3, 3});
  EXPECT_TRUE(Same(Call("aten::_softmax").T(x).I(1).B(false).Run()[0], at::_softmax(x, 1, false)));
  EXPECT_TRUE(
      Same(Call("aten::_log_softmax").T(x).I(1).B(false).Run()[0], at::_log_softmax(x, 1, false)));
}

// ---- nll_loss --------------------------------------------------------------

TEST_P(NnKernels, NllLossForwardAndBackward) {
  const int64_t classes = 5;
  struct Case {
    std::vector<int64_t> input;
    bool weighted;
    int64_t ignore_index;
  };
  for (const Case& c :
       {Case{{4, classes}, false, -100}, Case{{4, classes}, true, -100},
        Case{{6, classes}, true, 2}, Case{{classes}, false, -100}, Case{{classes}, true, 3}}) {
    for (int64_t reduction : {0, 1, 2}) {
      SCOPED_TRACE("input " + ShapeString(c.input) + " weighted " + std::to_string(c.weighted) +
                   " ignore " + std::to_string(c.ignore_index) + " reduction " +
                   std::to_string(reduction));
      const at::Tensor x = at::log_softmax(randn(c.input), -1);
      const at::Tensor target = c.input.size() == 1 ? at::scalar_tensor(3, at::kLong)
                                                    : at::randint(classes, {c.input[0]}, at::kLong);
      const c10::optional<at::Tensor> weight =
          c.weighted ? c10::optional<at::Tensor>(rand({classes}) + 0.5) : c10::nullopt;
      at::Tensor out, total;
      std::tie(out, total) = at::nll_loss_forward(x, target, weight, reduction, c.ignore_index);
      const std::vector<Tensor> got = Call("aten::nll_loss_forward")
                                          .T(x)
                                          .T(target)
                                          .OptT(weight)
                                          .I(reduction)
                                          .I(c.ignore_index)
                                          .Run();
      ASSERT_EQ(got.size(), 2u);
      EXPECT_TRUE(Same(got[0], out));
      EXPECT_TRUE(Same(got[1], total));

      const at::Tensor grad = randn(out.sizes());
      EXPECT_TRUE(
          Same(Call("aten::nll_loss_backward")
                   .T(grad)
                   .T(x)
                   .T(target)
                   .OptT(weight)
                   .I(reduction)
                   .I(c.ignore_index)
                   .T(total)
                   .Run()[0],
               at::nll_loss_backward(grad, x, target, weight, reduction, c.ignore_index, total)));
    }
  }
}

TEST_P(NnKernels, NllLossMeanOfOnlyIgnoredTargetsIsNan) {
  const at::Tensor x = randn({3, 4});
  const at::Tensor target = at::full({3}, -100, at::kLong);
  at::Tensor out, total;
  std::tie(out, total) = at::nll_loss_forward(x, target, {}, 1, -100);
  const std::vector<Tensor> got =
      Call("aten::nll_loss_forward").T(x).T(target).None().I(1).I(-100).Run();
  EXPECT_TRUE(Same(got[0], out));
  EXPECT_TRUE(Same(got[1], total));
}

TEST_P(NnKernels, NllLossRefusesATargetOutOfRange) {
  EXPECT_EQ(Call("aten::nll_loss_forward")
                .T(randn({2, 3}))
                .T(at::tensor({0, 3}, at::kLong))
                .None()
                .I(1)
                .I(-100)
                .RunError(),
            LTC_ERROR_INVALID_ARGUMENT);
}

TEST_P(NnKernels, NllLoss2dForwardAndBackward) {
  const at::Tensor x = at::log_softmax(randn({2, 4, 3, 5}), 1);
  const at::Tensor target = at::randint(4, {2, 3, 5}, at::kLong);
  for (bool weighted : {false, true}) {
    for (int64_t reduction : {0, 1, 2}) {
      const c10::optional<at::Tensor> weight =
          weighted ? c10::optional<at::Tensor>(rand({4}) + 0.5) : c10::nullopt;
      at::Tensor out, total;
      std::tie(out, total) = at::nll_loss2d_forward(x, target, weight, reduction, 1);
      const std::vector<Tensor> got =
          Call("aten::nll_loss2d_forward").T(x).T(target).OptT(weight).I(reduction).I(1).Run();
      EXPECT_TRUE(Same(got[0], out));
      EXPECT_TRUE(Same(got[1], total));
      const at::Tensor grad = randn(out.sizes());
      EXPECT_TRUE(Same(Call("aten::nll_loss2d_backward")
                           .T(grad)
                           .T(x)
                           .T(target)
                           .OptT(weight)
                           .I(reduction)
                           .I(1)
                           .T(total)
                           .Run()[0],
                       at::nll_loss2d_backward(grad, x, target, weight, reduction, 1, total)));
    }
  }
}

// ---- pointwise losses ------------------------------------------------------

TEST_P(NnKernels, MseSmoothL1AndHuberLosses) {
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{4, 5}, {7}, {}}) {
    const at::Tensor x = randn(shape), y = randn(shape);
    for (int64_t reduction : {0, 1, 2}) {
      SCOPED_TRACE("shape " + ShapeString(shape) + " reduction " + std::to_string(reduction));
      const at::Tensor out = at::mse_loss(x, y, reduction);
      const at::Tensor grad = randn(out.sizes());
      EXPECT_TRUE(Same(Call("aten::mse_loss").T(x).T(y).I(reduction).Run()[0], out));
      EXPECT_TRUE(Same(Call("aten::mse_loss_backward").T(grad).T(x).T(y).I(reduction).Run()[0],
                       at::mse_loss_backward(grad, x, y, reduction)));
      for (double beta : {1.0, 0.5, 0.0}) {
        SCOPED_TRACE("beta " + std::to_string(beta));
        EXPECT_TRUE(Same(Call("aten::smooth_l1_loss").T(x).T(y).I(reduction).F(beta).Run()[0],
                         at::smooth_l1_loss(x, y, reduction, beta)));
        EXPECT_TRUE(Same(
            Call("aten::smooth_l1_loss_backward").T(grad).T(x).T(y).I(reduction).F(beta).Run()[0],
            at::smooth_l1_loss_backward(grad, x, y, reduction, beta)));
      }
      for (double delta : {1.0, 0.3}) {
        SCOPED_TRACE("delta " + std::to_string(delta));
        EXPECT_TRUE(Same(Call("aten::huber_loss").T(x).T(y).I(reduction).F(delta).Run()[0],
                         at::huber_loss(x, y, reduction, delta)));
        EXPECT_TRUE(
            Same(Call("aten::huber_loss_backward").T(grad).T(x).T(y).I(reduction).F(delta).Run()[0],
                 at::huber_loss_backward(grad, x, y, reduction, delta)));
      }
    }
  }
}

TEST_P(NnKernels, BinaryCrossEntropy) {
  // 0 and 1 included: ATen clamps the logs at -100.
  const at::Tensor x = at::cat({rand({11}), at::tensor({0.0, 1.0}, opts())}).view({13});
  const at::Tensor y = rand({13});
  for (bool weighted : {false, true}) {
    for (int64_t reduction : {0, 1, 2}) {
      SCOPED_TRACE("weighted " + std::to_string(weighted) + " reduction " +
                   std::to_string(reduction));
      const c10::optional<at::Tensor> weight =
          weighted ? c10::optional<at::Tensor>(rand({13})) : c10::nullopt;
      const at::Tensor out = at::binary_cross_entropy(x, y, weight, reduction);
      EXPECT_TRUE(Same(
          Call("aten::binary_cross_entropy").T(x).T(y).OptT(weight).I(reduction).Run()[0], out));
      const at::Tensor grad = randn(out.sizes());
      EXPECT_TRUE(Same(Call("aten::binary_cross_entropy_backward")
                           .T(grad)
                           .T(x)
                           .T(y)
                           .OptT(weight)
                           .I(reduction)
                           .Run()[0],
                       at::binary_cross_entropy_backward(grad, x, y, weight, reduction)));
    }
  }
  // A weight that broadcasts.
  const at::Tensor x2 = rand({3, 4}), y2 = rand({3, 4}), w2 = rand({4});
  EXPECT_TRUE(Same(Call("aten::binary_cross_entropy").T(x2).T(y2).T(w2).I(0).Run()[0],
                   at::binary_cross_entropy(x2, y2, w2, 0)));
}

// ---- convolution -----------------------------------------------------------

struct ConvCase {
  std::vector<int64_t> input, weight;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
  bool bias;
};

std::string Describe(const ConvCase& c) {
  return "input " + ShapeString(c.input) + " weight " + ShapeString(c.weight) + " stride " +
         ShapeString(c.stride) + " padding " + ShapeString(c.padding) + " dilation " +
         ShapeString(c.dilation) + " groups " + std::to_string(c.groups);
}

const std::vector<ConvCase>& ConvCases() {
  static const std::vector<ConvCase> cases = {
      {{2, 3, 8, 8}, {4, 3, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {{2, 3, 9, 7}, {6, 3, 3, 2}, {2, 1}, {1, 2}, {1, 1}, 1, false},
      {{1, 4, 10, 10}, {6, 2, 3, 3}, {1, 2}, {2, 1}, {2, 1}, 2, true},
      {{3, 4, 5, 5}, {4, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 4, true},  // depthwise
      {{2, 6, 4, 5}, {3, 6, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true},  // pointwise
      {{2, 6, 4, 5}, {4, 3, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 2, false},
      {{2, 3, 12}, {5, 3, 4}, {2}, {1}, {2}, 1, true},  // 1-D
      {{1, 2, 6}, {2, 1, 3}, {1}, {0}, {1}, 2, false},
  };
  return cases;
}

TEST_P(NnKernels, ConvolutionForward) {
  for (const ConvCase& c : ConvCases()) {
    SCOPED_TRACE(Describe(c));
    const at::Tensor x = randn(c.input), w = randn(c.weight);
    const c10::optional<at::Tensor> b =
        c.bias ? c10::optional<at::Tensor>(randn({c.weight[0]})) : c10::nullopt;
    const std::vector<int64_t> zeros(c.stride.size(), 0);
    const at::Tensor want =
        at::convolution(x, w, b, c.stride, c.padding, c.dilation, false, zeros, c.groups);
    EXPECT_TRUE(Same(Call("aten::convolution")
                         .T(x)
                         .T(w)
                         .OptT(b)
                         .Ints(c.stride)
                         .Ints(c.padding)
                         .Ints(c.dilation)
                         .B(false)
                         .Ints(zeros)
                         .I(c.groups)
                         .Run()[0],
                     want, 10));
    EXPECT_TRUE(Same(Call("aten::_convolution")
                         .T(x)
                         .T(w)
                         .OptT(b)
                         .Ints(c.stride)
                         .Ints(c.padding)
                         .Ints(c.dilation)
                         .B(false)
                         .Ints(zeros)
                         .I(c.groups)
                         .B(false)
                         .B(false)
                         .B(true)
                         .B(true)
                         .Run()[0],
                     want, 10));
  }
}

TEST_P(NnKernels, ConvolutionBackwardEveryMask) {
  for (const ConvCase& c : ConvCases()) {
    SCOPED_TRACE(Describe(c));
    const at::Tensor x = randn(c.input), w = randn(c.weight);
    const std::vector<int64_t> zeros(c.stride.size(), 0);
    const at::Tensor y =
        at::convolution(x, w, {}, c.stride, c.padding, c.dilation, false, zeros, c.groups);
    const at::Tensor grad = randn(y.sizes());
    const std::vector<int64_t> bias_sizes{c.weight[0]};
    for (const std::vector<bool>& mask :
         {std::vector<bool>{true, true, true}, {false, true, true}, {true, false, false}}) {
      SCOPED_TRACE("mask " + std::to_string(mask[0]) + std::to_string(mask[1]) +
                   std::to_string(mask[2]));
      const auto want =
          at::convolution_backward(grad, x, w, bias_sizes, c.stride, c.padding, c.dilation, false,
                                   zeros, c.groups, {mask[0], mask[1], mask[2]});
      const std::vector<Tensor> got = Call("aten::convolution_backward")
                                          .T(grad)
                                          .T(x)
                                          .T(w)
                                          .Ints(bias_sizes)
                                          .Ints(c.stride)
                                          .Ints(c.padding)
                                          .Ints(c.dilation)
                                          .B(false)
                                          .Ints(zeros)
                                          .I(c.groups)
                                          .Bools(mask)
                                          .Run();
      ASSERT_EQ(got.size(), 3u);
      // A False entry: zeros of the gradient's shape (eager: undefined).
      const at::Tensor wants[3] = {mask[0] ? std::get<0>(want) : at::zeros_like(x),
                                   mask[1] ? std::get<1>(want) : at::zeros_like(w),
                                   mask[2] ? std::get<2>(want) : at::zeros(bias_sizes, opts())};
      for (int k = 0; k < 3; ++k) EXPECT_TRUE(Same(got[k], wants[k], 100)) << "output " << k;
    }
  }
}

TEST_P(NnKernels, TransposedConvolutionIsUnimplemented) {
  EXPECT_EQ(Call("aten::convolution")
                .T(randn({1, 2, 4, 4}))
                .T(randn({2, 3, 3, 3}))
                .None()
                .Ints({1, 1})
                .Ints({0, 0})
                .Ints({1, 1})
                .B(true)
                .Ints({0, 0})
                .I(1)
                .RunError(),
            LTC_ERROR_UNIMPLEMENTED);
}

// ---- batch norm ------------------------------------------------------------

TEST_P(NnKernels, NativeBatchNormTrainingAndEvaluation) {
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{4, 3}, {2, 3, 5}, {2, 3, 4, 4}}) {
    for (bool affine : {true, false}) {
      SCOPED_TRACE("shape " + ShapeString(shape) + " affine " + std::to_string(affine));
      const int64_t channels = shape[1];
      const at::Tensor x = randn(shape) * 2 + 1;
      const c10::optional<at::Tensor> w =
          affine ? c10::optional<at::Tensor>(randn({channels})) : c10::nullopt;
      const c10::optional<at::Tensor> b =
          affine ? c10::optional<at::Tensor>(randn({channels})) : c10::nullopt;
      const at::Tensor rm = randn({channels}), rv = rand({channels}) + 0.5;
      for (bool training : {true, false}) {
        SCOPED_TRACE("training " + std::to_string(training));
        if (!training) {
          // Refused: the lazy IR declares the saved statistics [C], eager
          // returns them empty.
          EXPECT_THROW(Call("aten::native_batch_norm")
                           .T(x).OptT(w).OptT(b).T(rm).T(rv).B(false).F(0.1).F(1e-5)
                           .Run(),
                       ltc::plugin::Error);
          continue;
        }
        // Eager updates the running stats in place: give it copies.
        at::Tensor out, save_mean, save_invstd;
        std::tie(out, save_mean, save_invstd) =
            at::native_batch_norm(x, w, b, rm.clone(), rv.clone(), training, 0.1, 1e-5);
        const std::vector<Tensor> got = Call("aten::native_batch_norm")
                                            .T(x)
                                            .OptT(w)
                                            .OptT(b)
                                            .T(rm)
                                            .T(rv)
                                            .B(training)
                                            .F(0.1)
                                            .F(1e-5)
                                            .Run();
        ASSERT_EQ(got.size(), 3u);
        EXPECT_TRUE(Same(got[0], out));
        EXPECT_TRUE(Same(got[1], save_mean));
        EXPECT_TRUE(Same(got[2], save_invstd));
        const at::Tensor grad = randn(shape);
        for (const std::vector<bool>& mask :
             {std::vector<bool>{true, true, true}, {true, false, false}, {false, true, true}}) {
          const auto want =
              at::native_batch_norm_backward(grad, x, w, rm, rv, save_mean, save_invstd, training,
                                             1e-5, {mask[0], mask[1], mask[2]});
          const std::vector<Tensor> g = Call("aten::native_batch_norm_backward")
                                            .T(grad)
                                            .T(x)
                                            .OptT(w)
                                            .T(rm)
                                            .T(rv)
                                            .T(ToAten(got[1]))
                                            .T(ToAten(got[2]))
                                            .B(training)
                                            .F(1e-5)
                                            .Bools(mask)
                                            .Run();
          ASSERT_EQ(g.size(), 3u);
          const at::Tensor zc = at::zeros({channels}, opts());
          EXPECT_TRUE(Same(g[0], mask[0] ? std::get<0>(want) : at::zeros_like(x), 10));
          EXPECT_TRUE(Same(g[1], mask[1] ? std::get<1>(want) : zc, 10));
          EXPECT_TRUE(Same(g[2], mask[2] ? std::get<2>(want) : zc, 10));
        }
      }
    }
  }
}

// ---- layer norm ------------------------------------------------------------

TEST_P(NnKernels, NativeLayerNormForwardAndBackward) {
  struct Case {
    std::vector<int64_t> input, normalized;
    bool affine;
  };
  for (const Case& c : {Case{{4, 6}, {6}, true}, Case{{2, 3, 8}, {8}, false},
                        Case{{2, 3, 4}, {3, 4}, true}, Case{{5}, {5}, true}}) {
    SCOPED_TRACE("input " + ShapeString(c.input) + " normalized " + ShapeString(c.normalized));
    const at::Tensor x = randn(c.input) * 3 + 2;
    const c10::optional<at::Tensor> w =
        c.affine ? c10::optional<at::Tensor>(randn(c.normalized)) : c10::nullopt;
    const c10::optional<at::Tensor> b =
        c.affine ? c10::optional<at::Tensor>(randn(c.normalized)) : c10::nullopt;
    at::Tensor out, mean, rstd;
    std::tie(out, mean, rstd) = at::native_layer_norm(x, c.normalized, w, b, 1e-5);
    const std::vector<Tensor> got =
        Call("aten::native_layer_norm").T(x).Ints(c.normalized).OptT(w).OptT(b).F(1e-5).Run();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_TRUE(Same(got[0], out, 10));
    EXPECT_TRUE(Same(got[1], mean));
    EXPECT_TRUE(Same(got[2], rstd));
    const at::Tensor grad = randn(c.input);
    const std::vector<bool> mask =
        c.affine ? std::vector<bool>{true, true, true} : std::vector<bool>{true, false, false};
    const auto want = at::native_layer_norm_backward(grad, x, c.normalized, mean, rstd, w, b,
                                                     {mask[0], mask[1], mask[2]});
    const std::vector<Tensor> g = Call("aten::native_layer_norm_backward")
                                      .T(grad)
                                      .T(x)
                                      .Ints(c.normalized)
                                      .T(mean)
                                      .T(rstd)
                                      .OptT(w)
                                      .OptT(b)
                                      .Bools(mask)
                                      .Run();
    ASSERT_EQ(g.size(), 3u);
    EXPECT_TRUE(Same(g[0], std::get<0>(want), 10));
    if (c.affine) {
      EXPECT_TRUE(Same(g[1], std::get<1>(want), 10));
      EXPECT_TRUE(Same(g[2], std::get<2>(want), 10));
    } else {
      // No weight: the lazy core declares grad_weight [] (eager: undefined).
      EXPECT_TRUE(Same(g[1], at::zeros({}, opts())));
    }
  }
}

// ---- pooling ---------------------------------------------------------------

struct PoolCase {
  std::vector<int64_t> input, kernel, stride, padding, dilation;
  bool ceil_mode;
};

std::string Describe(const PoolCase& c) {
  return "input " + ShapeString(c.input) + " kernel " + ShapeString(c.kernel) + " stride " +
         ShapeString(c.stride) + " padding " + ShapeString(c.padding) + " dilation " +
         ShapeString(c.dilation) + " ceil " + std::to_string(c.ceil_mode);
}

const std::vector<PoolCase>& PoolCases() {
  static const std::vector<PoolCase> cases = {
      {{2, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false},
      {{2, 3, 8, 8}, {2, 2}, {}, {0, 0}, {1, 1}, false},  // stride defaults to kernel
      {{1, 2, 7, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true},
      {{1, 2, 7, 9}, {3, 2}, {2, 3}, {1, 0}, {1, 1}, false},
      {{3, 7, 7}, {3, 3}, {2, 2}, {1, 1}, {2, 2}, true},  // unbatched, dilated
      {{2, 1, 5, 6}, {2}, {1}, {1}, {1}, true},           // one entry for both dims
  };
  return cases;
}

TEST_P(NnKernels, MaxPool2dWithIndicesForwardAndBackward) {
  for (const PoolCase& c : PoolCases()) {
    SCOPED_TRACE(Describe(c));
    const at::Tensor x = randn(c.input);
    at::Tensor out, indices;
    std::tie(out, indices) =
        at::max_pool2d_with_indices(x, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode);
    const std::vector<Tensor> got = Call("aten::max_pool2d_with_indices")
                                        .T(x)
                                        .Ints(c.kernel)
                                        .Ints(c.stride)
                                        .Ints(c.padding)
                                        .Ints(c.dilation)
                                        .B(c.ceil_mode)
                                        .Run();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(Same(got[0], out));
    EXPECT_TRUE(Same(got[1], indices));
    const at::Tensor grad = randn(out.sizes());
    EXPECT_TRUE(Same(Call("aten::max_pool2d_with_indices_backward")
                         .T(grad)
                         .T(x)
                         .Ints(c.kernel)
                         .Ints(c.stride)
                         .Ints(c.padding)
                         .Ints(c.dilation)
                         .B(c.ceil_mode)
                         .T(indices)
                         .Run()[0],
                     at::max_pool2d_with_indices_backward(grad, x, c.kernel, c.stride, c.padding,
                                                          c.dilation, c.ceil_mode, indices)));
  }
}

TEST_P(NnKernels, MaxPoolPicksNanLikeEager) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const at::Tensor x = at::tensor({1.0, nan, 3.0, 2.0}, opts()).view({1, 1, 2, 2});
  at::Tensor out, indices;
  std::tie(out, indices) = at::max_pool2d_with_indices(x, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false);
  const std::vector<Tensor> got = Call("aten::max_pool2d_with_indices")
                                      .T(x)
                                      .Ints({2, 2})
                                      .Ints({2, 2})
                                      .Ints({0, 0})
                                      .Ints({1, 1})
                                      .B(false)
                                      .Run();
  EXPECT_TRUE(Same(got[0], out));
  EXPECT_TRUE(Same(got[1], indices));
}

TEST_P(NnKernels, AvgPool2dForwardAndBackward) {
  for (const PoolCase& c : PoolCases()) {
    for (bool count_include_pad : {true, false}) {
      for (c10::optional<int64_t> divisor : {c10::optional<int64_t>(), c10::optional<int64_t>(3)}) {
        SCOPED_TRACE(Describe(c) + " count_include_pad " + std::to_string(count_include_pad) +
                     " divisor " + (divisor ? std::to_string(*divisor) : "none"));
        const at::Tensor x = randn(c.input);
        const at::Tensor out = at::avg_pool2d(x, c.kernel, c.stride, c.padding, c.ceil_mode,
                                              count_include_pad, divisor);
        Call fwd("aten::avg_pool2d");
        fwd.T(x).Ints(c.kernel).Ints(c.stride).Ints(c.padding).B(c.ceil_mode).B(count_include_pad);
        divisor ? fwd.I(*divisor) : fwd.None();
        EXPECT_TRUE(Same(fwd.Run()[0], out));
        const at::Tensor grad = randn(out.sizes());
        Call bwd("aten::avg_pool2d_backward");
        bwd.T(grad)
            .T(x)
            .Ints(c.kernel)
            .Ints(c.stride)
            .Ints(c.padding)
            .B(c.ceil_mode)
            .B(count_include_pad);
        divisor ? bwd.I(*divisor) : bwd.None();
        EXPECT_TRUE(
            Same(bwd.Run()[0], at::avg_pool2d_backward(grad, x, c.kernel, c.stride, c.padding,
                                                       c.ceil_mode, count_include_pad, divisor)));
      }
    }
  }
}

TEST_P(NnKernels, AdaptiveAvgPool2dForwardAndBackward) {
  struct Case {
    std::vector<int64_t> input, output;
  };
  for (const Case& c :
       {Case{{2, 3, 8, 8}, {3, 3}}, Case{{1, 2, 7, 5}, {4, 2}}, Case{{3, 5, 6}, {1, 1}},
        Case{{1, 1, 3, 3}, {5, 4}}, Case{{2, 2, 4, 4}, {4, 4}}}) {
    SCOPED_TRACE("input " + ShapeString(c.input) + " output " + ShapeString(c.output));
    const at::Tensor x = randn(c.input);
    const at::Tensor out = at::_adaptive_avg_pool2d(x, c.output);
    EXPECT_TRUE(Same(Call("aten::_adaptive_avg_pool2d").T(x).Ints(c.output).Run()[0], out));
    const at::Tensor grad = randn(out.sizes());
    EXPECT_TRUE(Same(Call("aten::_adaptive_avg_pool2d_backward").T(grad).T(x).Run()[0],
                     at::_adaptive_avg_pool2d_backward(grad, x)));
  }
}

// ---- upsampling ------------------------------------------------------------

TEST_P(NnKernels, UpsampleNearestAndBilinear2d) {
  struct Case {
    std::vector<int64_t> input, output;
    c10::optional<double> scale;
  };
  for (const Case& c :
       {Case{{2, 3, 3, 5}, {6, 10}, 2.0}, Case{{2, 3, 3, 5}, {7, 4}, c10::nullopt},
        Case{{1, 2, 4, 4}, {6, 6}, 1.5}, Case{{1, 2, 5, 3}, {5, 3}, c10::nullopt},
        Case{{1, 1, 4, 6}, {2, 3}, 0.5}, Case{{1, 1, 1, 3}, {4, 1}, c10::nullopt}}) {
    SCOPED_TRACE("input " + ShapeString(c.input) + " output " + ShapeString(c.output));
    const at::Tensor x = randn(c.input);
    const at::Tensor grad = randn({c.input[0], c.input[1], c.output[0], c.output[1]});
    auto scales = [&](Call& call) -> Call& {
      return c.scale ? call.F(*c.scale).F(*c.scale) : call.None().None();
    };
    Call nearest("aten::upsample_nearest2d");
    EXPECT_TRUE(Same(scales(nearest.T(x).Ints(c.output)).Run()[0],
                     at::upsample_nearest2d(x, c.output, c.scale, c.scale)));
    Call nearest_back("aten::upsample_nearest2d_backward");
    EXPECT_TRUE(Same(scales(nearest_back.T(grad).Ints(c.output).Ints(c.input)).Run()[0],
                     at::upsample_nearest2d_backward(grad, c.output, c.input, c.scale, c.scale)));
    for (bool align_corners : {false, true}) {
      SCOPED_TRACE("align_corners " + std::to_string(align_corners));
      Call bilinear("aten::upsample_bilinear2d");
      EXPECT_TRUE(Same(scales(bilinear.T(x).Ints(c.output).B(align_corners)).Run()[0],
                       at::upsample_bilinear2d(x, c.output, align_corners, c.scale, c.scale)));
      Call bilinear_back("aten::upsample_bilinear2d_backward");
      EXPECT_TRUE(
          Same(scales(bilinear_back.T(grad).Ints(c.output).Ints(c.input).B(align_corners)).Run()[0],
               at::upsample_bilinear2d_backward(grad, c.output, c.input, align_corners, c.scale,
                                                c.scale)));
    }
  }
}

// ---- dropout ---------------------------------------------------------------

TEST_P(NnKernels, NativeDropoutDeterministicForms) {
  const at::Tensor x = randn({3, 4});
  struct Case {
    double p;
    c10::optional<bool> train;
  };
  for (const Case& c :
       {Case{0.5, false}, Case{0.0, true}, Case{0.0, c10::nullopt}, Case{1.0, true}}) {
    SCOPED_TRACE("p " + std::to_string(c.p));
    at::Tensor out, mask;
    std::tie(out, mask) = at::native_dropout(x, c.p, c.train);
    Call call("aten::native_dropout");
    call.T(x).F(c.p);
    c.train ? call.B(*c.train) : call.None();
    const std::vector<Tensor> got = call.Run();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(Same(got[0], out));
    EXPECT_TRUE(Same(got[1], mask));
  }
  EXPECT_EQ(Call("aten::native_dropout").T(x).F(0.5).B(true).RunError(), LTC_ERROR_UNIMPLEMENTED);

  const at::Tensor grad = randn({3, 4});
  const at::Tensor mask = at::rand({3, 4}) > 0.5;
  EXPECT_TRUE(Same(Call("aten::native_dropout_backward").T(grad).T(mask).F(2.0).Run()[0],
                   at::native_dropout_backward(grad, mask, 2.0)));
}

// ---- embedding -------------------------------------------------------------

TEST_P(NnKernels, EmbeddingAndDenseBackward) {
  const at::Tensor weight = randn({10, 4});
  const at::Tensor indices =
      at::tensor({1, 2, 4, 5, 4, 3, 2, 9, 0, 2, 2, 7}, at::kLong).view({3, 4});
  EXPECT_TRUE(Same(Call("aten::embedding").T(weight).T(indices).I(-1).B(false).B(false).Run()[0],
                   at::embedding(weight, indices)));
  EXPECT_TRUE(Same(
      Call("aten::embedding").T(weight).T(indices.to(at::kInt)).I(-1).B(false).B(false).Run()[0],
      at::embedding(weight, indices.to(at::kInt))));
  const at::Tensor grad = randn({3, 4, 4});
  for (int64_t padding_idx : {-1, 2}) {
    for (bool scale : {false, true}) {
      SCOPED_TRACE("padding_idx " + std::to_string(padding_idx) + " scale " +
                   std::to_string(scale));
      EXPECT_TRUE(Same(Call("aten::embedding_dense_backward")
                           .T(grad)
                           .T(indices)
                           .I(10)
                           .I(padding_idx)
                           .B(scale)
                           .Run()[0],
                       at::embedding_dense_backward(grad, indices, 10, padding_idx, scale)));
    }
  }
  EXPECT_EQ(Call("aten::embedding")
                .T(weight)
                .T(at::tensor({10}, at::kLong))
                .I(-1)
                .B(false)
                .B(false)
                .RunError(),
            LTC_ERROR_INVALID_ARGUMENT);
}

// ---- a whole training step -------------------------------------------------

// The graph the lazy core lowers for one step of conv -> batch norm -> relu
// -> max pool -> sum, with its backward (the nodes and argument forms of a
// real 1.13 dump). Every output is declared with the shape the lazy IR gives
// it, so the interpreter holds each kernel to it: convolution_backward's
// grad_input, masked off, is declared [2, 1, 8, 8] as in the lazy IR.
TEST_P(NnKernels, ConvBatchNormPoolTrainingStepMatchesAutograd) {
  using graph::ValueId;
  using graph::ValueType;
  const DLDataType dt = DtypeOf(GetParam());
  auto type = [&](std::vector<int64_t> shape, DLDataType d) {
    return ValueType{graph::ValueKind::kTensor, d, std::move(shape)};
  };
  graph::GraphBuilder b;
  const ValueId x = b.AddParameter(type({2, 1, 8, 8}, dt));
  const ValueId w = b.AddParameter(type({4, 1, 3, 3}, dt));
  const ValueId bias = b.AddParameter(type({4}, dt));
  const ValueId gamma = b.AddParameter(type({4}, dt));
  const ValueId beta = b.AddParameter(type({4}, dt));
  const ValueId running_mean = b.AddParameter(type({4}, dt));
  const ValueId running_var = b.AddParameter(type({4}, dt));
  const ValueId seed = b.AddParameter(type({}, dt));
  const std::vector<int64_t> one{1, 1}, zero{0, 0}, two{2, 2};
  const ValueId conv =
      b.AddNode("aten::convolution", "", {x, w, bias, one, zero, one, false, zero, int64_t{1}},
                {type({2, 4, 6, 6}, dt)})[0];
  const std::vector<ValueId> bn =
      b.AddNode("aten::native_batch_norm", "",
                {conv, gamma, beta, running_mean, running_var, true, 0.1, 1e-5},
                {type({2, 4, 6, 6}, dt), type({4}, dt), type({4}, dt)});
  const ValueId relu = b.AddNode("aten::relu", "", {bn[0]}, {type({2, 4, 6, 6}, dt)})[0];
  const std::vector<ValueId> pool =
      b.AddNode("aten::max_pool2d_with_indices", "", {relu, two, two, zero, one, false},
                {type({2, 4, 3, 3}, dt), type({2, 4, 3, 3}, kInt64)});
  const ValueId loss = b.AddNode("aten::sum", "", {pool[0], graph::None{}}, {type({}, dt)})[0];
  const ValueId grad_pool =
      b.AddNode("aten::expand_copy", "", {seed, std::vector<int64_t>{2, 4, 3, 3}, false},
                {type({2, 4, 3, 3}, dt)})[0];
  const ValueId grad_relu = b.AddNode("aten::max_pool2d_with_indices_backward", "",
                                      {grad_pool, relu, two, two, zero, one, false, pool[1]},
                                      {type({2, 4, 6, 6}, dt)})[0];
  const ValueId grad_bn = b.AddNode("aten::threshold_backward", "", {grad_relu, relu, int64_t{0}},
                                    {type({2, 4, 6, 6}, dt)})[0];
  const std::vector<ValueId> bn_grads =
      b.AddNode("aten::native_batch_norm_backward", "",
                {grad_bn, conv, gamma, running_mean, running_var, bn[1], bn[2], true, 1e-5,
                 std::vector<bool>{true, true, true}},
                {type({2, 4, 6, 6}, dt), type({4}, dt), type({4}, dt)});
  const std::vector<ValueId> conv_grads =
      b.AddNode("aten::convolution_backward", "",
                {bn_grads[0], x, w, std::vector<int64_t>{4}, one, zero, one, false, zero,
                 int64_t{1}, std::vector<bool>{false, true, true}},
                {type({2, 1, 8, 8}, dt), type({4, 1, 3, 3}, dt), type({4}, dt)});
  b.SetOutputs({loss, conv_grads[1], conv_grads[2], bn_grads[1], bn_grads[2]});
  const std::vector<uint8_t> bytes = b.Finish();
  RefExecutable exe(graph::ReadGraph(bytes.data(), bytes.size()));

  torch::nn::Conv2d conv_m(torch::nn::Conv2dOptions(1, 4, 3));
  torch::nn::BatchNorm2d bn_m(4);
  conv_m->to(GetParam());
  bn_m->to(GetParam());
  const at::Tensor input = randn({2, 1, 8, 8});
  const at::Tensor rm = bn_m->running_mean.clone(), rv = bn_m->running_var.clone();
  const std::vector<Tensor> got = exe.Run(
      {FromAten(input), FromAten(conv_m->weight), FromAten(conv_m->bias), FromAten(bn_m->weight),
       FromAten(bn_m->bias), FromAten(rm), FromAten(rv), FromAten(at::ones({}, opts()))});
  const at::Tensor want = torch::max_pool2d(torch::relu(bn_m(conv_m(input))), 2).sum();
  want.backward();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_TRUE(Same(got[0], want.detach(), 100));
  EXPECT_TRUE(Same(got[1], conv_m->weight.grad(), 100));
  EXPECT_TRUE(Same(got[2], conv_m->bias.grad(), 100));
  EXPECT_TRUE(Same(got[3], bn_m->weight.grad(), 100));
  EXPECT_TRUE(Same(got[4], bn_m->bias.grad(), 100));
}

INSTANTIATE_TEST_SUITE_P(Floating, NnKernels, ::testing::Values(at::kFloat, at::kDouble),
                         [](const ::testing::TestParamInfo<at::ScalarType>& info) {
                           return std::string(info.param == at::kFloat ? "float32" : "float64");
                         });

}  // namespace
}  // namespace ltc::ref_cpu
