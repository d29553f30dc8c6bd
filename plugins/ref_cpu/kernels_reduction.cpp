// Reductions over dimensions: the input is arranged so that each output
// element's inputs are one contiguous run, then reduced run by run.
// Floating sums accumulate in double.
#include "dispatch.h"
#include "kernel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ltc::ref_cpu {

namespace {

using plugin::Error;

// The input with the reduced dimensions moved last and made contiguous:
// output element i reduces elements [i * run, (i + 1) * run).
struct Arranged {
  Tensor data;
  int64_t outputs = 1;
  int64_t run = 1;
  std::vector<int64_t> out_shape;
};

// `dims` empty reduces every dimension (torch's `dim=[]` and `dim=None`).
Arranged Arrange(const KernelArgs& a, const Tensor& x, const std::vector<int64_t>& dims,
                 bool keepdim) {
  const int64_t rank = x.dim();
  std::vector<bool> reduced(std::max<int64_t>(rank, 1), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = WrapDim(d, rank, a.op());
    if (reduced[w]) a.Fail(1, "dim " + std::to_string(w) + " appears multiple times");
    reduced[w] = true;
  }
  Arranged r;
  std::vector<int64_t> order;
  std::vector<int64_t> kept_order;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      r.run *= x.shape()[d];
      if (keepdim) r.out_shape.push_back(1);
    } else {
      kept_order.push_back(d);
      r.outputs *= x.shape()[d];
      r.out_shape.push_back(x.shape()[d]);
    }
  }
  order = kept_order;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) order.push_back(d);
  }
  bool identity = true;
  for (int64_t d = 0; d < rank; ++d) identity = identity && order[d] == d;
  if (identity) {
    r.data = x;
    return r;
  }
  // A copy of the permuted input.
  const std::vector<int64_t> own = ContiguousStrides(x.shape());
  std::vector<int64_t> shape, strides;
  for (int64_t d : order) {
    shape.push_back(x.shape()[d]);
    strides.push_back(own[d]);
  }
  Tensor out = GatherStrided(x, shape, strides, 0);
  r.data = out;
  return r;
}

// The dtype a sum of `d` has in torch without a dtype argument.
DLDataType SumDtype(DLDataType d) { return IsFloating(d) ? d : kInt64; }

template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// Sum or product of each run, converted to `dtype` first.
// The number of leading dimensions `dims` reduces when it reduces exactly
// those (the bias gradient's sum over the batch), else 0.
int64_t LeadingDims(const KernelArgs& a, int64_t rank, const std::vector<int64_t>& dims) {
  if (dims.empty() || rank < 2) return 0;
  std::vector<bool> reduced(rank, false);
  for (int64_t d : dims) reduced[WrapDim(d, rank, a.op())] = true;
  const int64_t k = static_cast<int64_t>(std::count(reduced.begin(), reduced.end(), true));
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d] != (d < k)) return 0;
  }
  return k < rank && k == static_cast<int64_t>(dims.size()) ? k : 0;
}

// Sums over leading dimensions row by row, so that the input is read in
// order instead of transposed first.
template <typename T>
void SumLeading(const T* in, T* out, int64_t rows, int64_t inner) {
  std::vector<Acc<T>> acc(inner, 0);
  for (int64_t i = 0; i < rows; ++i) {
    const T* p = in + i * inner;
    for (int64_t j = 0; j < inner; ++j) acc[j] += p[j];
  }
  for (int64_t j = 0; j < inner; ++j) out[j] = static_cast<T>(acc[j]);
}

template <bool kProduct>
Tensor SumImpl(const KernelArgs& a, const Tensor& x, const std::vector<int64_t>& dims,
               bool keepdim, DLDataType dtype) {
  if (const int64_t k = kProduct ? 0 : LeadingDims(a, x.dim(), dims);
      k > 0 && !IsBool(dtype)) {
    const Tensor c = x.To(dtype);
    std::vector<int64_t> shape(x.shape().begin() + k, x.shape().end());
    if (keepdim) shape.insert(shape.begin(), k, 1);
    Tensor out = Tensor::Empty(dtype, shape);
    const int64_t inner = out.numel();
    DispatchNumeric(dtype, a.op(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      SumLeading<T>(c.data<T>(), out.mutable_data<T>(), c.numel() / std::max<int64_t>(inner, 1), inner);
    });
    return out;
  }
  const Arranged r = Arrange(a, x.To(dtype), dims, keepdim);
  Tensor out = Tensor::Empty(dtype, r.out_shape);
  DispatchAll(dtype, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = r.data.data<T>();
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < r.outputs; ++i) {
      const T* p = in + i * r.run;
      if constexpr (std::is_same_v<T, bool>) {
        bool acc = kProduct;
        for (int64_t j = 0; j < r.run; ++j) acc = kProduct ? (acc && p[j]) : (acc || p[j]);
        o[i] = acc;
      } else {
        Acc<T> acc = kProduct ? 1 : 0;
        if (kProduct) {
          for (int64_t j = 0; j < r.run; ++j) acc *= p[j];
        } else {
          for (int64_t j = 0; j < r.run; ++j) acc += p[j];
        }
        o[i] = static_cast<T>(acc);
      }
    }
  });
  return out;
}

std::vector<int64_t> OptionalDims(const KernelArgs& a, size_t i) {
  return a.optional_int_list(i).value_or(std::vector<int64_t>{});
}

std::vector<Tensor> Sum(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const DLDataType dtype = a.optional_dtype(1).value_or(SumDtype(x.dtype()));
  return One(SumImpl<false>(a, x, {}, false, dtype));
}

std::vector<Tensor> SumDim(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const DLDataType dtype = a.optional_dtype(3).value_or(SumDtype(x.dtype()));
  return One(SumImpl<false>(a, x, OptionalDims(a, 1), a.boolean(2), dtype));
}

std::vector<Tensor> Prod(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const DLDataType dtype = a.optional_dtype(1).value_or(SumDtype(x.dtype()));
  return One(SumImpl<true>(a, x, {}, false, dtype));
}

std::vector<Tensor> ProdDim(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const DLDataType dtype = a.optional_dtype(3).value_or(SumDtype(x.dtype()));
  return One(SumImpl<true>(a, x, {a.integer(1)}, a.boolean(2), dtype));
}

Tensor MeanImpl(const KernelArgs& a, const Tensor& x, const std::vector<int64_t>& dims,
                bool keepdim, std::optional<DLDataType> dtype) {
  const DLDataType d = dtype.value_or(x.dtype());
  if (!IsFloating(d)) {
    a.Unsupported("mean of " + DtypeName(d) + " (it needs a floating dtype)");
  }
  const Arranged r = Arrange(a, x.To(d), dims, keepdim);
  Tensor out = Tensor::Empty(d, r.out_shape);
  DispatchFloating(d, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = r.data.data<T>();
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < r.outputs; ++i) {
      double acc = 0;
      for (int64_t j = 0; j < r.run; ++j) acc += in[i * r.run + j];
      o[i] = static_cast<T>(acc / static_cast<double>(r.run));
    }
  });
  return out;
}

std::vector<Tensor> Mean(const KernelArgs& a) {
  return One(MeanImpl(a, a.tensor(0), {}, false, a.optional_dtype(1)));
}

std::vector<Tensor> MeanDim(const KernelArgs& a) {
  return One(MeanImpl(a, a.tensor(0), OptionalDims(a, 1), a.boolean(2), a.optional_dtype(3)));
}

// Max/min of each run, NaN winning; the index of the first extreme (or
// first NaN) too.
template <bool kMax>
void Extremes(const KernelArgs& a, const Arranged& r, Tensor* values, Tensor* indices) {
  if (r.run == 0) a.Fail(0, "cannot reduce over a dimension of size 0");
  DispatchAll(r.data.dtype(), a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = r.data.data<T>();
    T* v = values ? values->mutable_data<T>() : nullptr;
    int64_t* idx = indices ? indices->mutable_data<int64_t>() : nullptr;
    for (int64_t i = 0; i < r.outputs; ++i) {
      const T* p = in + i * r.run;
      T best = p[0];
      int64_t at = 0;
      bool nan = false;
      if constexpr (std::is_floating_point_v<T>) nan = std::isnan(best);
      for (int64_t j = 1; j < r.run && !nan; ++j) {
        if constexpr (std::is_floating_point_v<T>) {
          if (std::isnan(p[j])) {
            best = p[j];
            at = j;
            nan = true;
            break;
          }
        }
        if (kMax ? p[j] > best : p[j] < best) {
          best = p[j];
          at = j;
        }
      }
      if (v) v[i] = best;
      if (idx) idx[i] = at;
    }
  });
}

template <bool kMax>
std::vector<Tensor> MaxAll(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  if (x.numel() == 0) a.Fail(0, "max()/min() of an empty tensor");
  const Arranged r = Arrange(a, x, {}, false);
  Tensor values = Tensor::Empty(x.dtype(), {});
  Extremes<kMax>(a, r, &values, nullptr);
  return One(values);
}

template <bool kMax>
std::vector<Tensor> MaxDim(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Arranged r = Arrange(a, x, {a.integer(1)}, a.boolean(2));
  Tensor values = Tensor::Empty(x.dtype(), r.out_shape);
  Tensor indices = Tensor::Empty(kInt64, r.out_shape);
  Extremes<kMax>(a, r, &values, &indices);
  return {values, indices};
}

template <bool kMax>
std::vector<Tensor> Amax(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Arranged r = Arrange(a, x, a.int_list(1), a.boolean(2));
  Tensor values = Tensor::Empty(x.dtype(), r.out_shape);
  Extremes<kMax>(a, r, &values, nullptr);
  return One(values);
}

template <bool kMax>
std::vector<Tensor> Argmax(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::optional<int64_t> dim = a.optional_integer(1);
  const bool keepdim = a.boolean(2);
  Arranged r;
  if (dim) {
    r = Arrange(a, x, {*dim}, keepdim);
  } else {
    r = Arrange(a, x, {}, false);
    if (keepdim) r.out_shape.assign(x.dim(), 1);
  }
  Tensor indices = Tensor::Empty(kInt64, r.out_shape);
  Extremes<kMax>(a, r, nullptr, &indices);
  return One(indices);
}

// any / all: bool results, any dtype read as non-zero.
template <bool kAny>
Tensor AnyImpl(const KernelArgs& a, const Tensor& x, const std::vector<int64_t>& dims,
               bool keepdim) {
  const Arranged r = Arrange(a, x.To(kBool), dims, keepdim);
  Tensor out = Tensor::Empty(kBool, r.out_shape);
  const bool* in = r.data.data<bool>();
  bool* o = out.mutable_data<bool>();
  for (int64_t i = 0; i < r.outputs; ++i) {
    bool acc = !kAny;
    for (int64_t j = 0; j < r.run; ++j) acc = kAny ? (acc || in[i * r.run + j]) : (acc && in[i * r.run + j]);
    o[i] = acc;
  }
  return out;
}

template <bool kAny>
std::vector<Tensor> AnyAll(const KernelArgs& a) {
  return One(AnyImpl<kAny>(a, a.tensor(0), {}, false));
}
template <bool kAny>
std::vector<Tensor> AnyAllDim(const KernelArgs& a) {
  return One(AnyImpl<kAny>(a, a.tensor(0), {a.integer(1)}, a.boolean(2)));
}

// Two-pass variance in double; `correction` is subtracted from the count.
Tensor VarImpl(const KernelArgs& a, const Tensor& x, const std::vector<int64_t>& dims,
               double correction, bool keepdim, bool take_sqrt) {
  const DLDataType d = IsFloating(x.dtype()) ? x.dtype() : kFloat32;
  if (!IsFloating(x.dtype())) a.Unsupported("var/std of " + DtypeName(x.dtype()));
  const Arranged r = Arrange(a, x, dims, keepdim);
  Tensor out = Tensor::Empty(d, r.out_shape);
  DispatchFloating(d, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = r.data.data<T>();
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < r.outputs; ++i) {
      const T* p = in + i * r.run;
      double mean = 0;
      for (int64_t j = 0; j < r.run; ++j) mean += p[j];
      mean /= static_cast<double>(r.run);
      double ss = 0;
      for (int64_t j = 0; j < r.run; ++j) ss += (p[j] - mean) * (p[j] - mean);
      const double denom = std::max(0.0, static_cast<double>(r.run) - correction);
      const double var = ss / denom;
      o[i] = static_cast<T>(take_sqrt ? std::sqrt(var) : var);
    }
  });
  return out;
}

template <bool kStd>
std::vector<Tensor> VarAll(const KernelArgs& a) {
  return One(VarImpl(a, a.tensor(0), {}, a.boolean(1) ? 1.0 : 0.0, false, kStd));
}
template <bool kStd>
std::vector<Tensor> VarDim(const KernelArgs& a) {
  return One(VarImpl(a, a.tensor(0), OptionalDims(a, 1), a.boolean(2) ? 1.0 : 0.0, a.boolean(3), kStd));
}
template <bool kStd>
std::vector<Tensor> VarCorrection(const KernelArgs& a) {
  const double correction = a.is_none(2) ? 1.0 : a.floating(2);
  return One(VarImpl(a, a.tensor(0), OptionalDims(a, 1), correction, a.boolean(3), kStd));
}

std::vector<Tensor> Logsumexp(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const DLDataType d = IsFloating(x.dtype()) ? x.dtype() : kFloat32;
  const Arranged r = Arrange(a, x.To(d), a.int_list(1), a.boolean(2));
  Tensor out = Tensor::Empty(d, r.out_shape);
  DispatchFloating(d, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = r.data.data<T>();
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < r.outputs; ++i) {
      const T* p = in + i * r.run;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < r.run; ++j) m = std::max<double>(m, p[j]);
      if (std::isinf(m)) m = 0;  // all -inf stays -inf, +inf stays +inf
      double s = 0;
      for (int64_t j = 0; j < r.run; ++j) s += std::exp(p[j] - m);
      o[i] = static_cast<T>(std::log(s) + m);
    }
  });
  return One(out);
}

// The p-norm of each run: p = inf, -inf, 0 and finite p.
Tensor NormImpl(const KernelArgs& a, const Tensor& x, double p, const std::vector<int64_t>& dims,
                bool keepdim, std::optional<DLDataType> dtype) {
  const DLDataType d = dtype.value_or(x.dtype());
  if (!IsFloating(d)) a.Unsupported("norm of " + DtypeName(d));
  const Arranged r = Arrange(a, x.To(d), dims, keepdim);
  Tensor out = Tensor::Empty(d, r.out_shape);
  DispatchFloating(d, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = r.data.data<T>();
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < r.outputs; ++i) {
      const T* q = in + i * r.run;
      double acc = 0;
      if (std::isinf(p)) {
        acc = p > 0 ? 0 : std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < r.run; ++j) {
          const double v = std::abs(static_cast<double>(q[j]));
          if (std::isnan(v)) { acc = v; break; }
          acc = p > 0 ? std::max(acc, v) : std::min(acc, v);
        }
      } else if (p == 0) {
        for (int64_t j = 0; j < r.run; ++j) acc += q[j] != 0;
      } else if (p == 1) {
        for (int64_t j = 0; j < r.run; ++j) acc += std::abs(static_cast<double>(q[j]));
      } else if (p == 2) {
        for (int64_t j = 0; j < r.run; ++j) acc += static_cast<double>(q[j]) * q[j];
        acc = std::sqrt(acc);
      } else {
        for (int64_t j = 0; j < r.run; ++j) acc += std::pow(std::abs(static_cast<double>(q[j])), p);
        acc = std::pow(acc, 1.0 / p);
      }
      o[i] = static_cast<T>(acc);
    }
  });
  return out;
}

std::vector<Tensor> NormScalar(const KernelArgs& a) {
  return One(NormImpl(a, a.tensor(0), a.floating(1), {}, false, std::nullopt));
}
std::vector<Tensor> NormDim(const KernelArgs& a) {
  const double p = a.is_none(1) ? 2.0 : a.floating(1);
  return One(NormImpl(a, a.tensor(0), p, a.int_list(2), a.boolean(3), std::nullopt));
}
std::vector<Tensor> NormDimDtype(const KernelArgs& a) {
  const double p = a.is_none(1) ? 2.0 : a.floating(1);
  return One(NormImpl(a, a.tensor(0), p, a.int_list(2), a.boolean(3), a.dtype(4)));
}

std::vector<Tensor> Cumsum(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const DLDataType d = a.optional_dtype(2).value_or(SumDtype(x.dtype()));
  const Tensor c = x.To(d);
  const int64_t rank = std::max<int64_t>(x.dim(), 1);
  const int64_t dim = WrapDim(a.integer(1), x.dim(), a.op());
  const std::vector<int64_t> shape = x.dim() == 0 ? std::vector<int64_t>{1} : x.shape();
  const int64_t size = shape[dim];
  const int64_t inner = Numel(std::vector<int64_t>(shape.begin() + dim + 1, shape.begin() + rank));
  const int64_t outer = Numel(std::vector<int64_t>(shape.begin(), shape.begin() + dim));
  Tensor out = Tensor::Empty(d, x.shape());
  DispatchNumeric(d, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = c.data<T>();
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < outer; ++i) {
      for (int64_t k = 0; k < inner; ++k) {
        Acc<T> acc = 0;
        for (int64_t j = 0; j < size; ++j) {
          const int64_t at = (i * size + j) * inner + k;
          acc += in[at];
          o[at] = static_cast<T>(acc);
        }
      }
    }
  });
  return One(out);
}

}  // namespace

void RegisterReductionKernels(KernelRegistry& r) {
  r.Add("aten::sum", Sum);
  r.Add("aten::sum.dim_IntList", SumDim);
  r.Add("aten::prod", Prod);
  r.Add("aten::prod.dim_int", ProdDim);
  r.Add("aten::mean", Mean);
  r.Add("aten::mean.dim", MeanDim);
  r.Add("aten::max", MaxAll<true>);
  r.Add("aten::min", MaxAll<false>);
  r.Add("aten::max.dim", MaxDim<true>);
  r.Add("aten::min.dim", MaxDim<false>);
  r.Add("aten::amax", Amax<true>);
  r.Add("aten::amin", Amax<false>);
  r.Add("aten::argmax", Argmax<true>);
  r.Add("aten::argmin", Argmax<false>);
  r.Add("aten::any", AnyAll<true>);
  r.Add("aten::all", AnyAll<false>);
  r.Add("aten::any.dim", AnyAllDim<true>);
  r.Add("aten::all.dim", AnyAllDim<false>);
  r.Add("aten::var", VarAll<false>);
  r.Add("aten::std", VarAll<true>);
  r.Add("aten::var.dim", VarDim<false>);
  r.Add("aten::std.dim", VarDim<true>);
  r.Add("aten::var.correction", VarCorrection<false>);
  r.Add("aten::std.correction", VarCorrection<true>);
  r.Add("aten::logsumexp", Logsumexp);
  r.Add("aten::norm.Scalar", NormScalar);
  r.Add("aten::norm.ScalarOpt_dim", NormDim);
  r.Add("aten::norm.ScalarOpt_dim_dtype", NormDimDtype);
  r.Add("aten::cumsum", Cumsum);
}

}  // namespace ltc::ref_cpu
