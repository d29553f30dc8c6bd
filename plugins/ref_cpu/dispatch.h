// What every kernel family shares: calling a generic body with the C++
// element type of a dtype, PyTorch's type promotion, and broadcasting.
#pragma once

#include "kernel.h"
#include "tensor.h"

#include <ltc/plugin_adapter.h>

#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace ltc::ref_cpu {

template <typename T>
struct TypeTag {
  using type = T;
};

[[noreturn]] inline void ThrowUnsupportedDtype(const std::string& op, DLDataType dtype) {
  throw plugin::Error(LTC_ERROR_UNIMPLEMENTED,
                      op + ": dtype " + DtypeName(dtype) + " is not supported");
}

inline bool IsFloating(DLDataType d) { return d.code == kDLFloat || d.code == kDLBfloat; }
inline bool IsBool(DLDataType d) { return d.code == LTC_DL_BOOL_CODE; }
// Integer types, bool excluded.
inline bool IsIntegral(DLDataType d) { return d.code == kDLInt || d.code == kDLUInt; }

// Whether ref_cpu holds tensors of `dtype`: those DispatchAll knows.
bool IsSupportedDtype(DLDataType dtype);

// f(TypeTag<T>{}) for T the element type of `dtype`: float, double, int64_t,
// int32_t, int16_t, int8_t, uint8_t or bool.
template <typename F>
decltype(auto) DispatchAll(DLDataType dtype, const std::string& op, F&& f) {
  if (dtype.lanes == 1) {
    switch (dtype.code) {
      case kDLFloat:
        if (dtype.bits == 32) return f(TypeTag<float>{});
        if (dtype.bits == 64) return f(TypeTag<double>{});
        break;
      case kDLInt:
        if (dtype.bits == 64) return f(TypeTag<int64_t>{});
        if (dtype.bits == 32) return f(TypeTag<int32_t>{});
        if (dtype.bits == 16) return f(TypeTag<int16_t>{});
        if (dtype.bits == 8) return f(TypeTag<int8_t>{});
        break;
      case kDLUInt:
        if (dtype.bits == 8) return f(TypeTag<uint8_t>{});
        break;
      case LTC_DL_BOOL_CODE:
        if (dtype.bits == 8) return f(TypeTag<bool>{});
        break;
      default:
        break;
    }
  }
  ThrowUnsupportedDtype(op, dtype);
}

// As DispatchAll, without bool (arithmetic that torch refuses on bool).
template <typename F>
decltype(auto) DispatchNumeric(DLDataType dtype, const std::string& op, F&& f) {
  if (IsBool(dtype)) ThrowUnsupportedDtype(op, dtype);
  return DispatchAll(dtype, op, std::forward<F>(f));
}

// float or double only.
template <typename F>
decltype(auto) DispatchFloating(DLDataType dtype, const std::string& op, F&& f) {
  if (dtype == kFloat32) return f(TypeTag<float>{});
  if (dtype == kFloat64) return f(TypeTag<double>{});
  ThrowUnsupportedDtype(op, dtype);
}

// The C++ type's dtype (the inverse of the dispatchers).
template <typename T>
constexpr DLDataType DtypeOf() {
  if constexpr (std::is_same_v<T, bool>) return kBool;
  else if constexpr (std::is_same_v<T, float>) return kFloat32;
  else if constexpr (std::is_same_v<T, double>) return kFloat64;
  else if constexpr (std::is_same_v<T, int64_t>) return kInt64;
  else if constexpr (std::is_same_v<T, int32_t>) return kInt32;
  else if constexpr (std::is_same_v<T, int16_t>) return DLDataType{kDLInt, 16, 1};
  else if constexpr (std::is_same_v<T, int8_t>) return kInt8;
  else if constexpr (std::is_same_v<T, uint8_t>) return kUInt8;
  else static_assert(!sizeof(T), "no dtype for this type");
}

// Converts like a C++ static_cast, except that a number becomes a bool by
// being non-zero (as torch does).
template <typename To, typename From>
inline To Convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From(0);
  else return static_cast<To>(v);
}

// c10::promoteTypes for the dtypes ref_cpu runs: bool < integers < floats;
// uint8 with int8 is int16.
DLDataType PromoteTypes(DLDataType a, DLDataType b);

// torch.result_type: dimensioned tensors take precedence over 0-dim tensors,
// which take precedence over numbers, unless a lower group is of a higher
// category (bool < integer < floating). A floating number counts as the
// default dtype (float32), an integer as int64, a boolean as bool.
class ResultTypeBuilder {
 public:
  ResultTypeBuilder& Add(const Tensor& tensor);
  ResultTypeBuilder& Add(const Number& number);
  // Throws Error(LTC_ERROR_INTERNAL) when nothing was added.
  DLDataType Get() const;

 private:
  bool has_dim_ = false, has_zero_ = false, has_number_ = false;
  DLDataType dim_{}, zero_{}, number_{};
};

inline DLDataType ResultType(const Tensor& a, const Tensor& b) {
  return ResultTypeBuilder().Add(a).Add(b).Get();
}
inline DLDataType ResultType(const Tensor& a, const Number& b) {
  return ResultTypeBuilder().Add(a).Add(b).Get();
}

// The dtype torch gives a number literal on its own (scalar_tensor, full).
DLDataType NumberDtype(const Number& number);

// A dimension index `d` in [-rank, rank) made non-negative; INVALID_ARGUMENT
// naming `op` otherwise. A rank of 0 accepts -1 and 0 like torch.
int64_t WrapDim(int64_t d, int64_t rank, const std::string& op);

// numpy-style broadcast of two shapes; INVALID_ARGUMENT naming `op` when
// they do not broadcast.
std::vector<int64_t> BroadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                     const std::string& op);

// Strides (in elements) for reading a contiguous tensor of `shape` as if it
// had `out_shape` (which it broadcasts to): 0 along broadcast dimensions.
std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& shape,
                                      const std::vector<int64_t>& out_shape);

// Visits every element of `out_shape` in row-major order, calling
// f(out_index, offsets) where offsets[k] is the element offset in input k,
// whose strides (one per output dimension, as from BroadcastStrides) are
// strides[k]. Inputs whose shape equals out_shape take a plain loop.
template <size_t N, typename F>
void ForEachBroadcast(const std::vector<int64_t>& out_shape,
                      const std::array<std::vector<int64_t>, N>& strides, F&& f) {
  const int64_t numel = Numel(out_shape);
  if (numel == 0) return;
  const std::vector<int64_t> contiguous = ContiguousStrides(out_shape);
  bool all_contiguous = true;
  for (const auto& s : strides) {
    for (size_t d = 0; d < out_shape.size(); ++d) {
      if (out_shape[d] != 1 && s[d] != contiguous[d]) all_contiguous = false;
    }
  }
  std::array<int64_t, N> offsets{};
  if (all_contiguous) {
    for (int64_t i = 0; i < numel; ++i) {
      offsets.fill(i);
      f(i, offsets);
    }
    return;
  }
  const size_t rank = out_shape.size();
  const int64_t inner = rank == 0 ? 1 : out_shape[rank - 1];
  std::array<int64_t, N> inner_strides{};
  for (size_t k = 0; k < N; ++k) inner_strides[k] = rank == 0 ? 0 : strides[k][rank - 1];
  std::vector<int64_t> index(rank, 0);
  std::array<int64_t, N> base{};
  for (int64_t out = 0; out < numel;) {
    for (int64_t j = 0; j < inner; ++j, ++out) {
      for (size_t k = 0; k < N; ++k) offsets[k] = base[k] + j * inner_strides[k];
      f(out, offsets);
    }
    // Carry into the outer dimensions.
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      ++index[d];
      for (size_t k = 0; k < N; ++k) base[k] += strides[k][d];
      if (index[d] < out_shape[d]) break;
      for (size_t k = 0; k < N; ++k) base[k] -= strides[k][d] * out_shape[d];
      index[d] = 0;
    }
  }
}

// Visits `out_shape` one innermost row at a time: f(out_offset, offsets,
// inner_strides, length), where element j of the row is at offsets[k] + j *
// inner_strides[k] in input k. Lets kernels run tight inner loops.
template <size_t N, typename F>
void ForEachRow(const std::vector<int64_t>& out_shape,
                const std::array<std::vector<int64_t>, N>& strides, F&& f) {
  const size_t rank = out_shape.size();
  std::array<int64_t, N> inner{};
  if (rank == 0) {
    f(int64_t{0}, std::array<int64_t, N>{}, inner, int64_t{1});
    return;
  }
  if (Numel(out_shape) == 0) return;
  for (size_t k = 0; k < N; ++k) inner[k] = strides[k][rank - 1];
  const int64_t len = out_shape[rank - 1];
  const int64_t rows = Numel(out_shape) / len;
  std::vector<int64_t> index(rank, 0);
  std::array<int64_t, N> base{};
  for (int64_t r = 0; r < rows; ++r) {
    f(r * len, base, inner, len);
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      ++index[d];
      for (size_t k = 0; k < N; ++k) base[k] += strides[k][d];
      if (index[d] < out_shape[d]) break;
      for (size_t k = 0; k < N; ++k) base[k] -= strides[k][d] * out_shape[d];
      index[d] = 0;
    }
  }
}

// out[i] = f(x[i]): `x` holds T, the result R (of dtype `out_dtype`).
template <typename T, typename R, typename F>
Tensor Map1(const Tensor& x, DLDataType out_dtype, F&& f) {
  Tensor out = Tensor::Empty(out_dtype, x.shape());
  const T* in = x.data<T>();
  R* o = out.mutable_data<R>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<R>(f(in[i]));
  return out;
}

// out = f(a, b) broadcast: `a` and `b` hold T (convert them first).
template <typename T, typename R, typename F>
Tensor Map2(const std::string& op, const Tensor& a, const Tensor& b, DLDataType out_dtype,
            F&& f) {
  std::vector<int64_t> shape = BroadcastShapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::Empty(out_dtype, shape);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* o = out.mutable_data<R>();
  const int64_t n = out.numel();
  // The common cases without index arithmetic: same shapes, or one side a
  // single element.
  if (a.shape() == shape && b.shape() == shape) {
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<R>(f(pa[i], pb[i]));
    return out;
  }
  if (a.shape() == shape && b.numel() == 1) {
    const T y = pb[0];
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<R>(f(pa[i], y));
    return out;
  }
  if (b.shape() == shape && a.numel() == 1) {
    const T x = pa[0];
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<R>(f(x, pb[i]));
    return out;
  }
  const std::array<std::vector<int64_t>, 2> strides{BroadcastStrides(a.shape(), shape),
                                                    BroadcastStrides(b.shape(), shape)};
  ForEachRow<2>(shape, strides,
                [&](int64_t at, const std::array<int64_t, 2>& off,
                    const std::array<int64_t, 2>& step, int64_t len) {
                  const T* x = pa + off[0];
                  const T* y = pb + off[1];
                  R* z = o + at;
                  if (step[0] == 1 && step[1] == 1) {
                    for (int64_t j = 0; j < len; ++j) z[j] = static_cast<R>(f(x[j], y[j]));
                  } else if (step[0] == 1 && step[1] == 0) {
                    const T yv = *y;
                    for (int64_t j = 0; j < len; ++j) z[j] = static_cast<R>(f(x[j], yv));
                  } else if (step[0] == 0 && step[1] == 1) {
                    const T xv = *x;
                    for (int64_t j = 0; j < len; ++j) z[j] = static_cast<R>(f(xv, y[j]));
                  } else {
                    for (int64_t j = 0; j < len; ++j) {
                      z[j] = static_cast<R>(f(x[j * step[0]], y[j * step[1]]));
                    }
                  }
                });
  return out;
}

// out = f(a, b, c) broadcast across the three; each holds its own type.
template <typename A, typename B, typename C, typename R, typename F>
Tensor Map3(const std::string& op, const Tensor& a, const Tensor& b, const Tensor& c,
            DLDataType out_dtype, F&& f) {
  std::vector<int64_t> shape =
      BroadcastShapes(BroadcastShapes(a.shape(), b.shape(), op), c.shape(), op);
  Tensor out = Tensor::Empty(out_dtype, shape);
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  const C* pc = c.data<C>();
  R* o = out.mutable_data<R>();
  const std::array<std::vector<int64_t>, 3> strides{BroadcastStrides(a.shape(), shape),
                                                    BroadcastStrides(b.shape(), shape),
                                                    BroadcastStrides(c.shape(), shape)};
  ForEachRow<3>(shape, strides,
                [&](int64_t at, const std::array<int64_t, 3>& off,
                    const std::array<int64_t, 3>& step, int64_t len) {
                  const A* x = pa + off[0];
                  const B* y = pb + off[1];
                  const C* w = pc + off[2];
                  R* z = o + at;
                  if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
                    for (int64_t j = 0; j < len; ++j) z[j] = static_cast<R>(f(x[j], y[j], w[j]));
                  } else {
                    for (int64_t j = 0; j < len; ++j) {
                      z[j] = static_cast<R>(f(x[j * step[0]], y[j * step[1]], w[j * step[2]]));
                    }
                  }
                });
  return out;
}

// `src` converted to `dtype` and broadcast to `shape` (which its shape
// broadcasts to), as a new tensor.
Tensor BroadcastCopy(const Tensor& src, const std::vector<int64_t>& shape, DLDataType dtype);

// The elements of contiguous `in` at `offset` + sum(index[d] * strides[d])
// for every index of `shape`, as a new contiguous tensor: how every view
// op copies. Transposes take a cache-blocked path.
Tensor GatherStrided(const Tensor& in, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& strides, int64_t offset);

}  // namespace ltc::ref_cpu
