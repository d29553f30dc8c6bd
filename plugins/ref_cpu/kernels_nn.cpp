// Neural-network kernels: softmax, losses, convolution, batch and layer
// norm, pooling, upsampling, dropout, embedding; forward and backward, float32 and
// float64, with ATen's CPU numerics (which elements a window covers, how NaN
// wins a max, how a mean divides).
//
// Backward ops that take an output_mask return a zero-filled tensor of the
// shape the lazy IR declares for a False entry: mostly the full gradient
// shape, [] for native_layer_norm_backward (also where weight or bias is
// None). Eager returns an undefined tensor there, which ltc-graph-v1 cannot
// carry, and the interpreter holds every output to its declared type.
// Nothing in a lowered graph reads such an output.
//
// Batch norm follows ATen's CPU kernels' rounding step by step (see there).
// Elsewhere sums accumulate in double, so float32 results may differ from eager's
// float accumulation in the last bits only.
#include "dispatch.h"
#include "kernel.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace ltc::ref_cpu {

namespace {

// at::Reduction.
enum Reduction : int64_t { kNone = 0, kMean = 1, kSum = 2 };

int64_t ReductionArg(const KernelArgs& args, size_t i) {
  const int64_t r = args.integer(i);
  if (r != kNone && r != kMean && r != kSum) args.Fail(i, "reduction " + std::to_string(r));
  return r;
}

const Tensor& FloatingTensor(const KernelArgs& args, size_t i) {
  const Tensor& t = args.tensor(i);
  if (t.dtype() != kFloat32 && t.dtype() != kFloat64) {
    ThrowUnsupportedDtype(args.op(), t.dtype());
  }
  return t;
}

// A tensor that must have `dtype` (a weight or gradient beside the input).
const Tensor& SameDtype(const KernelArgs& args, size_t i, DLDataType dtype) {
  const Tensor& t = args.tensor(i);
  if (t.dtype() != dtype) {
    args.Fail(i, "dtype " + DtypeName(t.dtype()) + ", expected " + DtypeName(dtype));
  }
  return t;
}

std::optional<Tensor> OptionalSameDtype(const KernelArgs& args, size_t i, DLDataType dtype) {
  if (args.is_none(i)) return std::nullopt;
  return SameDtype(args, i, dtype);
}

void ExpectNumel(const KernelArgs& args, size_t i, const Tensor& t, int64_t numel) {
  if (t.numel() != numel) {
    args.Fail(
        i, "shape " + ShapeString(t.shape()) + ", expected " + std::to_string(numel) + " elements");
  }
}

void ExpectShape(const KernelArgs& args, size_t i, const Tensor& t,
                 const std::vector<int64_t>& shape) {
  if (t.shape() != shape) {
    args.Fail(i, "shape " + ShapeString(t.shape()) + ", expected " + ShapeString(shape));
  }
}

// Class indices (nll_loss targets, embedding indices) as int64.
Tensor IndexTensor(const KernelArgs& args, size_t i) {
  const Tensor& t = args.tensor(i);
  if (t.dtype() != kInt64 && t.dtype() != kInt32 && t.dtype() != kUInt8) {
    args.Fail(i, "indices of dtype " + DtypeName(t.dtype()));
  }
  return t.To(kInt64);
}

template <typename T>
const T* DataOrNull(const std::optional<Tensor>& t) {
  return t ? t->data<T>() : nullptr;
}

// A list of one entry per spatial dimension, where one entry stands for all.
std::vector<int64_t> SpatialList(const KernelArgs& args, size_t i, size_t dims) {
  std::vector<int64_t> v = args.int_list(i);
  if (v.size() == 1 && dims > 1) v.assign(dims, v[0]);
  if (v.size() != dims) {
    args.Fail(i, std::to_string(v.size()) + " entries for " + std::to_string(dims) +
                     " spatial dimensions");
  }
  return v;
}

// ---- softmax ---------------------------------------------------------------

// A tensor seen as [outer, n, inner] around dimension `dim`.
struct AroundDim {
  int64_t outer = 1, n = 1, inner = 1;
};

AroundDim SplitAt(const std::vector<int64_t>& shape, int64_t dim) {
  AroundDim s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < dim)
      s.outer *= shape[d];
    else if (d == dim)
      s.n = shape[d];
    else
      s.inner *= shape[d];
  }
  return s;
}

// Visits each slice along the dimension: f(base) with elements at
// base + k * inner for k < n.
template <typename F>
void ForEachSlice(const AroundDim& s, F&& f) {
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) f(o * s.n * s.inner + i);
  }
}

template <bool kLog>
std::vector<Tensor> SoftmaxForward(const KernelArgs& args) {
  const Tensor& self = FloatingTensor(args, 0);
  const int64_t dim = WrapDim(args.integer(1), self.dim(), args.op());
  if (args.boolean(2)) args.Unsupported("half_to_float");
  const AroundDim s = SplitAt(self.shape(), dim);
  Tensor out = Tensor::Empty(self.dtype(), self.shape());
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = self.data<T>();
    T* y = out.mutable_data<T>();
    ForEachSlice(s, [&](int64_t base) {
      // NaN wins the max, so a row with a NaN comes out all NaN, as in ATen.
      T max = -std::numeric_limits<T>::infinity();
      for (int64_t k = 0; k < s.n; ++k) {
        const T v = x[base + k * s.inner];
        if (std::isnan(v) || v > max) max = v;
      }
      double sum = 0;
      for (int64_t k = 0; k < s.n; ++k) sum += std::exp(x[base + k * s.inner] - max);
      if constexpr (kLog) {
        const T log_sum = static_cast<T>(std::log(sum));
        for (int64_t k = 0; k < s.n; ++k) {
          y[base + k * s.inner] = x[base + k * s.inner] - max - log_sum;
        }
      } else {
        const T inv = static_cast<T>(1.0 / sum);
        for (int64_t k = 0; k < s.n; ++k) {
          y[base + k * s.inner] = std::exp(x[base + k * s.inner] - max) * inv;
        }
      }
    });
  });
  return {out};
}

// (grad_output, output, dim, input_dtype).
template <bool kLog>
std::vector<Tensor> SoftmaxBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& output = SameDtype(args, 1, grad.dtype());
  ExpectShape(args, 1, output, grad.shape());
  const int64_t dim = WrapDim(args.integer(2), grad.dim(), args.op());
  if (args.dtype(3) != grad.dtype()) args.Unsupported("input_dtype " + DtypeName(args.dtype(3)));
  const AroundDim s = SplitAt(grad.shape(), dim);
  Tensor out = Tensor::Empty(grad.dtype(), grad.shape());
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* g = grad.data<T>();
    const T* y = output.data<T>();
    T* gi = out.mutable_data<T>();
    ForEachSlice(s, [&](int64_t base) {
      double sum = 0;
      for (int64_t k = 0; k < s.n; ++k) {
        const int64_t e = base + k * s.inner;
        sum += kLog ? g[e] : static_cast<double>(g[e]) * y[e];
      }
      const T total = static_cast<T>(sum);
      for (int64_t k = 0; k < s.n; ++k) {
        const int64_t e = base + k * s.inner;
        gi[e] = kLog ? g[e] - std::exp(y[e]) * total : y[e] * (g[e] - total);
      }
    });
  });
  return {out};
}

// ---- nll_loss --------------------------------------------------------------

// nll_loss's input seen as [batch, classes, spatial] with targets
// [batch, spatial]: nll_loss has spatial 1, nll_loss2d H*W.
struct NllGeometry {
  int64_t batch = 1, classes = 1, spatial = 1;
  // Whether reduction none gives one loss per target (else a 0-dim loss:
  // nll_loss of a 1-D input).
  bool per_target = false;
};

NllGeometry NllShape(const KernelArgs& args, const Tensor& self, const Tensor& target, bool two_d) {
  NllGeometry g;
  if (two_d) {
    if (self.dim() != 4) args.Fail(0, "expected a 4-D input, got " + ShapeString(self.shape()));
    g.batch = self.size(0);
    g.classes = self.size(1);
    g.spatial = self.size(2) * self.size(3);
    g.per_target = true;
    ExpectShape(args, 1, target, {self.size(0), self.size(2), self.size(3)});
  } else {
    if (self.dim() < 1 || self.dim() > 2) {
      args.Fail(0, "expected a 1-D or 2-D input, got " + ShapeString(self.shape()));
    }
    if (target.dim() > 1) args.Fail(1, "expected a 0-D or 1-D target");
    if (self.dim() == 1 && target.dim() != 0) {
      args.Fail(1, "a 1-D input takes a 0-D target, got " + ShapeString(target.shape()));
    }
    g.batch = self.dim() == 1 ? 1 : self.size(0);
    g.classes = self.size(-1);
    g.per_target = self.dim() == 2;
    ExpectNumel(args, 1, target, g.batch);
  }
  return g;
}

// Where target `t` of sample (b, s) reads the input, checking its range.
inline int64_t NllOffset(const KernelArgs& args, const NllGeometry& g, int64_t b, int64_t s,
                         int64_t t) {
  if (t < 0 || t >= g.classes) {
    args.Fail(1, "target " + std::to_string(t) + " is out of bounds for " +
                     std::to_string(g.classes) + " classes");
  }
  return (b * g.classes + t) * g.spatial + s;
}

// (self, target, weight, reduction, ignore_index) -> (output, total_weight).
template <bool kTwoD>
std::vector<Tensor> NllLossForward(const KernelArgs& args) {
  const Tensor& self = FloatingTensor(args, 0);
  const Tensor target = IndexTensor(args, 1);
  const NllGeometry g = NllShape(args, self, target, kTwoD);
  const std::optional<Tensor> weight = OptionalSameDtype(args, 2, self.dtype());
  if (weight) ExpectNumel(args, 2, *weight, g.classes);
  const int64_t reduction = ReductionArg(args, 3);
  const int64_t ignore_index = args.integer(4);
  const int64_t* t = target.data<int64_t>();

  Tensor total_weight = Tensor::Empty(self.dtype(), {});
  Tensor output;
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = self.data<T>();
    const T* w = DataOrNull<T>(weight);
    if (reduction == kNone && g.per_target) {
      output = Tensor::Empty(self.dtype(), target.shape());
      T* y = output.mutable_data<T>();
      for (int64_t b = 0; b < g.batch; ++b) {
        for (int64_t s = 0; s < g.spatial; ++s) {
          const int64_t i = b * g.spatial + s;
          if (t[i] == ignore_index) {
            y[i] = 0;
            continue;
          }
          const int64_t e = NllOffset(args, g, b, s, t[i]);
          y[i] = -x[e] * (w ? w[t[i]] : T(1));
        }
      }
      // ATen leaves total_weight at its initial zero on this path.
      total_weight.mutable_data<T>()[0] = 0;
      return;
    }
    double loss = 0, total = 0;
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t s = 0; s < g.spatial; ++s) {
        const int64_t i = b * g.spatial + s;
        if (t[i] == ignore_index) continue;
        const int64_t e = NllOffset(args, g, b, s, t[i]);
        const double wt = w ? w[t[i]] : 1.0;
        loss -= x[e] * wt;
        total += wt;
      }
    }
    // All targets ignored: 0 / 0 = NaN for a mean, as in eager.
    if (reduction == kMean) loss /= total;
    output = Tensor::Empty(self.dtype(), {});
    output.mutable_data<T>()[0] = static_cast<T>(loss);
    total_weight.mutable_data<T>()[0] = static_cast<T>(total);
  });
  return {output, total_weight};
}

// (grad_output, self, target, weight, reduction, ignore_index, total_weight).
template <bool kTwoD>
std::vector<Tensor> NllLossBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& self = SameDtype(args, 1, grad.dtype());
  const Tensor target = IndexTensor(args, 2);
  const NllGeometry g = NllShape(args, self, target, kTwoD);
  const std::optional<Tensor> weight = OptionalSameDtype(args, 3, self.dtype());
  if (weight) ExpectNumel(args, 3, *weight, g.classes);
  const int64_t reduction = ReductionArg(args, 4);
  const int64_t ignore_index = args.integer(5);
  const Tensor& total_weight = SameDtype(args, 6, self.dtype());
  ExpectNumel(args, 6, total_weight, 1);
  const bool per_target = reduction == kNone && g.per_target;
  ExpectNumel(args, 0, grad, per_target ? target.numel() : 1);
  const int64_t* t = target.data<int64_t>();

  Tensor out = Tensor::Zeros(self.dtype(), self.shape());
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* go = grad.data<T>();
    const T* w = DataOrNull<T>(weight);
    T* gi = out.mutable_data<T>();
    T scale = -go[0];
    if (!per_target && reduction == kMean) scale = -go[0] / total_weight.data<T>()[0];
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t s = 0; s < g.spatial; ++s) {
        const int64_t i = b * g.spatial + s;
        if (t[i] == ignore_index) continue;
        const int64_t e = NllOffset(args, g, b, s, t[i]);
        const T gs = per_target ? -go[i] : scale;
        gi[e] = w ? w[t[i]] * gs : gs;
      }
    }
  });
  return {out};
}

// ---- pointwise losses ------------------------------------------------------

// Reduces per-element losses as `reduction` says.
template <typename T, typename F>
Tensor ReduceLoss(DLDataType dtype, const std::vector<int64_t>& shape, int64_t reduction,
                  F&& loss) {
  const int64_t n = Numel(shape);
  if (reduction == kNone) {
    Tensor out = Tensor::Empty(dtype, shape);
    T* y = out.mutable_data<T>();
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(loss(i));
    return out;
  }
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += loss(i);
  // An empty mean is 0 / 0 = NaN, as in eager.
  if (reduction == kMean) sum /= static_cast<double>(n);
  return Tensor::Full(dtype, {}, sum);
}

// The inputs of a pointwise loss: self, target of the same shape and dtype.
struct LossInputs {
  Tensor self, target;
};

LossInputs PointwiseLossInputs(const KernelArgs& args, size_t self_i) {
  const Tensor& self = FloatingTensor(args, self_i);
  const Tensor& target = SameDtype(args, self_i + 1, self.dtype());
  if (target.shape() != self.shape()) {
    args.Unsupported("a target of shape " + ShapeString(target.shape()) +
                     " broadcast to an input of shape " + ShapeString(self.shape()));
  }
  return {self, target};
}

// The backward of a pointwise loss: grad_output is per element (reduction
// none) or one value; a mean divides by the element count.
template <typename T, typename F>
Tensor PointwiseLossGrad(const KernelArgs& args, const Tensor& grad, const Tensor& self,
                         int64_t reduction, F&& derivative) {
  if (grad.dtype() != self.dtype()) {
    args.Fail(0, "dtype " + DtypeName(grad.dtype()) + ", expected " + DtypeName(self.dtype()));
  }
  if (reduction == kNone)
    ExpectShape(args, 0, grad, self.shape());
  else
    ExpectNumel(args, 0, grad, 1);
  const int64_t n = self.numel();
  const T norm = reduction == kMean ? T(1) / static_cast<T>(n) : T(1);
  const int64_t step = reduction == kNone ? 1 : 0;
  const T* go = grad.data<T>();
  Tensor out = Tensor::Empty(self.dtype(), self.shape());
  T* gi = out.mutable_data<T>();
  for (int64_t i = 0; i < n; ++i) gi[i] = derivative(i, norm * go[i * step]);
  return out;
}

// (self, target, reduction).
std::vector<Tensor> MseLoss(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 0);
  const int64_t reduction = ReductionArg(args, 2);
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    return ReduceLoss<T>(in.self.dtype(), in.self.shape(), reduction, [&](int64_t i) {
      const T d = x[i] - y[i];
      return d * d;
    });
  })};
}

// (grad_output, self, target, reduction).
std::vector<Tensor> MseLossBackward(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 1);
  const int64_t reduction = ReductionArg(args, 3);
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    return PointwiseLossGrad<T>(args, args.tensor(0), in.self, reduction,
                                [&](int64_t i, T g) { return T(2) * (x[i] - y[i]) * g; });
  })};
}

// (self, target, reduction, beta).
std::vector<Tensor> SmoothL1Loss(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 0);
  const int64_t reduction = ReductionArg(args, 2);
  const double beta = args.floating(3);
  if (beta < 0) args.Fail(3, "smooth_l1_loss does not support negative values for beta");
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    const T b = static_cast<T>(beta);
    return ReduceLoss<T>(in.self.dtype(), in.self.shape(), reduction, [&](int64_t i) {
      const T z = std::abs(x[i] - y[i]);
      // beta 0 is l1_loss in ATen (and would divide by zero below).
      return z < b ? T(0.5) * z * z / b : z - T(0.5) * b;
    });
  })};
}

// (grad_output, self, target, reduction, beta).
std::vector<Tensor> SmoothL1LossBackward(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 1);
  const int64_t reduction = ReductionArg(args, 3);
  const double beta = args.floating(4);
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    const T b = static_cast<T>(beta);
    return PointwiseLossGrad<T>(args, args.tensor(0), in.self, reduction, [&](int64_t i, T g) {
      const T d = x[i] - y[i];
      // beta 0 is l1_loss_backward in ATen: the sign, 0 at 0.
      if (b == T(0)) return static_cast<T>((d > T(0)) - (d < T(0))) * g;
      if (d <= -b) return -g;
      if (d >= b) return g;
      return d * g / b;
    });
  })};
}

// (self, target, reduction, delta).
std::vector<Tensor> HuberLoss(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 0);
  const int64_t reduction = ReductionArg(args, 2);
  const double delta = args.floating(3);
  if (delta <= 0) args.Fail(3, "huber_loss does not support non-positive values for delta");
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    const T dl = static_cast<T>(delta);
    return ReduceLoss<T>(in.self.dtype(), in.self.shape(), reduction, [&](int64_t i) {
      const T z = std::abs(x[i] - y[i]);
      return z < dl ? T(0.5) * z * z : dl * (z - T(0.5) * dl);
    });
  })};
}

// (grad_output, self, target, reduction, delta).
std::vector<Tensor> HuberLossBackward(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 1);
  const int64_t reduction = ReductionArg(args, 3);
  const double delta = args.floating(4);
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    const T dl = static_cast<T>(delta);
    return PointwiseLossGrad<T>(args, args.tensor(0), in.self, reduction, [&](int64_t i, T g) {
      const T d = x[i] - y[i];
      if (d <= -dl) return -g * dl;
      if (d >= dl) return g * dl;
      return d * g;
    });
  })};
}

// A BCE weight, broadcast to the input's shape.
template <typename T>
std::vector<T> BroadcastWeight(const KernelArgs& args, size_t i, const Tensor& self) {
  std::vector<T> w;
  if (args.is_none(i)) return w;
  const Tensor& weight = SameDtype(args, i, self.dtype());
  if (BroadcastShapes(weight.shape(), self.shape(), args.op()) != self.shape()) {
    args.Fail(i, "shape " + ShapeString(weight.shape()) + " does not broadcast to " +
                     ShapeString(self.shape()));
  }
  w.resize(static_cast<size_t>(self.numel()));
  const T* src = weight.data<T>();
  ForEachBroadcast<1>(
      self.shape(), {BroadcastStrides(weight.shape(), self.shape())},
      [&](int64_t out, const std::array<int64_t, 1>& off) { w[out] = src[off[0]]; });
  return w;
}

// (self, target, weight, reduction).
std::vector<Tensor> BinaryCrossEntropy(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 0);
  const int64_t reduction = ReductionArg(args, 3);
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    for (int64_t i = 0; i < in.self.numel(); ++i) {
      if (!(x[i] >= T(0) && x[i] <= T(1))) {
        args.Fail(0, "all elements of input should be between 0 and 1");
      }
    }
    const std::vector<T> w = BroadcastWeight<T>(args, 2, in.self);
    return ReduceLoss<T>(in.self.dtype(), in.self.shape(), reduction, [&](int64_t i) {
      // ATen clamps each log at -100 so that 0 and 1 give finite losses.
      const T log_x = std::max(std::log(x[i]), T(-100));
      const T log_1mx = std::max(std::log1p(-x[i]), T(-100));
      const T l = (y[i] - T(1)) * log_1mx - y[i] * log_x;
      return w.empty() ? l : l * w[i];
    });
  })};
}

// (grad_output, self, target, weight, reduction).
std::vector<Tensor> BinaryCrossEntropyBackward(const KernelArgs& args) {
  const LossInputs in = PointwiseLossInputs(args, 1);
  const int64_t reduction = ReductionArg(args, 4);
  return {DispatchFloating(in.self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.self.data<T>();
    const T* y = in.target.data<T>();
    const std::vector<T> w = BroadcastWeight<T>(args, 3, in.self);
    // ATen's EPSILON is the float 1e-12, in float64 too.
    constexpr T kEpsilon = static_cast<T>(1e-12f);
    return PointwiseLossGrad<T>(args, args.tensor(0), in.self, reduction, [&](int64_t i, T g) {
      const T d = g * (x[i] - y[i]) / std::max((T(1) - x[i]) * x[i], kEpsilon);
      return w.empty() ? d : d * w[i];
    });
  })};
}

// ---- convolution -----------------------------------------------------------

inline void Gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              1.0f, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}
inline void Gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k,
                 const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                 int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              1.0, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

// A 1-D or 2-D convolution, seen as 2-D (a 1-D one has height 1).
struct ConvGeometry {
  int64_t batch, in_channels, in_h, in_w;
  int64_t out_channels, kernel_h, kernel_w, groups;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t out_h, out_w;
  std::vector<int64_t> out_shape;

  int64_t in_per_group() const { return in_channels / groups; }
  int64_t out_per_group() const { return out_channels / groups; }
  // Rows of the im2col matrix: one per weight element of a group.
  int64_t col_rows() const { return in_per_group() * kernel_h * kernel_w; }
  int64_t out_plane() const { return out_h * out_w; }
  int64_t in_plane() const { return in_h * in_w; }
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 &&
           pad_w == 0;
  }
};

// Arguments `input`, `weight`, then stride, padding, dilation, transposed,
// output_padding, groups at `params` onwards (convolution's order).
ConvGeometry ConvShape(const KernelArgs& args, size_t input_i, const Tensor& input, size_t weight_i,
                       const Tensor& weight, size_t params) {
  if (args.boolean(params + 3)) args.Unsupported("transposed convolution");
  if (input.dim() != 3 && input.dim() != 4) {
    args.Unsupported("convolution of a " + std::to_string(input.dim()) +
                     "-D input (only batched 1-D and 2-D)");
  }
  if (weight.dim() != input.dim()) {
    args.Fail(weight_i, "weight of shape " + ShapeString(weight.shape()) + " for input of shape " +
                            ShapeString(input.shape()));
  }
  const size_t spatial = static_cast<size_t>(input.dim() - 2);
  const std::vector<int64_t> stride = SpatialList(args, params, spatial);
  const std::vector<int64_t> padding = SpatialList(args, params + 1, spatial);
  const std::vector<int64_t> dilation = SpatialList(args, params + 2, spatial);
  ConvGeometry g{};
  g.groups = args.integer(params + 5);
  g.batch = input.size(0);
  g.in_channels = input.size(1);
  g.out_channels = weight.size(0);
  const bool two_d = spatial == 2;
  g.in_h = two_d ? input.size(2) : 1;
  g.in_w = input.size(-1);
  g.kernel_h = two_d ? weight.size(2) : 1;
  g.kernel_w = weight.size(-1);
  g.stride_h = two_d ? stride[0] : 1;
  g.stride_w = stride.back();
  g.pad_h = two_d ? padding[0] : 0;
  g.pad_w = padding.back();
  g.dilation_h = two_d ? dilation[0] : 1;
  g.dilation_w = dilation.back();
  for (size_t d = 0; d < spatial; ++d) {
    if (stride[d] <= 0) args.Fail(params, "non-positive stride");
    if (padding[d] < 0) args.Fail(params + 1, "negative padding");
    if (dilation[d] <= 0) args.Fail(params + 2, "non-positive dilation");
  }
  if (g.groups <= 0 || g.in_channels % g.groups != 0 || g.out_channels % g.groups != 0) {
    args.Fail(params + 5, std::to_string(g.groups) + " groups for " +
                              std::to_string(g.in_channels) + " input and " +
                              std::to_string(g.out_channels) + " output channels");
  }
  if (weight.size(1) != g.in_per_group()) {
    args.Fail(input_i, "expected " + std::to_string(weight.size(1) * g.groups) +
                           " channels for weight of shape " + ShapeString(weight.shape()) +
                           ", got " + std::to_string(g.in_channels));
  }
  g.out_h = (g.in_h + 2 * g.pad_h - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1;
  g.out_w = (g.in_w + 2 * g.pad_w - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
  if (g.out_h <= 0 || g.out_w <= 0) {
    args.Fail(input_i, "input of shape " + ShapeString(input.shape()) +
                           " is smaller than the kernel of shape " + ShapeString(weight.shape()));
  }
  g.out_shape = {g.batch, g.out_channels};
  if (two_d) g.out_shape.push_back(g.out_h);
  g.out_shape.push_back(g.out_w);
  return g;
}

// The input pixel (y, x) that weight element (kh, kw) of output pixel
// (oh, ow) reads; outside [0, in) for padding.
inline int64_t ConvSource(int64_t o, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  return o * stride - pad + k * dilation;
}

// col[(c * kernel_h + kh) * kernel_w + kw][oh * out_w + ow] = the input
// element that weight element (c, kh, kw) meets at output pixel (oh, ow).
template <typename T>
void Im2Col(const ConvGeometry& g, const T* image, T* col) {
  for (int64_t c = 0; c < g.in_per_group(); ++c) {
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          const int64_t y = ConvSource(oh, kh, g.stride_h, g.pad_h, g.dilation_h);
          if (y < 0 || y >= g.in_h) {
            col = std::fill_n(col, g.out_w, T(0));
            continue;
          }
          const T* row = image + (c * g.in_h + y) * g.in_w;
          for (int64_t ow = 0; ow < g.out_w; ++ow) {
            const int64_t x = ConvSource(ow, kw, g.stride_w, g.pad_w, g.dilation_w);
            *col++ = x >= 0 && x < g.in_w ? row[x] : T(0);
          }
        }
      }
    }
  }
}

// The adjoint of Im2Col: adds each column element into the input element it
// came from.
template <typename T>
void Col2ImAdd(const ConvGeometry& g, const T* col, T* image) {
  for (int64_t c = 0; c < g.in_per_group(); ++c) {
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          const int64_t y = ConvSource(oh, kh, g.stride_h, g.pad_h, g.dilation_h);
          if (y < 0 || y >= g.in_h) {
            col += g.out_w;
            continue;
          }
          T* row = image + (c * g.in_h + y) * g.in_w;
          for (int64_t ow = 0; ow < g.out_w; ++ow, ++col) {
            const int64_t x = ConvSource(ow, kw, g.stride_w, g.pad_w, g.dilation_w);
            if (x >= 0 && x < g.in_w) row[x] += *col;
          }
        }
      }
    }
  }
}

// The im2col matrix of group `group` of image `n`: the image itself for a
// pointwise convolution, else built in `buffer`.
template <typename T>
const T* GroupColumns(const ConvGeometry& g, const T* input, int64_t n, int64_t group,
                      std::vector<T>& buffer) {
  const T* image = input + (n * g.in_channels + group * g.in_per_group()) * g.in_plane();
  if (g.is_pointwise()) return image;
  buffer.resize(static_cast<size_t>(g.col_rows() * g.out_plane()));
  Im2Col(g, image, buffer.data());
  return buffer.data();
}

// (input, weight, bias, stride, padding, dilation, transposed,
// output_padding, groups, ...): _convolution's trailing flags only choose
// ATen's backend.
std::vector<Tensor> Convolution(const KernelArgs& args) {
  const Tensor& input = FloatingTensor(args, 0);
  const Tensor& weight = SameDtype(args, 1, input.dtype());
  const std::optional<Tensor> bias = OptionalSameDtype(args, 2, input.dtype());
  const ConvGeometry g = ConvShape(args, 0, input, 1, weight, 3);
  if (bias) ExpectNumel(args, 2, *bias, g.out_channels);
  Tensor out = Tensor::Empty(input.dtype(), g.out_shape);
  DispatchFloating(input.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = input.data<T>();
    const T* w = weight.data<T>();
    const T* b = DataOrNull<T>(bias);
    T* y = out.mutable_data<T>();
    const int64_t plane = g.out_plane();
    std::vector<T> buffer;
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t group = 0; group < g.groups; ++group) {
        const T* col = GroupColumns(g, x, n, group, buffer);
        const int64_t first = group * g.out_per_group();
        T* dst = y + (n * g.out_channels + first) * plane;
        for (int64_t o = 0; o < g.out_per_group(); ++o) {
          std::fill(dst + o * plane, dst + (o + 1) * plane, b ? b[first + o] : T(0));
        }
        Gemm(CblasNoTrans, CblasNoTrans, g.out_per_group(), plane, g.col_rows(),
             w + first * g.col_rows(), g.col_rows(), col, plane, T(1), dst, plane);
      }
    }
  });
  return {out};
}

// (grad_output, input, weight, bias_sizes, stride, padding, dilation,
// transposed, output_padding, groups, output_mask) ->
// (grad_input, grad_weight, grad_bias).
std::vector<Tensor> ConvolutionBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& input = SameDtype(args, 1, grad.dtype());
  const Tensor& weight = SameDtype(args, 2, grad.dtype());
  const ConvGeometry g = ConvShape(args, 1, input, 2, weight, 4);
  ExpectShape(args, 0, grad, g.out_shape);
  const std::vector<bool> mask = args.bool_list(10);
  if (mask.size() != 3) args.Fail(10, "expected 3 entries");
  const std::vector<int64_t> bias_shape =
      args.optional_int_list(3).value_or(std::vector<int64_t>{g.out_channels});
  if (Numel(bias_shape) != g.out_channels) {
    args.Fail(3, "bias sizes " + ShapeString(bias_shape) + " for " +
                     std::to_string(g.out_channels) + " output channels");
  }
  Tensor grad_input = Tensor::Zeros(grad.dtype(), input.shape());
  Tensor grad_weight = Tensor::Zeros(grad.dtype(), weight.shape());
  Tensor grad_bias = Tensor::Zeros(grad.dtype(), bias_shape);
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* go = grad.data<T>();
    const T* x = input.data<T>();
    const T* w = weight.data<T>();
    const int64_t plane = g.out_plane();
    const int64_t rows = g.col_rows();
    std::vector<T> buffer;
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t group = 0; group < g.groups; ++group) {
        const int64_t first = group * g.out_per_group();
        const T* dy = go + (n * g.out_channels + first) * plane;
        const T* w_group = w + first * rows;
        if (mask[0]) {
          T* dx = grad_input.mutable_data<T>() +
                  (n * g.in_channels + group * g.in_per_group()) * g.in_plane();
          if (g.is_pointwise()) {
            // The columns are the image: accumulate straight into it.
            Gemm(CblasTrans, CblasNoTrans, rows, plane, g.out_per_group(), w_group, rows, dy, plane,
                 T(1), dx, plane);
          } else {
            buffer.resize(static_cast<size_t>(rows * plane));
            Gemm(CblasTrans, CblasNoTrans, rows, plane, g.out_per_group(), w_group, rows, dy, plane,
                 T(0), buffer.data(), plane);
            Col2ImAdd(g, buffer.data(), dx);
          }
        }
        if (mask[1]) {
          const T* col = GroupColumns(g, x, n, group, buffer);
          Gemm(CblasNoTrans, CblasTrans, g.out_per_group(), rows, plane, dy, plane, col, plane,
               T(1), grad_weight.mutable_data<T>() + first * rows, rows);
        }
      }
    }
    if (mask[2]) {
      T* db = grad_bias.mutable_data<T>();
      for (int64_t o = 0; o < g.out_channels; ++o) {
        double sum = 0;
        for (int64_t n = 0; n < g.batch; ++n) {
          const T* dy = go + (n * g.out_channels + o) * plane;
          for (int64_t p = 0; p < plane; ++p) sum += dy[p];
        }
        db[o] = static_cast<T>(sum);
      }
    }
  });
  return {grad_input, grad_weight, grad_bias};
}

// ---- batch norm ------------------------------------------------------------

// An input [N, C, *] seen as N x C planes of `plane` elements.
struct ChannelGeometry {
  int64_t batch = 1, channels = 1, plane = 1;
  int64_t count() const { return batch * plane; }
};

ChannelGeometry ChannelShape(const KernelArgs& args, size_t i, const Tensor& input) {
  if (input.dim() < 2)
    args.Fail(i, "expected at least 2 dimensions, got " + ShapeString(input.shape()));
  ChannelGeometry g;
  g.batch = input.size(0);
  g.channels = input.size(1);
  g.plane = input.numel() / std::max<int64_t>(g.batch * g.channels, 1);
  return g;
}

std::optional<Tensor> ChannelParam(const KernelArgs& args, size_t i, DLDataType dtype,
                                   int64_t channels) {
  std::optional<Tensor> t = OptionalSameDtype(args, i, dtype);
  if (t) ExpectNumel(args, i, *t, channels);
  return t;
}

// A per-channel statistic of any floating dtype, seen in `dtype`: the lazy
// core declares native_batch_norm's saved statistics float32 (the default
// dtype) where there are no running ones, whatever the input's dtype.
std::optional<Tensor> ChannelStat(const KernelArgs& args, size_t i, DLDataType dtype,
                                  int64_t channels) {
  if (args.is_none(i)) return std::nullopt;
  const Tensor& t = FloatingTensor(args, i);
  ExpectNumel(args, i, t, channels);
  return t.To(dtype);
}

// Output `i` in the dtype the graph declares for it (eager's).
Tensor AsDeclared(const KernelArgs& args, size_t i, const Tensor& t) {
  const std::optional<DLDataType> dtype = args.declared_dtype(i);
  return dtype ? t.To(*dtype) : t;
}

// For channel c, f(element offset) over every element of the channel.
template <typename F>
void ForEachInChannel(const ChannelGeometry& g, int64_t c, F&& f) {
  for (int64_t n = 0; n < g.batch; ++n) {
    const int64_t base = (n * g.channels + c) * g.plane;
    for (int64_t p = 0; p < g.plane; ++p) f(base + p);
  }
}

// Training statistics as ATen's CPU kernel (batch_norm_cpu_collect_stats)
// computes them: sums accumulate in double, the mean and the variance sum
// are rounded to T, x - mean is taken in T, and invstd is 1 / sqrt(var + eps)
// in double, rounded to T.
template <typename T>
void TrainingStats(const ChannelGeometry& g, int64_t c, const T* x, double eps, T* mean_out,
                   T* var_sum_out, T* invstd_out) {
  double sum = 0;
  ForEachInChannel(g, c, [&](int64_t e) { sum += x[e]; });
  const T mean = static_cast<T>(sum / static_cast<double>(g.count()));
  double sq = 0;
  ForEachInChannel(g, c, [&](int64_t e) {
    const T d = x[e] - mean;
    sq += d * d;
  });
  const T var_sum = static_cast<T>(sq);
  // _var_sum / n in T; 0 where var and eps are both 0 (ATen's InvStd).
  const double var = static_cast<double>(static_cast<T>(var_sum / static_cast<T>(g.count())));
  *mean_out = mean;
  *var_sum_out = var_sum;
  *invstd_out = (var != 0 || eps != 0) ? static_cast<T>(1.0 / std::sqrt(var + eps)) : T(0);
}

// (input, weight, bias, running_mean, running_var, training, momentum, eps)
// -> (output, save_mean, save_invstd). The one kernel that writes into its
// inputs: the schema marks running_mean and running_var mutable (`Tensor(a!)`),
// and the lazy core's graph has no op for their update. It returns the
// parameter buffers themselves as the new running statistics, as the
// TorchScript backends, which run the op in place, expect. In evaluation the
// saved statistics are the running ones (the lazy IR declares them [C];
// eager returns empty tensors there). The output is computed as ATen's CPU
// kernel does (batch_norm_cpu_contiguous_impl): alpha = invstd * w and
// beta = b - mean * alpha in T, then y = fma(x, alpha, beta) in T; in
// evaluation invstd = 1 / sqrt(running_var + T(eps)) in T.
std::vector<Tensor> NativeBatchNorm(const KernelArgs& args) {
  const Tensor& input = FloatingTensor(args, 0);
  const ChannelGeometry g = ChannelShape(args, 0, input);
  const std::optional<Tensor> weight = ChannelParam(args, 1, input.dtype(), g.channels);
  const std::optional<Tensor> bias = ChannelParam(args, 2, input.dtype(), g.channels);
  const std::optional<Tensor> running_mean = ChannelParam(args, 3, input.dtype(), g.channels);
  const std::optional<Tensor> running_var = ChannelParam(args, 4, input.dtype(), g.channels);
  const bool training = args.boolean(5);
  const double momentum = args.floating(6);
  const double eps = args.floating(7);
  if (!training && (!running_mean || !running_var)) {
    args.Fail(3, "running_mean and running_var must be defined in evaluation mode");
  }
  if (!training) {
    // The lazy core declares the saved statistics [C] here, where eager
    // (and the TorchScript backends) return empty ones: no result can be
    // both what the graph says and what eager gives.
    args.Unsupported("evaluation mode (training=false)");
  }
  // No "more than 1 value per channel" check: that is F.batch_norm's (Python)
  // and ATen's native_batch_norm runs any size, zero-size included.
  Tensor out = Tensor::Empty(input.dtype(), input.shape());
  Tensor save_mean = Tensor::Empty(input.dtype(), {g.channels});
  Tensor save_invstd = Tensor::Empty(input.dtype(), {g.channels});
  DispatchFloating(input.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = input.data<T>();
    const T* w = DataOrNull<T>(weight);
    const T* b = DataOrNull<T>(bias);
    T* y = out.mutable_data<T>();
    for (int64_t c = 0; c < g.channels; ++c) {
      T mean, invstd;
      if (training) {
        T var_sum;
        TrainingStats(g, c, x, eps, &mean, &var_sum, &invstd);
        const T m = static_cast<T>(momentum);
        if (running_mean) {
          T& r = running_mean->mutable_data<T>()[c];
          r = m * mean + (1 - m) * r;
        }
        if (running_var) {
          T& r = running_var->mutable_data<T>()[c];
          const T unbiased = static_cast<T>(static_cast<double>(var_sum) /
                                            static_cast<double>(g.count() - 1));
          r = m * unbiased + (1 - m) * r;
        }
      } else {
        mean = running_mean->data<T>()[c];
        invstd = T(1) / std::sqrt(running_var->data<T>()[c] + static_cast<T>(eps));
      }
      save_mean.mutable_data<T>()[c] = mean;
      save_invstd.mutable_data<T>()[c] = invstd;
      const T alpha = invstd * (w ? w[c] : T(1));
      const T beta = (b ? b[c] : T(0)) - mean * alpha;
      // One fused multiply-add, as ATen's vectorised loop (vec::fmadd).
      ForEachInChannel(g, c, [&](int64_t e) { y[e] = std::fma(x[e], alpha, beta); });
    }
  });
  return {out, AsDeclared(args, 1, save_mean), AsDeclared(args, 2, save_invstd)};
}

// (grad_out, input, weight, running_mean, running_var, save_mean,
// save_invstd, train, eps, output_mask) -> (grad_input, grad_weight,
// grad_bias).
std::vector<Tensor> NativeBatchNormBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& input = SameDtype(args, 1, grad.dtype());
  ExpectShape(args, 0, grad, input.shape());
  const ChannelGeometry g = ChannelShape(args, 1, input);
  const DLDataType dtype = grad.dtype();
  const std::optional<Tensor> weight = ChannelParam(args, 2, dtype, g.channels);
  const std::optional<Tensor> running_mean = ChannelStat(args, 3, dtype, g.channels);
  const std::optional<Tensor> running_var = ChannelStat(args, 4, dtype, g.channels);
  std::optional<Tensor> save_mean = ChannelStat(args, 5, dtype, g.channels);
  std::optional<Tensor> save_invstd = ChannelStat(args, 6, dtype, g.channels);
  const bool train = args.boolean(7);
  const double eps = args.floating(8);
  const std::vector<bool> mask = args.bool_list(9);
  if (mask.size() != 3) args.Fail(9, "expected 3 entries");
  if (train && (!save_mean || !save_invstd))
    args.Fail(5, "training needs save_mean and save_invstd");
  if (!train && (!running_mean || !running_var)) {
    args.Fail(3, "evaluation needs running_mean and running_var");
  }
  // Saved statistics narrower than the input (float32 beside a float64 input,
  // as the lazy core declares them without running statistics) lost
  // precision eager's did not: recompute them from the input as the forward
  // did.
  const bool narrow_stats = train && (args.tensor(5).dtype() != dtype ||
                                      args.tensor(6).dtype() != dtype);
  if (narrow_stats) {
    save_mean = Tensor::Empty(dtype, {g.channels});
    save_invstd = Tensor::Empty(dtype, {g.channels});
    DispatchFloating(dtype, args.op(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      for (int64_t c = 0; c < g.channels; ++c) {
        T var_sum;
        TrainingStats(g, c, input.data<T>(), eps, save_mean->mutable_data<T>() + c, &var_sum,
                      save_invstd->mutable_data<T>() + c);
      }
    });
  }
  Tensor grad_input = Tensor::Zeros(dtype, input.shape());
  Tensor grad_weight = Tensor::Zeros(dtype, {g.channels});
  Tensor grad_bias = Tensor::Zeros(dtype, {g.channels});
  DispatchFloating(dtype, args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* dy = grad.data<T>();
    const T* x = input.data<T>();
    const T* w = DataOrNull<T>(weight);
    T* dx = grad_input.mutable_data<T>();
    const double n = static_cast<double>(g.count());
    for (int64_t c = 0; c < g.channels; ++c) {
      const double mean = train ? save_mean->data<T>()[c] : running_mean->data<T>()[c];
      const double invstd =
          train ? save_invstd->data<T>()[c]
                : 1.0 / std::sqrt(static_cast<double>(running_var->data<T>()[c]) + eps);
      double sum = 0, dot = 0;
      ForEachInChannel(g, c, [&](int64_t e) {
        sum += dy[e];
        dot += (x[e] - mean) * dy[e];
      });
      const double scale = invstd * (w ? w[c] : 1.0);
      if (mask[0]) {
        if (train) {
          const double k = dot * invstd * invstd / n;
          const double grad_mean = sum / n;
          ForEachInChannel(g, c, [&](int64_t e) {
            dx[e] = static_cast<T>((dy[e] - grad_mean - (x[e] - mean) * k) * scale);
          });
        } else {
          // As ATen: invstd from double rounded to T, then (dy * invstd) * w in T.
          const T inv = static_cast<T>(invstd);
          const T wc = w ? w[c] : T(1);
          ForEachInChannel(g, c, [&](int64_t e) { dx[e] = (dy[e] * inv) * wc; });
        }
      }
      if (mask[1]) grad_weight.mutable_data<T>()[c] = static_cast<T>(dot * invstd);
      if (mask[2]) grad_bias.mutable_data<T>()[c] = static_cast<T>(sum);
    }
  });
  // The lazy core declares grad_weight and grad_bias in the default dtype.
  return {grad_input, AsDeclared(args, 1, grad_weight), AsDeclared(args, 2, grad_bias)};
}

// ---- layer norm ------------------------------------------------------------

// An input [..., normalized_shape] seen as rows x cols.
struct RowGeometry {
  int64_t rows = 1, cols = 1;
  std::vector<int64_t> stat_shape;  // leading dims, then a 1 per normalized dim
};

RowGeometry LayerNormShape(const KernelArgs& args, const Tensor& input, size_t shape_i) {
  const std::vector<int64_t> normalized = args.int_list(shape_i);
  const int64_t axis = input.dim() - static_cast<int64_t>(normalized.size());
  bool fits = axis >= 0;
  for (size_t d = 0; fits && d < normalized.size(); ++d) {
    fits = input.shape()[axis + d] == normalized[d];
  }
  if (normalized.empty() || !fits) {
    args.Fail(shape_i, "normalized_shape " + ShapeString(normalized) + " for input of shape " +
                           ShapeString(input.shape()));
  }
  RowGeometry g;
  for (int64_t d = 0; d < input.dim(); ++d) {
    if (d < axis) {
      g.rows *= input.shape()[d];
      g.stat_shape.push_back(input.shape()[d]);
    } else {
      g.cols *= input.shape()[d];
      g.stat_shape.push_back(1);
    }
  }
  return g;
}

// (input, normalized_shape, weight, bias, eps) -> (output, mean, rstd).
std::vector<Tensor> NativeLayerNorm(const KernelArgs& args) {
  const Tensor& input = FloatingTensor(args, 0);
  const RowGeometry g = LayerNormShape(args, input, 1);
  const std::optional<Tensor> weight = OptionalSameDtype(args, 2, input.dtype());
  const std::optional<Tensor> bias = OptionalSameDtype(args, 3, input.dtype());
  if (weight) ExpectNumel(args, 2, *weight, g.cols);
  if (bias) ExpectNumel(args, 3, *bias, g.cols);
  const double eps = args.floating(4);
  Tensor out = Tensor::Empty(input.dtype(), input.shape());
  Tensor mean_t = Tensor::Empty(input.dtype(), g.stat_shape);
  Tensor rstd_t = Tensor::Empty(input.dtype(), g.stat_shape);
  DispatchFloating(input.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* w = DataOrNull<T>(weight);
    const T* b = DataOrNull<T>(bias);
    for (int64_t r = 0; r < g.rows; ++r) {
      const T* x = input.data<T>() + r * g.cols;
      T* y = out.mutable_data<T>() + r * g.cols;
      double sum = 0;
      for (int64_t j = 0; j < g.cols; ++j) sum += x[j];
      const double mean = sum / static_cast<double>(g.cols);
      double sq = 0;
      for (int64_t j = 0; j < g.cols; ++j) sq += (x[j] - mean) * (x[j] - mean);
      const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(g.cols) + eps);
      mean_t.mutable_data<T>()[r] = static_cast<T>(mean);
      rstd_t.mutable_data<T>()[r] = static_cast<T>(rstd);
      for (int64_t j = 0; j < g.cols; ++j) {
        const double v = (x[j] - mean) * rstd;
        y[j] = static_cast<T>(v * (w ? w[j] : 1.0) + (b ? b[j] : 0.0));
      }
    }
  });
  return {out, mean_t, rstd_t};
}

// (grad_out, input, normalized_shape, mean, rstd, weight, bias,
// output_mask) -> (grad_input, grad_weight, grad_bias).
std::vector<Tensor> NativeLayerNormBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const DLDataType dtype = grad.dtype();
  const Tensor& input = SameDtype(args, 1, dtype);
  ExpectShape(args, 0, grad, input.shape());
  const RowGeometry g = LayerNormShape(args, input, 2);
  const Tensor& mean_t = SameDtype(args, 3, dtype);
  const Tensor& rstd_t = SameDtype(args, 4, dtype);
  ExpectNumel(args, 3, mean_t, g.rows);
  ExpectNumel(args, 4, rstd_t, g.rows);
  const std::optional<Tensor> weight = OptionalSameDtype(args, 5, dtype);
  if (weight) ExpectNumel(args, 5, *weight, g.cols);
  const std::vector<bool> mask = args.bool_list(7);
  if (mask.size() != 3) args.Fail(7, "expected 3 entries");
  const std::optional<Tensor> bias = OptionalSameDtype(args, 6, dtype);
  // The shapes the lazy core declares (compute_shape_native_layer_norm_backward):
  // [] for a gradient eager leaves undefined (a False mask entry, or no weight
  // or bias); nothing reads that output, so a zero of the declared shape stands in.
  Tensor grad_input = Tensor::Zeros(dtype, mask[0] ? input.shape() : std::vector<int64_t>{});
  Tensor grad_weight =
      Tensor::Zeros(dtype, mask[1] && weight ? weight->shape() : std::vector<int64_t>{});
  Tensor grad_bias =
      Tensor::Zeros(dtype, mask[2] && bias ? bias->shape() : std::vector<int64_t>{});
  DispatchFloating(dtype, args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* w = DataOrNull<T>(weight);
    std::vector<double> dgamma(static_cast<size_t>(g.cols), 0.0);
    std::vector<double> dbeta(static_cast<size_t>(g.cols), 0.0);
    const double inv_cols = 1.0 / static_cast<double>(g.cols);
    for (int64_t r = 0; r < g.rows; ++r) {
      const T* x = input.data<T>() + r * g.cols;
      const T* dy = grad.data<T>() + r * g.cols;
      const double mean = mean_t.data<T>()[r];
      const double rstd = rstd_t.data<T>()[r];
      // dx = rstd * (dy*w - mean(dy*w) - xhat * mean(dy*w*xhat)).
      double sum_dyw = 0, sum_dyw_xhat = 0;
      for (int64_t j = 0; j < g.cols; ++j) {
        const double xhat = (x[j] - mean) * rstd;
        const double dyw = dy[j] * (w ? w[j] : 1.0);
        sum_dyw += dyw;
        sum_dyw_xhat += dyw * xhat;
        dgamma[j] += dy[j] * xhat;
        dbeta[j] += dy[j];
      }
      if (mask[0]) {
        T* dx = grad_input.mutable_data<T>() + r * g.cols;
        for (int64_t j = 0; j < g.cols; ++j) {
          const double xhat = (x[j] - mean) * rstd;
          const double dyw = dy[j] * (w ? w[j] : 1.0);
          dx[j] =
              static_cast<T>(rstd * (dyw - sum_dyw * inv_cols - xhat * sum_dyw_xhat * inv_cols));
        }
      }
    }
    for (int64_t j = 0; j < g.cols; ++j) {
      if (mask[1] && weight) grad_weight.mutable_data<T>()[j] = static_cast<T>(dgamma[j]);
      if (mask[2] && bias) grad_bias.mutable_data<T>()[j] = static_cast<T>(dbeta[j]);
    }
  });
  return {grad_input, grad_weight, grad_bias};
}

// ---- pooling ---------------------------------------------------------------

// A 3-D [C, H, W] or 4-D [N, C, H, W] input seen as planes of H x W.
struct PoolGeometry {
  int64_t planes = 1, in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  std::vector<int64_t> out_shape;
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }
};

// ATen's pooling_output_shape: floor or ceil division, where a window that
// would start in the right padding is dropped.
int64_t PoolOutputSize(int64_t in, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation,
                       bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  // Division rounding towards negative infinity.
  int64_t out = span / stride - ((span % stride != 0) && ((span < 0) != (stride < 0))) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

void SetPlanes(const KernelArgs& args, size_t i, const Tensor& self, PoolGeometry& g) {
  if (self.dim() != 3 && self.dim() != 4) {
    args.Fail(i, "expected a 3-D or 4-D input, got " + ShapeString(self.shape()));
  }
  g.planes = self.size(0) * (self.dim() == 4 ? self.size(1) : 1);
  g.in_h = self.size(-2);
  g.in_w = self.size(-1);
}

void SetPoolOutput(const Tensor& self, PoolGeometry& g) {
  g.out_shape = self.shape();
  g.out_shape[self.dim() - 2] = g.out_h;
  g.out_shape[self.dim() - 1] = g.out_w;
}

// kernel_size, stride ([] = kernel_size), padding at `params` onwards;
// dilation at `dilation_i` when the op has one.
PoolGeometry PoolShape(const KernelArgs& args, size_t self_i, const Tensor& self, size_t params,
                       std::optional<size_t> dilation_i, bool ceil_mode) {
  PoolGeometry g;
  SetPlanes(args, self_i, self, g);
  const std::vector<int64_t> kernel = SpatialList(args, params, 2);
  std::vector<int64_t> stride = args.int_list(params + 1);
  stride = stride.empty() ? kernel : SpatialList(args, params + 1, 2);
  const std::vector<int64_t> padding = SpatialList(args, params + 2, 2);
  const std::vector<int64_t> dilation =
      dilation_i ? SpatialList(args, *dilation_i, 2) : std::vector<int64_t>{1, 1};
  for (size_t d = 0; d < 2; ++d) {
    if (kernel[d] <= 0) args.Fail(params, "kernel size should be greater than zero");
    if (stride[d] <= 0) args.Fail(params + 1, "stride should be greater than zero");
    if (dilation[d] <= 0)
      args.Fail(dilation_i.value_or(params), "dilation should be greater than zero");
    if (padding[d] < 0 || padding[d] > kernel[d] / 2) {
      args.Fail(params + 2, "pad should be at most half of effective kernel size");
    }
  }
  g.kernel_h = kernel[0];
  g.kernel_w = kernel[1];
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.pad_h = padding[0];
  g.pad_w = padding[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  g.out_h = PoolOutputSize(g.in_h, g.kernel_h, g.pad_h, g.stride_h, g.dilation_h, ceil_mode);
  g.out_w = PoolOutputSize(g.in_w, g.kernel_w, g.pad_w, g.stride_w, g.dilation_w, ceil_mode);
  if (g.out_h <= 0 || g.out_w <= 0) {
    args.Fail(self_i, "output size is too small for input of shape " + ShapeString(self.shape()));
  }
  SetPoolOutput(self, g);
  return g;
}

// (self, kernel_size, stride, padding, dilation, ceil_mode) -> (out,
// indices): indices are flat offsets within each H x W plane.
std::vector<Tensor> MaxPool2dWithIndices(const KernelArgs& args) {
  const Tensor& self = FloatingTensor(args, 0);
  const PoolGeometry g = PoolShape(args, 0, self, 1, 4, args.boolean(5));
  Tensor out = Tensor::Empty(self.dtype(), g.out_shape);
  Tensor indices = Tensor::Empty(kInt64, g.out_shape);
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    int64_t* idx = indices.mutable_data<int64_t>();
    T* y = out.mutable_data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* x = self.data<T>() + p * g.in_plane();
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        int64_t h0 = oh * g.stride_h - g.pad_h;
        const int64_t h1 = std::min(h0 + (g.kernel_h - 1) * g.dilation_h + 1, g.in_h);
        while (h0 < 0) h0 += g.dilation_h;
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          int64_t w0 = ow * g.stride_w - g.pad_w;
          const int64_t w1 = std::min(w0 + (g.kernel_w - 1) * g.dilation_w + 1, g.in_w);
          while (w0 < 0) w0 += g.dilation_w;
          // ATen's start: the first element in range, -inf, NaN always wins.
          int64_t best = h0 * g.in_w + w0;
          T max = -std::numeric_limits<T>::infinity();
          for (int64_t h = h0; h < h1; h += g.dilation_h) {
            for (int64_t w = w0; w < w1; w += g.dilation_w) {
              const int64_t e = h * g.in_w + w;
              if (x[e] > max || std::isnan(x[e])) {
                max = x[e];
                best = e;
              }
            }
          }
          y[oh * g.out_w + ow] = max;
          idx[oh * g.out_w + ow] = best;
        }
      }
      y += g.out_plane();
      idx += g.out_plane();
    }
  });
  return {out, indices};
}

// (grad_output, self, kernel_size, stride, padding, dilation, ceil_mode,
// indices).
std::vector<Tensor> MaxPool2dWithIndicesBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& self = SameDtype(args, 1, grad.dtype());
  const PoolGeometry g = PoolShape(args, 1, self, 2, 5, args.boolean(6));
  ExpectShape(args, 0, grad, g.out_shape);
  const Tensor& indices = SameDtype(args, 7, kInt64);
  ExpectShape(args, 7, indices, g.out_shape);
  Tensor out = Tensor::Zeros(grad.dtype(), self.shape());
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* dy = grad.data<T>();
    const int64_t* idx = indices.data<int64_t>();
    T* dx = out.mutable_data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      for (int64_t o = 0; o < g.out_plane(); ++o) {
        const int64_t e = idx[p * g.out_plane() + o];
        if (e < 0 || e >= g.in_plane())
          args.Fail(7, "index " + std::to_string(e) + " out of range");
        dx[p * g.in_plane() + e] += dy[p * g.out_plane() + o];
      }
    }
  });
  return {out};
}

// One avg_pool2d window: the elements it covers and what its sum divides by.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
  bool empty() const { return h0 >= h1 || w0 >= w1; }
};

AvgWindow AvgPoolWindow(const PoolGeometry& g, int64_t oh, int64_t ow, bool count_include_pad,
                        std::optional<int64_t> divisor_override) {
  AvgWindow win;
  win.h0 = oh * g.stride_h - g.pad_h;
  win.w0 = ow * g.stride_w - g.pad_w;
  win.h1 = std::min(win.h0 + g.kernel_h, g.in_h + g.pad_h);
  win.w1 = std::min(win.w0 + g.kernel_w, g.in_w + g.pad_w);
  const int64_t padded = (win.h1 - win.h0) * (win.w1 - win.w0);
  win.h0 = std::max<int64_t>(win.h0, 0);
  win.w0 = std::max<int64_t>(win.w0, 0);
  win.h1 = std::min(win.h1, g.in_h);
  win.w1 = std::min(win.w1, g.in_w);
  if (divisor_override)
    win.divisor = *divisor_override;
  else
    win.divisor = count_include_pad ? padded : (win.h1 - win.h0) * (win.w1 - win.w0);
  return win;
}

std::optional<int64_t> DivisorOverride(const KernelArgs& args, size_t i) {
  const std::optional<int64_t> d = args.optional_integer(i);
  if (d && *d == 0) args.Fail(i, "divisor must be not zero");
  return d;
}

// (self, kernel_size, stride, padding, ceil_mode, count_include_pad,
// divisor_override).
std::vector<Tensor> AvgPool2d(const KernelArgs& args) {
  const Tensor& self = FloatingTensor(args, 0);
  const PoolGeometry g = PoolShape(args, 0, self, 1, std::nullopt, args.boolean(4));
  const bool count_include_pad = args.boolean(5);
  const std::optional<int64_t> divisor = DivisorOverride(args, 6);
  Tensor out = Tensor::Empty(self.dtype(), g.out_shape);
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* y = out.mutable_data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* x = self.data<T>() + p * g.in_plane();
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const AvgWindow win = AvgPoolWindow(g, oh, ow, count_include_pad, divisor);
          double sum = 0;
          for (int64_t h = win.h0; h < win.h1; ++h) {
            for (int64_t w = win.w0; w < win.w1; ++w) sum += x[h * g.in_w + w];
          }
          *y++ = win.empty() ? T(0) : static_cast<T>(sum / static_cast<double>(win.divisor));
        }
      }
    }
  });
  return {out};
}

// (grad_output, self, kernel_size, stride, padding, ceil_mode,
// count_include_pad, divisor_override).
std::vector<Tensor> AvgPool2dBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& self = SameDtype(args, 1, grad.dtype());
  const PoolGeometry g = PoolShape(args, 1, self, 2, std::nullopt, args.boolean(5));
  ExpectShape(args, 0, grad, g.out_shape);
  const bool count_include_pad = args.boolean(6);
  const std::optional<int64_t> divisor = DivisorOverride(args, 7);
  Tensor out = Tensor::Zeros(grad.dtype(), self.shape());
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* dy = grad.data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      T* dx = out.mutable_data<T>() + p * g.in_plane();
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow, ++dy) {
          const AvgWindow win = AvgPoolWindow(g, oh, ow, count_include_pad, divisor);
          if (win.empty()) continue;
          const T share = *dy / static_cast<T>(win.divisor);
          for (int64_t h = win.h0; h < win.h1; ++h) {
            for (int64_t w = win.w0; w < win.w1; ++w) dx[h * g.in_w + w] += share;
          }
        }
      }
    }
  });
  return {out};
}

// ATen's adaptive pooling bounds: output cell o of `out` covers input
// [floor(o * in / out), ceil((o + 1) * in / out)).
inline int64_t AdaptiveStart(int64_t o, int64_t out, int64_t in) { return o * in / out; }
inline int64_t AdaptiveEnd(int64_t o, int64_t out, int64_t in) {
  return ((o + 1) * in + out - 1) / out;
}

PoolGeometry AdaptiveShape(const KernelArgs& args, size_t self_i, const Tensor& self,
                           const std::vector<int64_t>& output_size) {
  PoolGeometry g;
  SetPlanes(args, self_i, self, g);
  for (int64_t d = 1; d < self.dim(); ++d) {
    if (self.size(d) == 0) args.Fail(self_i, "expected non-empty spatial and channel dimensions");
  }
  g.out_h = output_size[0];
  g.out_w = output_size[1];
  SetPoolOutput(self, g);
  return g;
}

// (self, output_size).
std::vector<Tensor> AdaptiveAvgPool2d(const KernelArgs& args) {
  const Tensor& self = FloatingTensor(args, 0);
  const std::vector<int64_t> size = SpatialList(args, 1, 2);
  if (size[0] < 0 || size[1] < 0) args.Fail(1, "negative output size");
  const PoolGeometry g = AdaptiveShape(args, 0, self, size);
  Tensor out = Tensor::Empty(self.dtype(), g.out_shape);
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* y = out.mutable_data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* x = self.data<T>() + p * g.in_plane();
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t h0 = AdaptiveStart(oh, g.out_h, g.in_h),
                      h1 = AdaptiveEnd(oh, g.out_h, g.in_h);
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t w0 = AdaptiveStart(ow, g.out_w, g.in_w);
          const int64_t w1 = AdaptiveEnd(ow, g.out_w, g.in_w);
          double sum = 0;
          for (int64_t h = h0; h < h1; ++h) {
            for (int64_t w = w0; w < w1; ++w) sum += x[h * g.in_w + w];
          }
          *y++ = static_cast<T>(sum / static_cast<double>((h1 - h0) * (w1 - w0)));
        }
      }
    }
  });
  return {out};
}

// (grad_output, self).
std::vector<Tensor> AdaptiveAvgPool2dBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& self = SameDtype(args, 1, grad.dtype());
  if (grad.dim() != self.dim() || grad.dim() < 2) {
    args.Fail(0, "shape " + ShapeString(grad.shape()) + " for input of shape " +
                     ShapeString(self.shape()));
  }
  const PoolGeometry g = AdaptiveShape(args, 1, self, {grad.size(-2), grad.size(-1)});
  ExpectShape(args, 0, grad, g.out_shape);
  Tensor out = Tensor::Zeros(grad.dtype(), self.shape());
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* dy = grad.data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      T* dx = out.mutable_data<T>() + p * g.in_plane();
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t h0 = AdaptiveStart(oh, g.out_h, g.in_h),
                      h1 = AdaptiveEnd(oh, g.out_h, g.in_h);
        for (int64_t ow = 0; ow < g.out_w; ++ow, ++dy) {
          const int64_t w0 = AdaptiveStart(ow, g.out_w, g.in_w);
          const int64_t w1 = AdaptiveEnd(ow, g.out_w, g.in_w);
          const T share = *dy / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h) {
            for (int64_t w = w0; w < w1; ++w) dx[h * g.in_w + w] += share;
          }
        }
      }
    }
  });
  return {out};
}

// ---- upsampling ------------------------------------------------------------

// A [N, C, H, W] input and its [N, C, out_h, out_w] output, as planes.
struct UpsampleGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;
  std::vector<int64_t> in_shape, out_shape;
};

// Sizes from the forward's input, or from the backward's input_size list.
UpsampleGeometry UpsampleShape(const KernelArgs& args, size_t size_i,
                               const std::vector<int64_t>& in_shape, size_t in_i) {
  const std::vector<int64_t> size = args.int_list(size_i);
  if (size.size() != 2 || size[0] <= 0 || size[1] <= 0) {
    args.Fail(size_i, "output_size " + ShapeString(size) + " (expected 2 positive sizes)");
  }
  if (in_shape.size() != 4 || in_shape[2] <= 0 || in_shape[3] <= 0) {
    args.Fail(in_i, "expected a 4-D input with non-empty spatial dimensions, got " +
                        ShapeString(in_shape));
  }
  UpsampleGeometry g{in_shape[0] * in_shape[1],
                     in_shape[2],
                     in_shape[3],
                     size[0],
                     size[1],
                     in_shape,
                     {in_shape[0], in_shape[1], size[0], size[1]}};
  return g;
}

// ATen's compute_scales_value: the input step per output element, from the
// scale the user gave where positive, else from the sizes.
template <typename T>
T ScaleValue(std::optional<double> scale, int64_t in, int64_t out) {
  return scale && *scale > 0 ? static_cast<T>(1.0 / *scale)
                             : static_cast<T>(in) / static_cast<T>(out);
}

// ATen's nearest_idx, in float as ATen computes it.
int64_t NearestIndex(int64_t o, int64_t in, int64_t out, std::optional<double> scale) {
  if (out == in) return o;
  if (out == 2 * in) return o >> 1;
  const float step = ScaleValue<float>(scale, in, out);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * step)), in - 1);
}

std::vector<int64_t> NearestIndices(int64_t in, int64_t out, std::optional<double> scale) {
  std::vector<int64_t> idx(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) idx[o] = NearestIndex(o, in, out, scale);
  return idx;
}

// (self, output_size, scales_h, scales_w).
std::vector<Tensor> UpsampleNearest2d(const KernelArgs& args) {
  const Tensor& self = FloatingTensor(args, 0);
  const UpsampleGeometry g = UpsampleShape(args, 1, self.shape(), 0);
  const std::vector<int64_t> hs = NearestIndices(g.in_h, g.out_h, args.optional_floating(2));
  const std::vector<int64_t> ws = NearestIndices(g.in_w, g.out_w, args.optional_floating(3));
  Tensor out = Tensor::Empty(self.dtype(), g.out_shape);
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* y = out.mutable_data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* x = self.data<T>() + p * g.in_h * g.in_w;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) *y++ = x[hs[oh] * g.in_w + ws[ow]];
      }
    }
  });
  return {out};
}

// (grad_output, output_size, input_size, scales_h, scales_w).
std::vector<Tensor> UpsampleNearest2dBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const UpsampleGeometry g = UpsampleShape(args, 1, args.int_list(2), 2);
  ExpectShape(args, 0, grad, g.out_shape);
  const std::vector<int64_t> hs = NearestIndices(g.in_h, g.out_h, args.optional_floating(3));
  const std::vector<int64_t> ws = NearestIndices(g.in_w, g.out_w, args.optional_floating(4));
  Tensor out = Tensor::Zeros(grad.dtype(), g.in_shape);
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* dy = grad.data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      T* dx = out.mutable_data<T>() + p * g.in_h * g.in_w;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) dx[hs[oh] * g.in_w + ws[ow]] += *dy++;
      }
    }
  });
  return {out};
}

// Where output element o of a linear resize reads: input elements i0 and
// i0 + step (step 0 at the last element), weighted 1 - lambda and lambda.
template <typename T>
struct LinearTap {
  int64_t i0, step;
  T lambda;
};

// ATen's area_pixel_compute_scale and area_pixel_compute_source_index, in
// the element type as ATen computes them.
template <typename T>
std::vector<LinearTap<T>> LinearTaps(int64_t in, int64_t out, bool align_corners,
                                     std::optional<double> scale) {
  T step;
  if (align_corners)
    step = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else
    step = ScaleValue<T>(scale, in, out);
  std::vector<LinearTap<T>> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    T src = align_corners ? step * static_cast<T>(o) : step * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
    const int64_t i0 = static_cast<int64_t>(src);
    taps[o] = {i0, i0 < in - 1 ? 1 : 0, src - static_cast<T>(i0)};
  }
  return taps;
}

// (self, output_size, align_corners, scales_h, scales_w).
std::vector<Tensor> UpsampleBilinear2d(const KernelArgs& args) {
  const Tensor& self = FloatingTensor(args, 0);
  const UpsampleGeometry g = UpsampleShape(args, 1, self.shape(), 0);
  const bool align_corners = args.boolean(2);
  Tensor out = Tensor::Empty(self.dtype(), g.out_shape);
  DispatchFloating(self.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto hs = LinearTaps<T>(g.in_h, g.out_h, align_corners, args.optional_floating(3));
    const auto ws = LinearTaps<T>(g.in_w, g.out_w, align_corners, args.optional_floating(4));
    T* y = out.mutable_data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* x = self.data<T>() + p * g.in_h * g.in_w;
      for (const LinearTap<T>& h : hs) {
        const T* r0 = x + h.i0 * g.in_w;
        const T* r1 = r0 + h.step * g.in_w;
        for (const LinearTap<T>& w : ws) {
          const T top = (T(1) - w.lambda) * r0[w.i0] + w.lambda * r0[w.i0 + w.step];
          const T bottom = (T(1) - w.lambda) * r1[w.i0] + w.lambda * r1[w.i0 + w.step];
          *y++ = (T(1) - h.lambda) * top + h.lambda * bottom;
        }
      }
    }
  });
  return {out};
}

// (grad_output, output_size, input_size, align_corners, scales_h, scales_w).
std::vector<Tensor> UpsampleBilinear2dBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const UpsampleGeometry g = UpsampleShape(args, 1, args.int_list(2), 2);
  ExpectShape(args, 0, grad, g.out_shape);
  const bool align_corners = args.boolean(3);
  Tensor out = Tensor::Zeros(grad.dtype(), g.in_shape);
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto hs = LinearTaps<T>(g.in_h, g.out_h, align_corners, args.optional_floating(4));
    const auto ws = LinearTaps<T>(g.in_w, g.out_w, align_corners, args.optional_floating(5));
    const T* dy = grad.data<T>();
    for (int64_t p = 0; p < g.planes; ++p) {
      T* dx = out.mutable_data<T>() + p * g.in_h * g.in_w;
      for (const LinearTap<T>& h : hs) {
        T* r0 = dx + h.i0 * g.in_w;
        T* r1 = r0 + h.step * g.in_w;
        for (const LinearTap<T>& w : ws) {
          const T d = *dy++;
          r0[w.i0] += (T(1) - h.lambda) * (T(1) - w.lambda) * d;
          r0[w.i0 + w.step] += (T(1) - h.lambda) * w.lambda * d;
          r1[w.i0] += h.lambda * (T(1) - w.lambda) * d;
          r1[w.i0 + w.step] += h.lambda * w.lambda * d;
        }
      }
    }
  });
  return {out};
}

// ---- dropout ---------------------------------------------------------------

// (input, p, train) -> (output, mask). Only the deterministic forms: no
// dropout (evaluation, or p = 0) and p = 1; a random mask could never match
// eager's generator.
std::vector<Tensor> NativeDropout(const KernelArgs& args) {
  const Tensor& input = FloatingTensor(args, 0);
  const double p = args.floating(1);
  const bool train = args.is_none(2) || args.boolean(2);
  if (p < 0 || p > 1)
    args.Fail(1, "dropout probability has to be between 0 and 1, but got " + std::to_string(p));
  if (!train || p == 0) return {input, Tensor::Full(kBool, input.shape(), 1)};
  if (p == 1)
    return {Tensor::Zeros(input.dtype(), input.shape()), Tensor::Zeros(kBool, input.shape())};
  args.Unsupported("random dropout (0 < p < 1 in training)");
}

// (grad_output, mask, scale).
std::vector<Tensor> NativeDropoutBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor& mask = SameDtype(args, 1, kBool);
  ExpectShape(args, 1, mask, grad.shape());
  const double scale = args.floating(2);
  Tensor out = Tensor::Empty(grad.dtype(), grad.shape());
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* g = grad.data<T>();
    const bool* m = mask.data<bool>();
    T* y = out.mutable_data<T>();
    const T s = static_cast<T>(scale);
    for (int64_t i = 0; i < grad.numel(); ++i) y[i] = m[i] ? g[i] * s : T(0);
  });
  return {out};
}

// ---- embedding -------------------------------------------------------------

// (weight, indices, padding_idx, scale_grad_by_freq, sparse): rows of
// weight, any dtype.
std::vector<Tensor> Embedding(const KernelArgs& args) {
  const Tensor& weight = args.tensor(0);
  if (weight.dim() != 2) args.Fail(0, "weight must be 2-D, got " + ShapeString(weight.shape()));
  const Tensor indices = IndexTensor(args, 1);
  std::vector<int64_t> shape = indices.shape();
  shape.push_back(weight.size(1));
  Tensor out = Tensor::Empty(weight.dtype(), shape);
  const size_t row_bytes = static_cast<size_t>(weight.size(1)) * (weight.dtype().bits / 8);
  const int64_t* idx = indices.data<int64_t>();
  const auto* src = static_cast<const uint8_t*>(weight.raw());
  auto* dst = static_cast<uint8_t*>(out.mutable_raw());
  for (int64_t i = 0; i < indices.numel(); ++i) {
    if (idx[i] < 0 || idx[i] >= weight.size(0)) {
      args.Fail(1, "index " + std::to_string(idx[i]) + " is out of range for " +
                       std::to_string(weight.size(0)) + " rows");
    }
    std::memcpy(dst + i * row_bytes, src + idx[i] * row_bytes, row_bytes);
  }
  return {out};
}

// (grad_output, indices, num_weights, padding_idx, scale_grad_by_freq).
std::vector<Tensor> EmbeddingDenseBackward(const KernelArgs& args) {
  const Tensor& grad = FloatingTensor(args, 0);
  const Tensor indices = IndexTensor(args, 1);
  const int64_t num_weights = args.integer(2);
  const int64_t padding_idx = args.integer(3);
  const bool scale_by_freq = args.boolean(4);
  if (num_weights < 0) args.Fail(2, "negative num_weights");
  const int64_t dim = grad.dim() == 0 ? 1 : grad.size(-1);
  ExpectNumel(args, 0, grad, indices.numel() * dim);
  const int64_t* idx = indices.data<int64_t>();
  std::vector<int64_t> counts;
  if (scale_by_freq) {
    counts.assign(static_cast<size_t>(num_weights), 0);
    for (int64_t i = 0; i < indices.numel(); ++i) {
      if (idx[i] >= 0 && idx[i] < num_weights) ++counts[idx[i]];
    }
  }
  Tensor out = Tensor::Zeros(grad.dtype(), {num_weights, dim});
  DispatchFloating(grad.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* g = grad.data<T>();
    T* gw = out.mutable_data<T>();
    for (int64_t i = 0; i < indices.numel(); ++i) {
      const int64_t row = idx[i];
      if (row == padding_idx) continue;
      if (row < 0 || row >= num_weights) {
        args.Fail(1, "index " + std::to_string(row) + " is out of range for " +
                         std::to_string(num_weights) + " rows");
      }
      const T scale = scale_by_freq ? T(1) / static_cast<T>(counts[row]) : T(1);
      for (int64_t j = 0; j < dim; ++j) gw[row * dim + j] += g[i * dim + j] * scale;
    }
  });
  return {out};
}

}  // namespace

void RegisterNnKernels(KernelRegistry& registry) {
  registry.Add("aten::_softmax", SoftmaxForward<false>);
  registry.Add("aten::_log_softmax", SoftmaxForward<true>);
  registry.Add("aten::_softmax_backward_data", SoftmaxBackward<false>);
  registry.Add("aten::_log_softmax_backward_data", SoftmaxBackward<true>);
  registry.Add("aten::nll_loss_forward", NllLossForward<false>);
  registry.Add("aten::nll_loss_backward", NllLossBackward<false>);
  registry.Add("aten::nll_loss2d_forward", NllLossForward<true>);
  registry.Add("aten::nll_loss2d_backward", NllLossBackward<true>);
  registry.Add("aten::mse_loss", MseLoss);
  registry.Add("aten::mse_loss_backward", MseLossBackward);
  registry.Add("aten::smooth_l1_loss", SmoothL1Loss);
  registry.Add("aten::smooth_l1_loss_backward", SmoothL1LossBackward);
  registry.Add("aten::huber_loss", HuberLoss);
  registry.Add("aten::huber_loss_backward", HuberLossBackward);
  registry.Add("aten::binary_cross_entropy", BinaryCrossEntropy);
  registry.Add("aten::binary_cross_entropy_backward", BinaryCrossEntropyBackward);
  registry.Add("aten::convolution", Convolution);
  registry.Add("aten::_convolution", Convolution);
  registry.Add("aten::_convolution.deprecated", Convolution);
  registry.Add("aten::convolution_backward", ConvolutionBackward);
  registry.Add("aten::native_batch_norm", NativeBatchNorm);
  registry.Add("aten::native_batch_norm_backward", NativeBatchNormBackward);
  registry.Add("aten::native_layer_norm", NativeLayerNorm);
  registry.Add("aten::native_layer_norm_backward", NativeLayerNormBackward);
  registry.Add("aten::max_pool2d_with_indices", MaxPool2dWithIndices);
  registry.Add("aten::max_pool2d_with_indices_backward", MaxPool2dWithIndicesBackward);
  registry.Add("aten::avg_pool2d", AvgPool2d);
  registry.Add("aten::avg_pool2d_backward", AvgPool2dBackward);
  registry.Add("aten::_adaptive_avg_pool2d", AdaptiveAvgPool2d);
  registry.Add("aten::_adaptive_avg_pool2d_backward", AdaptiveAvgPool2dBackward);
  registry.Add("aten::upsample_nearest2d", UpsampleNearest2d);
  registry.Add("aten::upsample_nearest2d_backward", UpsampleNearest2dBackward);
  registry.Add("aten::upsample_bilinear2d", UpsampleBilinear2d);
  registry.Add("aten::upsample_bilinear2d_backward", UpsampleBilinear2dBackward);
  registry.Add("aten::native_dropout", NativeDropout);
  registry.Add("aten::native_dropout_backward", NativeDropoutBackward);
  registry.Add("aten::embedding", Embedding);
  registry.Add("aten::embedding_dense_backward", EmbeddingDenseBackward);
}

}  // namespace ltc::ref_cpu
