#include "dispatch.h"

#include <algorithm>
#include <cstring>

namespace ltc::ref_cpu {

namespace {

// bool < integers < floats, as c10's categories.
int Category(DLDataType d) {
  if (IsBool(d)) return 0;
  if (IsIntegral(d)) return 1;
  return 2;
}

// c10's combine_categories: `higher` is the dtype of the group that takes
// precedence; a lower group only counts when its category is higher.
DLDataType CombineCategories(bool has_higher, DLDataType higher, bool has_lower,
                             DLDataType lower, bool* has_result) {
  *has_result = has_higher || has_lower;
  if (!has_higher) return lower;
  if (!has_lower) return higher;
  if (Category(higher) == 2) return higher;
  if (IsBool(higher) || Category(lower) == 2) return PromoteTypes(higher, lower);
  return higher;
}

}  // namespace

bool IsSupportedDtype(DLDataType d) {
  if (d.lanes != 1) return false;
  switch (d.code) {
    case kDLFloat: return d.bits == 32 || d.bits == 64;
    case kDLInt: return d.bits == 8 || d.bits == 16 || d.bits == 32 || d.bits == 64;
    case kDLUInt: return d.bits == 8;
    case LTC_DL_BOOL_CODE: return d.bits == 8;
    default: return false;
  }
}

DLDataType PromoteTypes(DLDataType a, DLDataType b) {
  if (a == b) return a;
  if (IsBool(a)) return b;
  if (IsBool(b)) return a;
  const bool fa = IsFloating(a), fb = IsFloating(b);
  if (fa && fb) {
    // float16 with bfloat16 is float32 in c10.
    if (a.bits == b.bits) return kFloat32;
    return a.bits > b.bits ? a : b;
  }
  if (fa) return a;
  if (fb) return b;
  if (a.code == b.code) return a.bits > b.bits ? a : b;
  // One signed, one unsigned (uint8): the signed one if wider, else int16.
  const DLDataType s = a.code == kDLInt ? a : b;
  const DLDataType u = a.code == kDLInt ? b : a;
  if (s.bits > u.bits) return s;
  return DLDataType{kDLInt, static_cast<uint8_t>(std::min(64, u.bits * 2)), 1};
}

ResultTypeBuilder& ResultTypeBuilder::Add(const Tensor& tensor) {
  bool& has = tensor.dim() == 0 ? has_zero_ : has_dim_;
  DLDataType& d = tensor.dim() == 0 ? zero_ : dim_;
  d = has ? PromoteTypes(d, tensor.dtype()) : tensor.dtype();
  has = true;
  return *this;
}

ResultTypeBuilder& ResultTypeBuilder::Add(const Number& number) {
  const DLDataType d = number.is_floating ? kFloat32 : number.is_bool ? kBool : kInt64;
  number_ = has_number_ ? PromoteTypes(number_, d) : d;
  has_number_ = true;
  return *this;
}

DLDataType ResultTypeBuilder::Get() const {
  bool has_lower = false, has_result = false;
  const DLDataType lower =
      CombineCategories(has_zero_, zero_, has_number_, number_, &has_lower);
  const DLDataType result = CombineCategories(has_dim_, dim_, has_lower, lower, &has_result);
  if (!has_result) throw plugin::Error(LTC_ERROR_INTERNAL, "result type of no operands");
  return result;
}

DLDataType NumberDtype(const Number& number) {
  return number.is_floating ? kFloat32 : number.is_bool ? kBool : kInt64;
}

int64_t WrapDim(int64_t d, int64_t rank, const std::string& op) {
  const int64_t r = std::max<int64_t>(rank, 1);
  if (d < -r || d >= r) {
    throw plugin::Error(LTC_ERROR_INVALID_ARGUMENT,
                        op + ": dimension " + std::to_string(d) + " out of range for rank " +
                            std::to_string(rank));
  }
  return d < 0 ? d + r : d;
}

std::vector<int64_t> BroadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                     const std::string& op) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw plugin::Error(LTC_ERROR_INVALID_ARGUMENT,
                          op + ": shapes " + ShapeString(a) + " and " + ShapeString(b) +
                              " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& shape,
                                      const std::vector<int64_t>& out_shape) {
  const std::vector<int64_t> own = ContiguousStrides(shape);
  std::vector<int64_t> strides(out_shape.size(), 0);
  const size_t lead = out_shape.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    strides[lead + i] = shape[i] == 1 ? 0 : own[i];
  }
  return strides;
}

namespace {

// out[c][r] = in[r * ld + c] for a [rows, cols] block, in tiles that keep
// both sides in cache.
template <typename U>
void Transpose(const U* in, U* out, int64_t rows, int64_t cols, int64_t in_row_stride,
               int64_t out_row_stride) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c) {
        for (int64_t r = r0; r < r1; ++r) out[c * out_row_stride + r] = in[r * in_row_stride + c];
      }
    }
  }
}

template <typename U>
void GatherElements(const U* src, U* dst, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& strides) {
  const size_t rank = shape.size();
  // [.., A, B] read with strides (.., 1, A): batched transposes.
  if (rank >= 2 && strides[rank - 2] == 1 && strides[rank - 1] == shape[rank - 2]) {
    const int64_t rows = shape[rank - 2], cols = shape[rank - 1];
    const std::vector<int64_t> outer(shape.begin(), shape.end() - 2);
    const std::array<std::vector<int64_t>, 1> outer_strides{
        std::vector<int64_t>(strides.begin(), strides.end() - 2)};
    if (outer.empty()) {
      Transpose(src, dst, cols, rows, rows, cols);
      return;
    }
    ForEachBroadcast<1>(outer, outer_strides, [&](int64_t i, const std::array<int64_t, 1>& off) {
      Transpose(src + off[0], dst + i * rows * cols, cols, rows, rows, cols);
    });
    return;
  }
  const std::array<std::vector<int64_t>, 1> s{strides};
  ForEachRow<1>(shape, s, [&](int64_t at, const std::array<int64_t, 1>& off,
                              const std::array<int64_t, 1>& step, int64_t len) {
    const U* x = src + off[0];
    U* z = dst + at;
    if (step[0] == 1) {
      std::copy(x, x + len, z);
    } else {
      for (int64_t j = 0; j < len; ++j) z[j] = x[j * step[0]];
    }
  });
}

}  // namespace

Tensor BroadcastCopy(const Tensor& src, const std::vector<int64_t>& shape, DLDataType dtype) {
  const Tensor s = src.To(dtype);
  if (s.shape() != shape) return GatherStrided(s, shape, BroadcastStrides(s.shape(), shape), 0);
  // To() returns `src` itself where the dtype matches: copy it.
  Tensor out = Tensor::Empty(dtype, shape);
  if (s.nbytes() != 0) std::memcpy(out.mutable_raw(), s.raw(), s.nbytes());
  return out;
}

Tensor GatherStrided(const Tensor& in, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& strides, int64_t offset) {
  Tensor out = Tensor::Empty(in.dtype(), shape);
  if (out.numel() == 0) return out;
  switch (in.dtype().bits) {
    case 8: GatherElements(in.data<uint8_t>() + offset, out.mutable_data<uint8_t>(), shape, strides); break;
    case 16: GatherElements(in.data<uint16_t>() + offset, out.mutable_data<uint16_t>(), shape, strides); break;
    case 32: GatherElements(in.data<uint32_t>() + offset, out.mutable_data<uint32_t>(), shape, strides); break;
    case 64: GatherElements(in.data<uint64_t>() + offset, out.mutable_data<uint64_t>(), shape, strides); break;
    default: ThrowUnsupportedDtype("copy", in.dtype());
  }
  return out;
}

}  // namespace ltc::ref_cpu
