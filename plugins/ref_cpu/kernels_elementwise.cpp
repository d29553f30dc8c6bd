// Element-wise kernels: unary math, binary arithmetic and comparisons with
// broadcasting and PyTorch's type promotion, activations and their
// backward ops.
#include "dispatch.h"
#include "kernel.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace ltc::ref_cpu {

namespace {

using plugin::Error;

// The dtype torch computes a float-only op in: floats keep theirs, integers
// and bool become the default float32.
DLDataType FloatingOf(DLDataType d) { return IsFloating(d) ? d : kFloat32; }

// --- unary -------------------------------------------------------------------

// An op that computes in floating point: exp(int) is float32.
template <typename F>
std::vector<Tensor> FloatUnary(const KernelArgs& args, F f) {
  const Tensor& x = args.tensor(0);
  const DLDataType dtype = FloatingOf(x.dtype());
  const Tensor in = x.To(dtype);
  return One(DispatchFloating(dtype, args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map1<T, T>(in, dtype, [&](T v) { return f(v); });
  }));
}

// An op that keeps the dtype (neg, abs, floor); bool is refused.
template <typename F>
std::vector<Tensor> SameUnary(const KernelArgs& args, F f) {
  const Tensor& x = args.tensor(0);
  return One(DispatchNumeric(x.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map1<T, T>(x, x.dtype(), [&](T v) { return f(v); });
  }));
}

// An op torch defines on floating types only (gelu, leaky_relu).
template <typename F>
std::vector<Tensor> FloatUnaryKeep(const KernelArgs& args, F f) {
  const Tensor& x = args.tensor(0);
  return One(DispatchFloating(x.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map1<T, T>(x, x.dtype(), [&](T v) { return static_cast<T>(f(v)); });
  }));
}

// Floor, ceil, round, trunc: the identity on integers.
template <typename F>
std::vector<Tensor> RoundingUnary(const KernelArgs& args, F f) {
  const Tensor& x = args.tensor(0);
  if (!IsFloating(x.dtype())) {
    if (IsBool(x.dtype())) ThrowUnsupportedDtype(args.op(), x.dtype());
    return One(x);
  }
  return SameUnary(args, f);
}

// A predicate of each element: bool results.
template <typename F>
std::vector<Tensor> PredicateUnary(const KernelArgs& args, F f) {
  const Tensor& x = args.tensor(0);
  return One(DispatchAll(x.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map1<T, bool>(x, kBool, [&](T v) { return f(v); });
  }));
}

template <typename T>
T Sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// --- binary ------------------------------------------------------------------

template <typename T>
T NumberAs(const Number& n) {
  return n.is_floating ? Convert<T>(n.floating) : Convert<T>(n.integer);
}

// A 0-dim tensor of `dtype` holding `n`, to run a Scalar overload as its
// Tensor one.
Tensor ScalarTensor(const Number& n, DLDataType dtype) {
  Tensor t = Tensor::Empty(dtype, {});
  DispatchAll(dtype, "scalar", [&](auto tag) {
    using T = typename decltype(tag)::type;
    *t.mutable_data<T>() = NumberAs<T>(n);
  });
  return t;
}

// f(a, b) in `dtype`, both operands converted to it first.
template <typename F>
Tensor Arithmetic(const std::string& op, const Tensor& a, const Tensor& b, DLDataType dtype,
                  F f) {
  const Tensor ca = a.To(dtype), cb = b.To(dtype);
  return DispatchAll(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map2<T, T>(op, ca, cb, dtype, [&](T x, T y) { return f(x, y); });
  });
}

// The dtype of an arithmetic op's result: the graph's where it says. The
// lazy core uploads a Python number as a 0-dim tensor (float64 for a float),
// which by the promotion rules of tensors would make `bool_tensor * 0.5`
// float64; its IR, which still knew the number, declares eager's float32.
DLDataType ArithmeticType(const KernelArgs& a, const Tensor& x, const Tensor& y) {
  const DLDataType promoted = ResultType(x, y);
  const std::optional<DLDataType> declared = a.declared_dtype(0);
  return declared && IsFloating(*declared) == IsFloating(promoted) ? *declared : promoted;
}

// f(a, b) compared in the promoted dtype: bool results.
template <typename F>
Tensor Compare(const std::string& op, const Tensor& a, const Tensor& b, F f) {
  const DLDataType dtype = ResultType(a, b);
  const Tensor ca = a.To(dtype), cb = b.To(dtype);
  return DispatchAll(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map2<T, bool>(op, ca, cb, kBool, [&](T x, T y) { return f(x, y); });
  });
}

// self + alpha * other; alpha must be integral for an integral result.
Tensor AddImpl(const std::string& op, const Tensor& a, const Tensor& b, const Number& alpha,
               DLDataType dtype, bool subtract) {
  if (alpha.is_floating && !IsFloating(dtype)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                op + ": a float alpha needs a floating result, got " + DtypeName(dtype));
  }
  if (IsBool(dtype) && subtract) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, op + ": subtraction of bool tensors is not allowed");
  }
  const Tensor ca = a.To(dtype), cb = b.To(dtype);
  return DispatchAll(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T al = NumberAs<T>(alpha);
    if constexpr (std::is_same_v<T, bool>) {
      return Map2<T, T>(op, ca, cb, dtype, [al](T x, T y) { return x || (al && y); });
    } else {
      // One loop per case, so that each vectorises.
      if (alpha.as_double() == 1.0) {
        if (subtract) return Map2<T, T>(op, ca, cb, dtype, [](T x, T y) { return static_cast<T>(x - y); });
        return Map2<T, T>(op, ca, cb, dtype, [](T x, T y) { return static_cast<T>(x + y); });
      }
      const T scale = subtract ? static_cast<T>(-al) : al;
      return Map2<T, T>(op, ca, cb, dtype, [scale](T x, T y) { return static_cast<T>(x + scale * y); });
    }
  });
}

std::vector<Tensor> AddTensor(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& y = a.tensor(1);
  return One(AddImpl(a.op(), x, y, a.number(2), ArithmeticType(a, x, y), false));
}
std::vector<Tensor> AddScalar(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Number other = a.number(1);
  const DLDataType dtype = ResultType(x, other);
  return One(AddImpl(a.op(), x, ScalarTensor(other, dtype), a.number(2), dtype, false));
}
std::vector<Tensor> SubTensor(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& y = a.tensor(1);
  return One(AddImpl(a.op(), x, y, a.number(2), ArithmeticType(a, x, y), true));
}
std::vector<Tensor> SubScalar(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Number other = a.number(1);
  const DLDataType dtype = ResultType(x, other);
  return One(AddImpl(a.op(), x, ScalarTensor(other, dtype), a.number(2), dtype, true));
}
// rsub(self, other, alpha) = other - alpha * self
std::vector<Tensor> RsubTensor(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& y = a.tensor(1);
  return One(AddImpl(a.op(), y, x, a.number(2), ArithmeticType(a, x, y), true));
}
std::vector<Tensor> RsubScalar(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Number other = a.number(1);
  const DLDataType dtype = ResultType(x, other);
  return One(AddImpl(a.op(), ScalarTensor(other, dtype), x, a.number(2), dtype, true));
}

// The second operand of a binary op: a tensor, or a Scalar as a 0-dim
// tensor of the promoted dtype. Returns the promoted dtype.
DLDataType SecondOperand(const KernelArgs& a, bool scalar, Tensor* other) {
  const Tensor& x = a.tensor(0);
  if (!scalar) {
    *other = a.tensor(1);
    return ArithmeticType(a, x, *other);
  }
  const Number n = a.number(1);
  const DLDataType dtype = ResultType(x, n);
  *other = ScalarTensor(n, dtype);
  return dtype;
}

struct MulOp {
  template <typename T>
  T operator()(T x, T y) const {
    if constexpr (std::is_same_v<T, bool>) return x && y;
    else return static_cast<T>(x * y);
  }
};

template <bool kScalar>
std::vector<Tensor> Mul(const KernelArgs& a) {
  Tensor other;
  const DLDataType dtype = SecondOperand(a, kScalar, &other);
  return One(Arithmetic(a.op(), a.tensor(0), other, dtype, MulOp{}));
}

template <typename T>
T FloorDivide(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    // ATen's div_floor_floating: exact where a / b rounds up to an integer.
    if (b == 0) return a / b;
    T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != 0 && (b < 0) != (mod < 0)) div -= T(1);
    if (div != 0) {
      T floordiv = std::floor(div);
      if (div - floordiv > T(0.5)) floordiv += T(1);
      return floordiv;
    }
    return std::copysign(T(0), a / b);
  } else {
    const T q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
  }
}

// div with rounding_mode None ("true"), "trunc" or "floor".
Tensor DivImpl(const KernelArgs& a, const Tensor& x, const Tensor& y, DLDataType promoted,
               const std::optional<std::string>& mode) {
  const std::string op = a.op();
  if (!mode) {
    return Arithmetic(op, x, y, FloatingOf(promoted), [](auto p, auto q) {
      using T = decltype(p);
      if constexpr (std::is_same_v<T, bool>) return p;
      else return static_cast<T>(p / q);
    });
  }
  if (*mode != "trunc" && *mode != "floor") a.Unsupported("rounding_mode '" + *mode + "'");
  if (IsBool(promoted)) ThrowUnsupportedDtype(op, promoted);
  const bool trunc = *mode == "trunc";
  return Arithmetic(op, x, y, promoted, [&](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_same_v<T, bool>) {
      return p;
    } else if constexpr (std::is_floating_point_v<T>) {
      return trunc ? std::trunc(p / q) : FloorDivide(p, q);
    } else {
      if (q == 0) throw Error(LTC_ERROR_INVALID_ARGUMENT, op + ": integer division by zero");
      return trunc ? static_cast<T>(p / q) : FloorDivide(p, q);
    }
  });
}

template <bool kScalar>
std::vector<Tensor> Div(const KernelArgs& a) {
  Tensor other;
  const DLDataType dtype = SecondOperand(a, kScalar, &other);
  return One(DivImpl(a, a.tensor(0), other, dtype, std::nullopt));
}

template <bool kScalar>
std::vector<Tensor> DivMode(const KernelArgs& a) {
  Tensor other;
  const DLDataType dtype = SecondOperand(a, kScalar, &other);
  std::optional<std::string> mode;
  if (!a.is_none(2)) mode = a.string(2);
  return One(DivImpl(a, a.tensor(0), other, dtype, mode));
}

// Python's % (sign of the divisor) or C's fmod (sign of the dividend).
template <bool kPython>
Tensor ModImpl(const std::string& op, const Tensor& x, const Tensor& y, DLDataType dtype) {
  if (IsBool(dtype)) ThrowUnsupportedDtype(op, dtype);
  return Arithmetic(op, x, y, dtype, [&](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_same_v<T, bool>) {
      return p;
    } else if constexpr (std::is_floating_point_v<T>) {
      T m = std::fmod(p, q);
      if (kPython && m != 0 && ((q < 0) != (m < 0))) m += q;
      return m;
    } else {
      if (q == 0) throw Error(LTC_ERROR_INVALID_ARGUMENT, op + ": integer division by zero");
      T m = static_cast<T>(p % q);
      if (kPython && m != 0 && ((q < 0) != (m < 0))) m = static_cast<T>(m + q);
      return m;
    }
  });
}

template <bool kPython, bool kScalar>
std::vector<Tensor> Mod(const KernelArgs& a) {
  Tensor other;
  const DLDataType dtype = SecondOperand(a, kScalar, &other);
  return One(ModImpl<kPython>(a.op(), a.tensor(0), other, dtype));
}

template <typename T>
T PowOf(T base, T exp) {
  if constexpr (std::is_same_v<T, bool>) {
    return base || !exp;
  } else if constexpr (std::is_floating_point_v<T>) {
    return std::pow(base, exp);
  } else {
    // ATen's powi: negative exponents give 0 except for bases 1 and -1.
    if (exp < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exp % 2 == 0) ? 1 : -1;
      return 0;
    }
    T result = 1;
    while (exp) {
      if (exp & 1) result = static_cast<T>(result * base);
      exp = static_cast<T>(exp / 2);
      base = static_cast<T>(base * base);
    }
    return result;
  }
}

Tensor PowImpl(const std::string& op, const Tensor& x, const Tensor& y, DLDataType dtype) {
  return Arithmetic(op, x, y, dtype, [](auto p, auto q) { return PowOf(p, q); });
}

std::vector<Tensor> PowTensorTensor(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& y = a.tensor(1);
  return One(PowImpl(a.op(), x, y, ArithmeticType(a, x, y)));
}
std::vector<Tensor> PowTensorScalar(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Number e = a.number(1);
  const DLDataType dtype = ResultType(x, e);
  if (!e.is_floating && !e.is_bool && IsFloating(dtype) && (e.integer == 2 || e.integer == 1)) {
    // x * x, as ATen's pow special-cases small exponents.
    if (e.integer == 1) return One(x.To(dtype));
    const Tensor cx = x.To(dtype);
    return One(Arithmetic(a.op(), cx, cx, dtype, MulOp{}));
  }
  if (!e.is_floating && !IsFloating(dtype) && e.integer < 0 && !IsBool(dtype)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                a.op() + ": integers to negative integer powers are not allowed");
  }
  return One(PowImpl(a.op(), x, ScalarTensor(e, dtype), dtype));
}
std::vector<Tensor> PowScalar(const KernelArgs& a) {
  const Number base = a.number(0);
  const Tensor& e = a.tensor(1);
  const DLDataType dtype = ResultType(e, base);
  return One(PowImpl(a.op(), ScalarTensor(base, dtype), e, dtype));
}

// NaN-propagating maximum / minimum.
template <bool kMax>
std::vector<Tensor> MaxMin(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& y = a.tensor(1);
  return One(Arithmetic(a.op(), x, y, ResultType(x, y), [](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(p) || std::isnan(q)) return std::numeric_limits<T>::quiet_NaN();
    }
    return kMax ? (p > q ? p : q) : (p < q ? p : q);
  }));
}

std::vector<Tensor> Atan2(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& y = a.tensor(1);
  return One(Arithmetic(a.op(), x, y, FloatingOf(ResultType(x, y)), [](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_floating_point_v<T>) return std::atan2(p, q);
    else return p;
  }));
}

enum class Cmp { kEq, kNe, kLt, kLe, kGt, kGe };

template <Cmp kCmp, bool kScalar>
std::vector<Tensor> Comparison(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  Tensor other;
  if (kScalar) {
    const Number n = a.number(1);
    other = ScalarTensor(n, ResultType(x, n));
  } else {
    other = a.tensor(1);
  }
  return One(Compare(a.op(), x, other, [](auto p, auto q) {
    switch (kCmp) {
      case Cmp::kEq: return p == q;
      case Cmp::kNe: return p != q;
      case Cmp::kLt: return p < q;
      case Cmp::kLe: return p <= q;
      case Cmp::kGt: return p > q;
      case Cmp::kGe: return p >= q;
    }
    return false;
  }));
}

enum class Logic { kAnd, kOr, kXor };

template <Logic kLogic>
std::vector<Tensor> Logical(const KernelArgs& a) {
  return One(Compare(a.op(), a.tensor(0), a.tensor(1), [](auto p, auto q) {
    const bool x = p != decltype(p)(0), y = q != decltype(q)(0);
    switch (kLogic) {
      case Logic::kAnd: return x && y;
      case Logic::kOr: return x || y;
      case Logic::kXor: return x != y;
    }
    return false;
  }));
}

template <Logic kLogic, bool kScalar>
std::vector<Tensor> Bitwise(const KernelArgs& a) {
  Tensor other;
  const DLDataType dtype = SecondOperand(a, kScalar, &other);
  if (IsFloating(dtype)) ThrowUnsupportedDtype(a.op(), dtype);
  return One(Arithmetic(a.op(), a.tensor(0), other, dtype, [](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_floating_point_v<T>) {
      return p;
    } else if constexpr (std::is_same_v<T, bool>) {
      switch (kLogic) {
        case Logic::kAnd: return p && q;
        case Logic::kOr: return p || q;
        case Logic::kXor: return p != q;
      }
      return false;
    } else {
      switch (kLogic) {
        case Logic::kAnd: return static_cast<T>(p & q);
        case Logic::kOr: return static_cast<T>(p | q);
        case Logic::kXor: return static_cast<T>(p ^ q);
      }
      return T(0);
    }
  }));
}

// --- selection ---------------------------------------------------------------

Tensor WhereImpl(const std::string& op, const Tensor& cond, const Tensor& x, const Tensor& y,
                 DLDataType dtype) {
  const Tensor c = cond.To(kBool), cx = x.To(dtype), cy = y.To(dtype);
  return DispatchAll(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map3<bool, T, T, T>(op, c, cx, cy, dtype,
                               [](bool k, T p, T q) { return k ? p : q; });
  });
}

std::vector<Tensor> WhereSelf(const KernelArgs& a) {
  const Tensor& x = a.tensor(1);
  const Tensor& y = a.tensor(2);
  return One(WhereImpl(a.op(), a.tensor(0), x, y, ArithmeticType(a, x, y)));
}
std::vector<Tensor> WhereScalarOther(const KernelArgs& a) {
  const Tensor& x = a.tensor(1);
  const Number n = a.number(2);
  const DLDataType dtype = ResultType(x, n);
  return One(WhereImpl(a.op(), a.tensor(0), x, ScalarTensor(n, dtype), dtype));
}
std::vector<Tensor> WhereScalarSelf(const KernelArgs& a) {
  const Tensor& y = a.tensor(2);
  const Number n = a.number(1);
  const DLDataType dtype = ResultType(y, n);
  return One(WhereImpl(a.op(), a.tensor(0), ScalarTensor(n, dtype), y, dtype));
}

// The mask broadcasts to self, never the other way.
Tensor MaskedFillImpl(const KernelArgs& a, const Tensor& value) {
  const Tensor& x = a.tensor(0);
  const Tensor& mask = a.tensor(1);
  if (!IsBool(mask.dtype())) a.Fail(1, "the mask must be bool, got " + DtypeName(mask.dtype()));
  if (BroadcastShapes(x.shape(), mask.shape(), a.op()) != x.shape()) {
    a.Fail(1, "mask of shape " + ShapeString(mask.shape()) + " does not broadcast to " +
                  ShapeString(x.shape()));
  }
  const Tensor v = value.To(x.dtype());
  return WhereImpl(a.op(), mask, v, x, x.dtype());
}

std::vector<Tensor> MaskedFillScalar(const KernelArgs& a) {
  return One(MaskedFillImpl(a, ScalarTensor(a.number(2), a.tensor(0).dtype())));
}
std::vector<Tensor> MaskedFillTensor(const KernelArgs& a) {
  const Tensor& v = a.tensor(2);
  if (v.dim() != 0) a.Fail(2, "the value must be a 0-dim tensor");
  return One(MaskedFillImpl(a, v));
}

// min(max(x, lo), hi), NaN in x kept; lo above hi gives hi, as in torch.
std::vector<Tensor> Clamp(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const bool has_lo = !a.is_none(1), has_hi = !a.is_none(2);
  if (!has_lo && !has_hi) a.Fail(1, "at least one of min and max must be given");
  ResultTypeBuilder rt;
  rt.Add(x);
  Number lo, hi;
  if (has_lo) rt.Add(lo = a.number(1));
  if (has_hi) rt.Add(hi = a.number(2));
  const DLDataType dtype = rt.Get();
  const Tensor cx = x.To(dtype);
  return One(DispatchNumeric(dtype, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T l = NumberAs<T>(lo), h = NumberAs<T>(hi);
    return Map1<T, T>(cx, dtype, [&](T v) {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(v)) return v;
        if (has_lo && std::isnan(l)) return l;
        if (has_hi && std::isnan(h)) return h;
      }
      if (has_lo && v < l) v = l;
      if (has_hi && v > h) v = h;
      return v;
    });
  }));
}

template <bool kMin>
std::vector<Tensor> ClampOne(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Number bound = a.number(1);
  const DLDataType dtype = ResultType(x, bound);
  const Tensor cx = x.To(dtype);
  return One(DispatchNumeric(dtype, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T b = NumberAs<T>(bound);
    return Map1<T, T>(cx, dtype, [&](T v) {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(v)) return v;
        if (std::isnan(b)) return b;
      }
      return kMin ? (v < b ? b : v) : (v > b ? b : v);
    });
  }));
}

// clamp.Tensor: maximum with min, then minimum with max, like ATen.
std::vector<Tensor> ClampTensor(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::optional<Tensor> lo = a.optional_tensor(1), hi = a.optional_tensor(2);
  if (!lo && !hi) a.Fail(1, "at least one of min and max must be given");
  ResultTypeBuilder rt;
  rt.Add(x);
  if (lo) rt.Add(*lo);
  if (hi) rt.Add(*hi);
  const DLDataType dtype = rt.Get();
  auto nan_max = [](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(p) || std::isnan(q)) return std::numeric_limits<T>::quiet_NaN();
    }
    return p > q ? p : q;
  };
  auto nan_min = [](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(p) || std::isnan(q)) return std::numeric_limits<T>::quiet_NaN();
    }
    return p < q ? p : q;
  };
  Tensor out = x.To(dtype);
  if (lo) out = Arithmetic(a.op(), out, *lo, dtype, nan_max);
  if (hi) out = Arithmetic(a.op(), out, *hi, dtype, nan_min);
  return One(out);
}

// --- activations and their gradients -----------------------------------------

// f(grad, x) in the promoted floating dtype of the two.
template <typename F>
std::vector<Tensor> FloatBinary(const KernelArgs& a, const Tensor& g, const Tensor& x, F f) {
  const DLDataType dtype = ResultType(g, x);
  return One(Arithmetic(a.op(), g, x, dtype, [&](auto p, auto q) {
    using T = decltype(p);
    if constexpr (std::is_floating_point_v<T>) return f(p, q);
    else {
      ThrowUnsupportedDtype(a.op(), DtypeOf<T>());
      return p;
    }
  }));
}

std::vector<Tensor> Threshold(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Number th = a.number(1), value = a.number(2);
  return One(DispatchNumeric(x.dtype(), a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T t = NumberAs<T>(th), v = NumberAs<T>(value);
    return Map1<T, T>(x, x.dtype(), [&](T e) { return e <= t ? v : e; });
  }));
}

std::vector<Tensor> ThresholdBackward(const KernelArgs& a) {
  const Tensor& g = a.tensor(0);
  const Tensor& x = a.tensor(1);
  const Number th = a.number(2);
  const DLDataType dtype = ResultType(g, x);
  return One(Arithmetic(a.op(), g, x, dtype, [&](auto p, auto q) {
    using T = decltype(p);
    return q <= NumberAs<T>(th) ? T(0) : p;
  }));
}

std::vector<Tensor> Relu(const KernelArgs& a) {
  // Branch-free so that it vectorises; NaN (v != v) passes through.
  return SameUnary(a, [](auto v) {
    using T = decltype(v);
    return (v > T(0) || v != v) ? v : T(0);
  });
}

std::vector<Tensor> SigmoidBackward(const KernelArgs& a) {
  return FloatBinary(a, a.tensor(0), a.tensor(1),
                     [](auto g, auto y) { return g * (decltype(g)(1) - y) * y; });
}

std::vector<Tensor> TanhBackward(const KernelArgs& a) {
  return FloatBinary(a, a.tensor(0), a.tensor(1),
                     [](auto g, auto y) { return g * (decltype(g)(1) - y * y); });
}

std::vector<Tensor> LeakyRelu(const KernelArgs& a) {
  const double slope = a.floating(1);
  return FloatUnaryKeep(a, [slope](auto v) {
    using T = decltype(v);
    return v > T(0) ? v : static_cast<T>(v * static_cast<T>(slope));
  });
}

std::vector<Tensor> LeakyReluBackward(const KernelArgs& a) {
  const double slope = a.floating(2);
  return FloatBinary(a, a.tensor(0), a.tensor(1), [slope](auto g, auto x) {
    using T = decltype(g);
    return x > T(0) ? g : static_cast<T>(g * static_cast<T>(slope));
  });
}

bool TanhApproximation(const KernelArgs& a, size_t i) {
  const std::string& mode = a.string(i);
  if (mode == "none") return false;
  if (mode == "tanh") return true;
  a.Unsupported("approximate='" + mode + "'");
}

std::vector<Tensor> Gelu(const KernelArgs& a) {
  const bool tanh_approx = TanhApproximation(a, 1);
  return FloatUnaryKeep(a, [tanh_approx](auto x) {
    using T = decltype(x);
    if (tanh_approx) {
      const T beta = static_cast<T>(M_SQRT2 * M_2_SQRTPI * 0.5);
      const T kappa = static_cast<T>(0.044715);
      const T inner = beta * (x + kappa * x * x * x);
      return static_cast<T>(T(0.5) * x * (T(1) + std::tanh(inner)));
    }
    return static_cast<T>(x * T(0.5) * (T(1) + std::erf(x * static_cast<T>(M_SQRT1_2))));
  });
}

std::vector<Tensor> GeluBackward(const KernelArgs& a) {
  const bool tanh_approx = TanhApproximation(a, 2);
  return FloatBinary(a, a.tensor(0), a.tensor(1), [tanh_approx](auto g, auto x) {
    using T = decltype(g);
    if (tanh_approx) {
      const T beta = static_cast<T>(M_SQRT2 * M_2_SQRTPI * 0.5);
      const T kappa = static_cast<T>(0.044715);
      const T x_sq = x * x;
      const T inner = beta * (x + kappa * x_sq * x);
      const T tanh_inner = std::tanh(inner);
      const T left = T(0.5) * x;
      const T right = T(1) + tanh_inner;
      const T left_derivative = T(0.5) * right;
      const T right_derivative =
          left * (T(1) - tanh_inner * tanh_inner) * beta * (T(1) + T(3) * kappa * x_sq);
      return g * (left_derivative + right_derivative);
    }
    const T cdf = T(0.5) * (T(1) + std::erf(x * static_cast<T>(M_SQRT1_2)));
    const T pdf = std::exp(T(-0.5) * x * x) * static_cast<T>(M_2_SQRTPI * M_SQRT1_2 * 0.5);
    return g * (cdf + x * pdf);
  });
}

std::vector<Tensor> Hardtanh(const KernelArgs& a) {
  const Number lo = a.number(1), hi = a.number(2);
  return SameUnary(a, [&](auto v) {
    using T = decltype(v);
    const T l = NumberAs<T>(lo), h = NumberAs<T>(hi);
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(v)) return v;
    }
    return v < l ? l : (v > h ? h : v);
  });
}

std::vector<Tensor> HardtanhBackward(const KernelArgs& a) {
  const double lo = a.floating(2), hi = a.floating(3);
  return FloatBinary(a, a.tensor(0), a.tensor(1), [lo, hi](auto g, auto x) {
    using T = decltype(g);
    return (x <= static_cast<T>(lo) || x >= static_cast<T>(hi)) ? T(0) : g;
  });
}

std::vector<Tensor> Silu(const KernelArgs& a) {
  return FloatUnaryKeep(a, [](auto x) { return x / (decltype(x)(1) + std::exp(-x)); });
}

std::vector<Tensor> SiluBackward(const KernelArgs& a) {
  return FloatBinary(a, a.tensor(0), a.tensor(1), [](auto g, auto x) {
    using T = decltype(g);
    const T s = Sigmoid(x);
    return g * s * (T(1) + x * (T(1) - s));
  });
}

std::vector<Tensor> Elu(const KernelArgs& a) {
  const double alpha = a.floating(1), scale = a.floating(2), input_scale = a.floating(3);
  return FloatUnaryKeep(a, [=](auto x) {
    using T = decltype(x);
    const T negcoef = static_cast<T>(alpha * scale), poscoef = static_cast<T>(scale),
            negiptcoef = static_cast<T>(input_scale);
    return x <= T(0) ? static_cast<T>(std::expm1(x * negiptcoef) * negcoef) : x * poscoef;
  });
}

std::vector<Tensor> EluBackward(const KernelArgs& a) {
  const double alpha = a.floating(1), scale = a.floating(2), input_scale = a.floating(3);
  const bool is_result = a.boolean(4);
  return FloatBinary(a, a.tensor(0), a.tensor(5), [=](auto g, auto x) {
    using T = decltype(g);
    const T negcoef = static_cast<T>(alpha * scale), poscoef = static_cast<T>(scale),
            negiptcoef = static_cast<T>(input_scale);
    if (is_result) return x <= T(0) ? g * negiptcoef * (x + negcoef) : g * poscoef;
    return x <= T(0) ? g * negiptcoef * negcoef * std::exp(x * negiptcoef) : g * poscoef;
  });
}

// --- ternary -------------------------------------------------------------------

// self + value * f(t1, t2), broadcast across the three.
template <bool kDivide>
std::vector<Tensor> AddcOp(const KernelArgs& a) {
  const Tensor& self = a.tensor(0);
  const Tensor& t1 = a.tensor(1);
  const Tensor& t2 = a.tensor(2);
  const Number value = a.number(3);
  const DLDataType dtype = ResultTypeBuilder().Add(self).Add(t1).Add(t2).Get();
  if (kDivide && !IsFloating(dtype)) {
    a.Unsupported("addcdiv of integer tensors");
  }
  const Tensor cs = self.To(dtype), c1 = t1.To(dtype), c2 = t2.To(dtype);
  return One(DispatchNumeric(dtype, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = NumberAs<T>(value);
    return Map3<T, T, T, T>(a.op(), cs, c1, c2, dtype, [v](T s, T p, T q) {
      return static_cast<T>(kDivide ? s + v * (p / q) : s + v * p * q);
    });
  }));
}

template <bool kScalarWeight>
std::vector<Tensor> Lerp(const KernelArgs& a) {
  const Tensor& self = a.tensor(0);
  const Tensor& end = a.tensor(1);
  const DLDataType dtype = self.dtype();
  if (end.dtype() != dtype) a.Fail(1, "end must have self's dtype");
  Tensor weight = kScalarWeight ? ScalarTensor(a.number(2), dtype) : a.tensor(2).To(dtype);
  return One(DispatchFloating(dtype, a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return Map3<T, T, T, T>(a.op(), self, end, weight, dtype, [](T s, T e, T w) {
      return std::abs(w) < T(0.5) ? s + w * (e - s) : e - (e - s) * (T(1) - w);
    });
  }));
}

}  // namespace

void RegisterElementwiseKernels(KernelRegistry& r) {
  // Unary, computed in floating point.
  r.Add("aten::exp", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::exp(v); }); });
  r.Add("aten::exp2", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::exp2(v); }); });
  r.Add("aten::expm1", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::expm1(v); }); });
  r.Add("aten::log", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::log(v); }); });
  r.Add("aten::log1p", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::log1p(v); }); });
  r.Add("aten::log2", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::log2(v); }); });
  r.Add("aten::log10", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::log10(v); }); });
  r.Add("aten::sqrt", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::sqrt(v); }); });
  r.Add("aten::rsqrt", [](const KernelArgs& a) {
    return FloatUnary(a, [](auto v) { return decltype(v)(1) / std::sqrt(v); });
  });
  r.Add("aten::sin", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::sin(v); }); });
  r.Add("aten::cos", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::cos(v); }); });
  r.Add("aten::tan", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::tan(v); }); });
  r.Add("aten::asin", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::asin(v); }); });
  r.Add("aten::acos", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::acos(v); }); });
  r.Add("aten::atan", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::atan(v); }); });
  r.Add("aten::sinh", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::sinh(v); }); });
  r.Add("aten::cosh", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::cosh(v); }); });
  r.Add("aten::tanh", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::tanh(v); }); });
  r.Add("aten::erf", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return std::erf(v); }); });
  r.Add("aten::sigmoid", [](const KernelArgs& a) { return FloatUnary(a, [](auto v) { return Sigmoid(v); }); });
  r.Add("aten::reciprocal", [](const KernelArgs& a) {
    return FloatUnary(a, [](auto v) { return decltype(v)(1) / v; });
  });
  // Unary, keeping the dtype.
  r.Add("aten::neg", [](const KernelArgs& a) {
    return SameUnary(a, [](auto v) { return static_cast<decltype(v)>(-v); });
  });
  r.Add("aten::abs", [](const KernelArgs& a) {
    return SameUnary(a, [](auto v) {
      using T = decltype(v);
      if constexpr (std::is_unsigned_v<T>) return v;
      else return static_cast<T>(v < T(0) ? -v : (v == T(0) ? T(0) : v));
    });
  });
  r.Add("aten::sign", [](const KernelArgs& a) {
    return SameUnary(a, [](auto v) {
      using T = decltype(v);
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(v)) return v;
      }
      return static_cast<T>((T(0) < v) - (v < T(0)));
    });
  });
  r.Add("aten::square", [](const KernelArgs& a) {
    return SameUnary(a, [](auto v) { return static_cast<decltype(v)>(v * v); });
  });
  r.Add("aten::relu", Relu);
  r.Add("aten::floor", [](const KernelArgs& a) { return RoundingUnary(a, [](auto v) { return std::floor(v); }); });
  r.Add("aten::ceil", [](const KernelArgs& a) { return RoundingUnary(a, [](auto v) { return std::ceil(v); }); });
  r.Add("aten::trunc", [](const KernelArgs& a) { return RoundingUnary(a, [](auto v) { return std::trunc(v); }); });
  // Half to even, as torch.round.
  r.Add("aten::round", [](const KernelArgs& a) { return RoundingUnary(a, [](auto v) { return std::nearbyint(v); }); });
  r.Add("aten::frac", [](const KernelArgs& a) {
    return FloatUnaryKeep(a, [](auto v) { return v - std::trunc(v); });
  });
  r.Add("aten::logical_not", [](const KernelArgs& a) {
    return PredicateUnary(a, [](auto v) { return v == decltype(v)(0); });
  });
  r.Add("aten::isnan", [](const KernelArgs& a) {
    return PredicateUnary(a, [](auto v) {
      if constexpr (std::is_floating_point_v<decltype(v)>) return std::isnan(v);
      else return false;
    });
  });
  r.Add("aten::isinf", [](const KernelArgs& a) {
    return PredicateUnary(a, [](auto v) {
      if constexpr (std::is_floating_point_v<decltype(v)>) return std::isinf(v);
      else return false;
    });
  });
  r.Add("aten::isfinite", [](const KernelArgs& a) {
    return PredicateUnary(a, [](auto v) {
      if constexpr (std::is_floating_point_v<decltype(v)>) return std::isfinite(v);
      else return true;
    });
  });
  r.Add("aten::bitwise_not", [](const KernelArgs& a) {
    const Tensor& x = a.tensor(0);
    if (IsFloating(x.dtype())) ThrowUnsupportedDtype(a.op(), x.dtype());
    return One(DispatchAll(x.dtype(), a.op(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      return Map1<T, T>(x, x.dtype(), [](T v) {
        if constexpr (std::is_same_v<T, bool>) return !v;
        else if constexpr (std::is_floating_point_v<T>) return v;
        else return static_cast<T>(~v);
      });
    }));
  });

  // Binary arithmetic.
  r.Add("aten::add.Tensor", AddTensor);
  r.Add("aten::add.Scalar", AddScalar);
  r.Add("aten::sub.Tensor", SubTensor);
  r.Add("aten::sub.Scalar", SubScalar);
  r.Add("aten::rsub.Tensor", RsubTensor);
  r.Add("aten::rsub.Scalar", RsubScalar);
  r.Add("aten::mul.Tensor", Mul<false>);
  r.Add("aten::mul.Scalar", Mul<true>);
  r.Add("aten::div.Tensor", Div<false>);
  r.Add("aten::div.Scalar", Div<true>);
  r.Add("aten::div.Tensor_mode", DivMode<false>);
  r.Add("aten::div.Scalar_mode", DivMode<true>);
  r.Add("aten::remainder.Tensor", Mod<true, false>);
  r.Add("aten::remainder.Scalar", Mod<true, true>);
  r.Add("aten::fmod.Tensor", Mod<false, false>);
  r.Add("aten::fmod.Scalar", Mod<false, true>);
  r.Add("aten::pow.Tensor_Tensor", PowTensorTensor);
  r.Add("aten::pow.Tensor_Scalar", PowTensorScalar);
  r.Add("aten::pow.Scalar", PowScalar);
  r.Add("aten::maximum", MaxMin<true>);
  r.Add("aten::minimum", MaxMin<false>);
  r.Add("aten::max.other", MaxMin<true>);
  r.Add("aten::min.other", MaxMin<false>);
  r.Add("aten::atan2", Atan2);

  // Comparisons and logic.
  r.Add("aten::eq.Tensor", Comparison<Cmp::kEq, false>);
  r.Add("aten::eq.Scalar", Comparison<Cmp::kEq, true>);
  r.Add("aten::ne.Tensor", Comparison<Cmp::kNe, false>);
  r.Add("aten::ne.Scalar", Comparison<Cmp::kNe, true>);
  r.Add("aten::lt.Tensor", Comparison<Cmp::kLt, false>);
  r.Add("aten::lt.Scalar", Comparison<Cmp::kLt, true>);
  r.Add("aten::le.Tensor", Comparison<Cmp::kLe, false>);
  r.Add("aten::le.Scalar", Comparison<Cmp::kLe, true>);
  r.Add("aten::gt.Tensor", Comparison<Cmp::kGt, false>);
  r.Add("aten::gt.Scalar", Comparison<Cmp::kGt, true>);
  r.Add("aten::ge.Tensor", Comparison<Cmp::kGe, false>);
  r.Add("aten::ge.Scalar", Comparison<Cmp::kGe, true>);
  r.Add("aten::logical_and", Logical<Logic::kAnd>);
  r.Add("aten::logical_or", Logical<Logic::kOr>);
  r.Add("aten::logical_xor", Logical<Logic::kXor>);
  r.Add("aten::bitwise_and.Tensor", Bitwise<Logic::kAnd, false>);
  r.Add("aten::bitwise_and.Scalar", Bitwise<Logic::kAnd, true>);
  r.Add("aten::bitwise_or.Tensor", Bitwise<Logic::kOr, false>);
  r.Add("aten::bitwise_or.Scalar", Bitwise<Logic::kOr, true>);
  r.Add("aten::bitwise_xor.Tensor", Bitwise<Logic::kXor, false>);
  r.Add("aten::bitwise_xor.Scalar", Bitwise<Logic::kXor, true>);

  // Selection.
  r.Add("aten::where.self", WhereSelf);
  r.Add("aten::where.ScalarOther", WhereScalarOther);
  r.Add("aten::where.ScalarSelf", WhereScalarSelf);
  r.Add("aten::masked_fill.Scalar", MaskedFillScalar);
  r.Add("aten::masked_fill.Tensor", MaskedFillTensor);
  r.Add("aten::clamp", Clamp);
  r.Add("aten::clamp.Tensor", ClampTensor);
  r.Add("aten::clamp_min", ClampOne<true>);
  r.Add("aten::clamp_max", ClampOne<false>);

  // Activations and their gradients.
  r.Add("aten::threshold", Threshold);
  r.Add("aten::threshold_backward", ThresholdBackward);
  r.Add("aten::sigmoid_backward", SigmoidBackward);
  r.Add("aten::tanh_backward", TanhBackward);
  r.Add("aten::leaky_relu", LeakyRelu);
  r.Add("aten::leaky_relu_backward", LeakyReluBackward);
  r.Add("aten::gelu", Gelu);
  r.Add("aten::gelu_backward", GeluBackward);
  r.Add("aten::hardtanh", Hardtanh);
  r.Add("aten::hardtanh_backward", HardtanhBackward);
  r.Add("aten::silu", Silu);
  r.Add("aten::silu_backward", SiluBackward);
  r.Add("aten::elu", Elu);
  r.Add("aten::elu_backward", EluBackward);

  r.Add("aten::addcmul", AddcOp<false>);
  r.Add("aten::addcdiv", AddcOp<true>);
  r.Add("aten::lerp.Scalar", Lerp<true>);
  r.Add("aten::lerp.Tensor", Lerp<false>);
}

}  // namespace ltc::ref_cpu
