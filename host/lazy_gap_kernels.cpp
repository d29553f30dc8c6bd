// Decompositions at the Lazy dispatch key, for ops the lazy core falls back
// to eager for. A fallback syncs the graph traced so far (MobileNetV2's
// ReLU6: ~70 small graphs a training step), and for ops returning a list of
// tensors it hands back CPU tensors, which the next lazy op aborts on
// (LibTorch 1.13's eager fallback moves only single-tensor results back).
//
// Each kernel runs below functionalization and autograd: its arguments are
// the lazy core's own tensors, so it may call only ops the lazy core lowers,
// and views only in their _copy forms. Each computes what the CPU kernel
// computes, operation for operation in the same order, so results match
// eager bit for bit in float32 (the comments say where the CPU kernel's
// scalar and vectorised paths disagree and which one is followed).
#include "lazy_gap_kernels.h"

#include <ltc/loader.h>

#include <ATen/ATen.h>
#include <ATen/ExpandUtils.h>
#include <ATen/core/Reduction.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <ATen/native/TensorShape.h>
#include <torch/library.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

namespace ltc::host {
namespace {

using at::Scalar;
using at::Tensor;

// ---- helpers: each a lowered op or a short composition of lowered ops ----

Tensor Not(const Tensor& mask) { return at::eq(mask, 0); }

Tensor BroadcastTo(const Tensor& tensor, at::IntArrayRef shape) {
  return tensor.sizes() == shape ? tensor : at::expand_copy(tensor, shape);
}

// where(condition, a, b) from masked_fill and add: the value not chosen is
// replaced by -0.0, and x + -0.0 is x for every x, signed zeros and NaN
// included, so the sum is exactly the chosen value.
Tensor Select(const Tensor& condition, const Tensor& a, const Tensor& b) {
  const at::ScalarType dtype = at::result_type(a, b);
  const std::vector<int64_t> shape =
      at::infer_size(at::infer_size(condition.sizes(), a.sizes()), b.sizes());
  const Tensor a_full = BroadcastTo(a.to(dtype), shape);
  const Tensor b_full = BroadcastTo(b.to(dtype), shape);
  const Tensor chosen = condition.to(at::kBool);
  if (dtype == at::kBool) {
    const Tensor chosen_full = BroadcastTo(chosen, shape);
    return at::bitwise_or(at::bitwise_and(a_full, chosen_full),
                          at::bitwise_and(b_full, Not(chosen_full)));
  }
  return at::add(at::masked_fill(a_full, Not(chosen), -0.0), at::masked_fill(b_full, chosen, -0.0));
}

Tensor Reduce(const Tensor& loss, int64_t reduction) {
  if (reduction == at::Reduction::Mean) return at::mean(loss);
  if (reduction == at::Reduction::Sum) return at::sum(loss);
  TORCH_CHECK(reduction == at::Reduction::None, reduction, " is not a valid value for reduction");
  return loss;
}

// ---- activations: ReLU6 (hardtanh), hardswish, hardsigmoid ----

Tensor Hardtanh(const Tensor& self, const Scalar& min, const Scalar& max) {
  TORCH_CHECK(self.scalar_type() != at::kBool, "Bool inputs not supported for hardtanh");
  // As the CPU kernel: integral tensors clamp to the limits truncated, with
  // no type promotion.
  if (at::isIntegralType(self.scalar_type(), /*includeBool=*/false)) {
    const int64_t low = min.toLong();
    const int64_t high = max.toLong();
    TORCH_CHECK(self.scalar_type() != at::kByte || (low >= 0 && high >= 0),
                "cannot do hardtanh on an unsigned type with negative limits");
    return at::clamp(self, Scalar(low), Scalar(high));
  }
  return at::clamp(self, min, max);
}

// g where min < x < max, else 0: two threshold_backward (x <= t ? 0 : g),
// each one vectorised kernel (MobileNetV2 runs 35 a step; masked_fill took
// 11 ms of its 123). A NaN input passes the gradient, as the CPU kernel's
// scalar tail does (its vectorised body gives 0).
Tensor HardtanhBackward(const Tensor& grad_output, const Tensor& self, const Scalar& min,
                        const Scalar& max) {
  const Tensor above_min = at::threshold_backward(grad_output, self, min);
  return at::threshold_backward(above_min, at::neg(self), -max.toDouble());
}

// x * min(max(x + 3, 0), 6) / 6.
Tensor Hardswish(const Tensor& self) {
  return at::div(at::mul(self, at::clamp(at::add(self, 3), Scalar(0), Scalar(6))), 6);
}

// The vectorised CPU kernel: g * (x/3 + 1/2) between -3 and 3, 0 below, g
// at 3 and above (its scalar tail takes x == 3 into the middle piece). At
// x == -3 exactly, LibTorch 1.13 takes the middle piece and 2.11 says 0.
Tensor HardswishBackward(const Tensor& grad_output, const Tensor& self) {
#if TORCH_VERSION_MAJOR >= 2
  const Tensor below = at::le(self, -3);
#else
  const Tensor below = at::lt(self, -3);
#endif
  Tensor middle = at::mul(grad_output, at::add(at::div(self, 3), 0.5));
  middle = at::masked_fill(at::masked_fill(middle, below, 0), at::ge(self, 3), -0.0);
  return at::add(middle, at::masked_fill(grad_output, at::lt(self, 3), -0.0));
}

Tensor HardsigmoidBackward(const Tensor& grad_output, const Tensor& self) {
  const Tensor inside = at::bitwise_and(at::gt(self, -3), at::lt(self, 3));
  // The CPU kernel's constant is 1/6 in float, for double tensors too.
  return at::masked_fill(at::mul(grad_output, static_cast<double>(1.0f / 6.0f)), Not(inside), 0);
}

// ---- the split family: lists of lazy tensors, one slice or select each ----

std::vector<Tensor> SplitWithSizes(const Tensor& self, const std::vector<int64_t>& sizes,
                                   int64_t dim) {
  TORCH_CHECK(self.dim() != 0, "split expects at least a 1-dimensional tensor");
  dim = at::maybe_wrap_dim(dim, self.dim());
  const int64_t dim_size = self.size(dim);
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (const int64_t length : sizes) {
    TORCH_CHECK(length >= 0, "split_with_sizes expects split_sizes have only non-negative ",
                "entries, but got split_sizes=", at::IntArrayRef(sizes));
    parts.push_back(at::slice_copy(self, dim, start, start + length, 1));
    start += length;
  }
  TORCH_CHECK(start == dim_size, "split_with_sizes expects split_sizes to sum exactly to ",
              dim_size, " (input tensor's size at dimension ", dim, "), but got split_sizes=",
              at::IntArrayRef(sizes));
  return parts;
}

// The sizes split(split_size) makes: full parts, the last one shorter
// (eager's own count and argument checks).
std::vector<int64_t> SplitSizes(const Tensor& self, int64_t split_size, int64_t dim) {
  dim = at::maybe_wrap_dim(dim, self.dim());
  const int64_t parts = at::native::get_num_splits(self, split_size, dim);
  std::vector<int64_t> sizes(static_cast<size_t>(parts), split_size);
  sizes.back() = self.size(dim) - split_size * (parts - 1);
  return sizes;
}

// Boxed, because these schemas take SymInt in LibTorch 2.x and int in 1.13.
void SplitBoxed(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  const int64_t dim = torch::jit::pop(*stack).toInt();
  const int64_t split_size = torch::jit::pop(*stack).toInt();
  const Tensor self = torch::jit::pop(*stack).toTensor();
  torch::jit::push(*stack, SplitWithSizes(self, SplitSizes(self, split_size, dim), dim));
}

void SplitWithSizesBoxed(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  const int64_t dim = torch::jit::pop(*stack).toInt();
  const std::vector<int64_t> sizes = torch::jit::pop(*stack).toIntVector();
  const Tensor self = torch::jit::pop(*stack).toTensor();
  torch::jit::push(*stack, SplitWithSizes(self, sizes, dim));
}

void UnbindBoxed(const c10::OperatorHandle&, torch::jit::Stack* stack) {
  int64_t dim = torch::jit::pop(*stack).toInt();
  const Tensor self = torch::jit::pop(*stack).toTensor();
  TORCH_CHECK(self.dim() > 0, "Dimension specified as 0 but tensor has no dimensions");
  dim = at::maybe_wrap_dim(dim, self.dim());
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < self.size(dim); ++i) parts.push_back(at::select_copy(self, dim, i));
  torch::jit::push(*stack, std::move(parts));
}

// ---- losses ----

// (x - t)^2 as the CPU kernel computes it, diff * diff, then the reduction.
Tensor MseLoss(const Tensor& self, const Tensor& target, int64_t reduction) {
  const Tensor diff = at::sub(self, target);
  return Reduce(at::mul(diff, diff), reduction);
}

Tensor MseLossBackward(const Tensor& grad_output, const Tensor& self, const Tensor& target,
                       int64_t reduction) {
  const double norm = reduction == at::Reduction::Mean ? 2. / self.numel() : 2.;
  return at::mul(at::mul(at::sub(self, target), norm), grad_output);
}

Tensor HuberLoss(const Tensor& self, const Tensor& target, int64_t reduction, double delta) {
  TORCH_CHECK(delta > 0, "huber_loss does not support non-positive values for delta.");
  const Tensor z = at::abs(at::sub(self, target));
  const Tensor quadratic = at::mul(at::mul(z, 0.5), z);
  const Tensor linear = at::mul(at::sub(z, 0.5 * delta), delta);
  return Reduce(Select(at::lt(z, delta), quadratic, linear), reduction);
}

// The vectorised CPU kernel: norm * clamp(x, -delta, delta) * g.
Tensor HuberLossBackward(const Tensor& grad_output, const Tensor& self, const Tensor& target,
                         int64_t reduction, double delta) {
  const double norm = reduction == at::Reduction::Mean ? 1. / self.numel() : 1.;
  const Tensor clipped = at::clamp(at::sub(self, target), Scalar(-delta), Scalar(delta));
  return at::mul(at::mul(clipped, norm), grad_output);
}

// x * log(y), 0 where x == 0 unless y is NaN (KL divergence's target term).
Tensor Xlogy(const Tensor& self, const Tensor& other) {
  at::ScalarType dtype = at::result_type(self, other);
  if (at::isIntegralType(dtype, /*includeBool=*/true)) dtype = at::typeMetaToScalarType(
      at::get_default_dtype());
  const Tensor x = self.to(dtype);
  const Tensor y = other.to(dtype);
  const Tensor zero = at::bitwise_and(at::eq(x, 0), at::eq(y, y));
  return at::masked_fill(at::mul(x, at::log(y)), zero, 0);
}

Tensor Sign(const Tensor& self) {
  TORCH_CHECK(!self.is_complex(), "Unlike NumPy, torch.sign is not intended to support "
              "complex numbers. Please use torch.sgn instead.");
  return self.scalar_type() == at::kBool ? self.clone() : at::sgn(self);
}

Tensor Where(const Tensor& condition, const Tensor& self, const Tensor& other) {
  TORCH_CHECK(condition.scalar_type() == at::kBool || condition.scalar_type() == at::kByte,
              "where expected condition to be a boolean tensor, but got a tensor with dtype ",
              condition.scalar_type());
  return Select(condition, self, other);
}

// ---- optimizers: Adam's and AdamW's lerp_ (LibTorch 2.x) ----

// The CPU kernel's two forms, chosen by |weight| < 1/2 (its vectorised path
// fuses the multiply-add, so the last bit may differ from eager).
Tensor LerpScalar(const Tensor& self, const Tensor& end, const Scalar& weight) {
  const Tensor diff = at::sub(end, self);
  if (weight.isComplex()) {
    const c10::complex<double> w = weight.toComplexDouble();
    return std::abs(w) < 0.5 ? at::add(self, at::mul(diff, w))
                             : at::sub(end, at::mul(diff, c10::complex<double>(1) - w));
  }
  const double w = weight.toDouble();
  return std::abs(w) < 0.5 ? at::add(self, at::mul(diff, w)) : at::sub(end, at::mul(diff, 1 - w));
}

Tensor LerpTensor(const Tensor& self, const Tensor& end, const Tensor& weight) {
  const Tensor diff = at::sub(end, self);
  return Select(at::lt(at::abs(weight), 0.5), at::add(self, at::mul(weight, diff)),
                at::sub(end, at::mul(diff, at::rsub(weight, 1))));
}

// ---- reductions, tests and softmax, from LibTorch 2.x's attention ----

Tensor AllDim(const Tensor& self, int64_t dim, bool keepdim) {
  const Tensor zeros = at::sum(at::eq(self, 0), at::IntArrayRef(dim), keepdim);
  const Tensor all = at::eq(zeros, 0);
  return self.scalar_type() == at::kByte ? all.to(at::kByte) : all;
}

Tensor Isneginf(const Tensor& self) {
  TORCH_CHECK(!self.is_complex(), "isneginf does not support complex inputs.");
  if (!at::isFloatingType(self.scalar_type())) return at::ne(self, self);
  return at::eq(self, -std::numeric_limits<double>::infinity());
}

// LibTorch 2.x's attention (scaled_dot_product_attention's math path):
// softmax, with the rows that are -inf throughout set to 0 instead of NaN.
Tensor SafeSoftmax(const Tensor& self, int64_t dim, c10::optional<at::ScalarType> dtype) {
  const Tensor out = at::softmax(self, dim, dtype);
  return at::masked_fill(out, AllDim(Isneginf(self), dim, /*keepdim=*/true), 0);
}

struct GapKernel {
  const char* name;      // "hardtanh", in namespace aten
  const char* overload;  // "" or "Tensor"
  void (*impl)(torch::Library& library, const char* schema_name);
};

template <auto kernel>
void Unboxed(torch::Library& library, const char* schema_name) {
  library.impl(schema_name, TORCH_FN(kernel));
}

template <void (*kernel)(const c10::OperatorHandle&, torch::jit::Stack*)>
void Boxed(torch::Library& library, const char* schema_name) {
  library.impl(schema_name, torch::CppFunction::makeFromBoxedFunction<kernel>());
}

// Every op the host can decompose. Found by training the models of
// tests/python/model_zoo.py under LibTorch 1.13 and 2.11 and reading the
// lazy core's aten::* fallback counters.
const GapKernel kGapKernels[] = {
    {"split_copy", "Tensor", Boxed<SplitBoxed>},
    {"split_with_sizes_copy", "", Boxed<SplitWithSizesBoxed>},
    {"unbind_copy", "int", Boxed<UnbindBoxed>},
    {"unsafe_split", "Tensor", Boxed<SplitBoxed>},
    {"unsafe_split_with_sizes", "", Boxed<SplitWithSizesBoxed>},
    {"hardtanh", "", Unboxed<Hardtanh>},
    {"hardtanh_backward", "", Unboxed<HardtanhBackward>},
    {"hardswish", "", Unboxed<Hardswish>},
    {"hardswish_backward", "", Unboxed<HardswishBackward>},
    {"hardsigmoid_backward", "", Unboxed<HardsigmoidBackward>},
    {"mse_loss", "", Unboxed<MseLoss>},
    {"mse_loss_backward", "", Unboxed<MseLossBackward>},
    {"huber_loss", "", Unboxed<HuberLoss>},
    {"huber_loss_backward", "", Unboxed<HuberLossBackward>},
    {"xlogy", "Tensor", Unboxed<Xlogy>},
    {"sign", "", Unboxed<Sign>},
    {"where", "self", Unboxed<Where>},
    {"lerp", "Scalar", Unboxed<LerpScalar>},
    {"lerp", "Tensor", Unboxed<LerpTensor>},
    {"all", "dim", Unboxed<AllDim>},
    {"isneginf", "", Unboxed<Isneginf>},
    {"_safe_softmax", "", Unboxed<SafeSoftmax>},
};

// "split_copy.Tensor": the name torch::Library takes (in its namespace).
std::string SchemaName(const GapKernel& kernel) {
  return *kernel.overload ? std::string(kernel.name) + "." + kernel.overload : kernel.name;
}

}  // namespace

const std::vector<std::string>& RegisterLazyGapKernels() {
  static const std::vector<std::string> registered = [] {
    // Never destroyed: its registrations must outlive every lazy tensor,
    // some of which die during interpreter shutdown.
    auto* library = new torch::Library(torch::Library::IMPL, "aten", c10::DispatchKey::Lazy,
                                       __FILE__, __LINE__);
    std::vector<std::string> names;
    for (const GapKernel& kernel : kGapKernels) {
      const std::string schema_name = SchemaName(kernel);
      const std::string name = "aten::" + schema_name;
      const auto op = c10::Dispatcher::singleton().findSchema(
          {std::string("aten::") + kernel.name, kernel.overload});
      if (!op) {
        LogDebug("lazy gap kernels: " + name + " is not an operator of this LibTorch");
      } else if (op->hasKernelForDispatchKey(c10::DispatchKey::Lazy)) {
        LogDebug("lazy gap kernels: " + name + " is lowered by the lazy core; not replaced");
      } else {
        kernel.impl(*library, schema_name.c_str());
        names.push_back(name);
      }
    }
    LogDebug("lazy gap kernels: registered " + Join(names));
    return names;
  }();
  return registered;
}

}  // namespace ltc::host
