// Creation kernels: constant-filled tensors, ranges, copies between dtypes
// and shapes. The layout, device and pin_memory arguments are ignored: every
// ref_cpu tensor is strided and on the one CPU device.
#include "dispatch.h"
#include "kernel.h"

#include <cmath>
#include <cstring>

namespace ltc::ref_cpu {

namespace {

using plugin::Error;

// `value` in every element, converted exactly for integer values.
Tensor Filled(DLDataType dtype, std::vector<int64_t> shape, const Number& value) {
  Tensor t = Tensor::Empty(dtype, std::move(shape));
  DispatchAll(dtype, "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = value.is_floating ? Convert<T>(value.floating) : Convert<T>(value.integer);
    T* o = t.mutable_data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) o[i] = v;
  });
  return t;
}

Number Integer(int64_t v) {
  Number n;
  n.integer = v;
  return n;
}

std::vector<int64_t> Size(const KernelArgs& a, size_t i) {
  std::vector<int64_t> size = a.int_list(i);
  for (int64_t s : size) {
    if (s < 0) a.Fail(i, "negative dimension " + std::to_string(s));
  }
  return size;
}

// zeros / ones / empty (zero-filled: deterministic) with a size argument
// at 0 and dtype at 1, float32 by default.
template <int kValue>
std::vector<Tensor> FromSize(const KernelArgs& a) {
  return One(Filled(a.optional_dtype(1).value_or(kFloat32), Size(a, 0), Integer(kValue)));
}

// *_like(self, dtype, ...) with the value `kValue`.
template <int kValue>
std::vector<Tensor> Like(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Filled(a.optional_dtype(1).value_or(x.dtype()), x.shape(), Integer(kValue)));
}

// new_zeros(self, size, dtype, ...): self's dtype by default.
template <int kValue>
std::vector<Tensor> New(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Filled(a.optional_dtype(2).value_or(x.dtype()), Size(a, 1), Integer(kValue)));
}

std::vector<Tensor> Full(const KernelArgs& a) {
  const Number value = a.number(1);
  return One(Filled(a.optional_dtype(2).value_or(NumberDtype(value)), Size(a, 0), value));
}

std::vector<Tensor> FullLike(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Filled(a.optional_dtype(2).value_or(x.dtype()), x.shape(), a.number(1)));
}

std::vector<Tensor> NewFull(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Filled(a.optional_dtype(3).value_or(x.dtype()), Size(a, 1), a.number(2)));
}

std::vector<Tensor> Zero(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Tensor::Zeros(x.dtype(), x.shape()));
}

std::vector<Tensor> FillScalar(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Filled(x.dtype(), x.shape(), a.number(1)));
}

std::vector<Tensor> FillTensor(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& v = a.tensor(1);
  if (v.dim() != 0) a.Fail(1, "fill_ only supports a 0-dim value tensor");
  Number n;
  if (IsFloating(v.dtype())) {
    n.is_floating = true;
    n.floating = v.item_double();
  } else {
    n.integer = v.item_int();
  }
  return One(Filled(x.dtype(), x.shape(), n));
}

std::vector<Tensor> ScalarTensor(const KernelArgs& a) {
  return One(Filled(a.optional_dtype(1).value_or(kFloat32), {}, a.number(0)));
}

// prim::NumToTensor: a number as a 0-dim tensor of its own dtype.
std::vector<Tensor> NumToTensor(const KernelArgs& a) {
  const Number n = a.number(0);
  const DLDataType dtype = n.is_floating ? kFloat64 : n.is_bool ? kBool : kInt64;
  return One(Filled(dtype, {}, n));
}

// arange: torch's size ceil((end - start) / step), computed in double; the
// dtype is int64 unless a bound or the step is a float.
Tensor Arange(const KernelArgs& a, const Number& start, const Number& end, const Number& step,
              std::optional<DLDataType> dtype) {
  const bool floating = start.is_floating || end.is_floating || step.is_floating;
  const DLDataType d = dtype.value_or(floating ? kFloat32 : kInt64);
  const double s = start.as_double(), e = end.as_double(), st = step.as_double();
  if (st == 0) throw Error(LTC_ERROR_INVALID_ARGUMENT, a.op() + ": step must be nonzero");
  if ((st > 0 && e < s) || (st < 0 && e > s)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                a.op() + ": upper bound and larger bound inconsistent with step sign");
  }
  int64_t n;
  if (!floating && IsIntegral(d)) {
    // Exact for large integer bounds.
    const int64_t is = start.integer, ie = end.integer, ist = step.integer;
    n = ist > 0 ? (ie - is + ist - 1) / ist : (is - ie - ist - 1) / -ist;
  } else {
    n = static_cast<int64_t>(std::ceil((e - s) / st));
  }
  Tensor out = Tensor::Empty(d, {n});
  DispatchNumeric(d, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.mutable_data<T>();
    if constexpr (std::is_integral_v<T>) {
      if (!floating) {
        for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(start.integer + i * step.integer);
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(s + st * static_cast<double>(i));
  });
  return out;
}

std::vector<Tensor> ArangeEnd(const KernelArgs& a) {
  return One(Arange(a, Integer(0), a.number(0), Integer(1), a.optional_dtype(1)));
}
std::vector<Tensor> ArangeStart(const KernelArgs& a) {
  return One(Arange(a, a.number(0), a.number(1), Integer(1), a.optional_dtype(2)));
}
std::vector<Tensor> ArangeStartStep(const KernelArgs& a) {
  return One(Arange(a, a.number(0), a.number(1), a.number(2), a.optional_dtype(3)));
}

Tensor Eye(DLDataType dtype, int64_t n, int64_t m) {
  Tensor out = Tensor::Zeros(dtype, {n, m});
  DispatchAll(dtype, "aten::eye", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) o[i * m + i] = Convert<T>(1);
  });
  return out;
}

std::vector<Tensor> EyeN(const KernelArgs& a) {
  const int64_t n = a.integer(0);
  if (n < 0) a.Fail(0, "n must be non-negative");
  return One(Eye(a.optional_dtype(1).value_or(kFloat32), n, n));
}
std::vector<Tensor> EyeNM(const KernelArgs& a) {
  const int64_t n = a.integer(0), m = a.integer(1);
  if (n < 0 || m < 0) a.Fail(0, "n and m must be non-negative");
  return One(Eye(a.optional_dtype(2).value_or(kFloat32), n, m));
}

// `src` broadcast to `shape` and converted to `dtype`.
Tensor BroadcastTo(const KernelArgs& a, const Tensor& src, const std::vector<int64_t>& shape,
                   DLDataType dtype) {
  if (BroadcastShapes(src.shape(), shape, a.op()) != shape) {
    a.Fail(1, "shape " + ShapeString(src.shape()) + " does not broadcast to " +
                  ShapeString(shape));
  }
  return BroadcastCopy(src, shape, dtype);
}

// copy(self, src): src's values in self's shape and dtype.
std::vector<Tensor> CopyKernel(const KernelArgs& a) {
  const Tensor& self = a.tensor(0);
  return One(BroadcastTo(a, a.tensor(1), self.shape(), self.dtype()));
}

// _copy_from(self, dst): self's values in dst's shape and dtype.
std::vector<Tensor> CopyFrom(const KernelArgs& a) {
  const Tensor& dst = a.tensor(1);
  return One(BroadcastTo(a, a.tensor(0), dst.shape(), dst.dtype()));
}

}  // namespace

void RegisterCreationKernels(KernelRegistry& r) {
  r.Add("aten::zero", Zero);
  r.Add("aten::zeros", FromSize<0>);
  r.Add("aten::ones", FromSize<1>);
  r.Add("aten::empty.memory_format", FromSize<0>);
  r.Add("aten::full", Full);
  r.Add("aten::fill.Scalar", FillScalar);
  r.Add("aten::fill.Tensor", FillTensor);
  r.Add("aten::zeros_like", Like<0>);
  r.Add("aten::ones_like", Like<1>);
  r.Add("aten::empty_like", Like<0>);
  r.Add("aten::full_like", FullLike);
  r.Add("aten::new_zeros", New<0>);
  r.Add("aten::new_ones", New<1>);
  r.Add("aten::new_empty", New<0>);
  r.Add("aten::new_full", NewFull);
  r.Add("aten::scalar_tensor", ScalarTensor);
  r.Add("prim::NumToTensor", NumToTensor);
  r.Add("aten::arange", ArangeEnd);
  r.Add("aten::arange.start", ArangeStart);
  r.Add("aten::arange.start_step", ArangeStartStep);
  r.Add("aten::eye", EyeN);
  r.Add("aten::eye.m", EyeNM);
  r.Add("aten::copy", CopyKernel);
  r.Add("aten::_copy_from", CopyFrom);
}

}  // namespace ltc::ref_cpu
