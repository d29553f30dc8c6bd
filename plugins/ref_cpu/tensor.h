// ref_cpu's tensors: dense, row-major, contiguous, immutable once a kernel
// has returned them. Every op makes a new tensor (views are copies), so a
// tensor's bytes may be shared (with the host too, through DLPack) without
// anyone ever seeing them change.
#pragma once

#include <dlpack/dlpack.h>
#include <ltc/plugin_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ltc::ref_cpu {

inline constexpr DLDataType kFloat32{kDLFloat, 32, 1};
inline constexpr DLDataType kFloat64{kDLFloat, 64, 1};
inline constexpr DLDataType kInt32{kDLInt, 32, 1};
inline constexpr DLDataType kInt64{kDLInt, 64, 1};
inline constexpr DLDataType kUInt8{kDLUInt, 8, 1};
inline constexpr DLDataType kInt8{kDLInt, 8, 1};
inline constexpr DLDataType kBool{LTC_DL_BOOL_CODE, 8, 1};

inline bool operator==(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}
inline bool operator!=(DLDataType a, DLDataType b) { return !(a == b); }

// "float32", "int64", "bool": for messages.
std::string DtypeName(DLDataType dtype);
// "[2, 3]": for messages.
std::string ShapeString(const std::vector<int64_t>& shape);

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised elements.
  static Tensor Empty(DLDataType dtype, std::vector<int64_t> shape);
  // Every element zero (false).
  static Tensor Zeros(DLDataType dtype, std::vector<int64_t> shape);
  // A 0-dim tensor holding `value` converted to `dtype`.
  static Tensor Full(DLDataType dtype, std::vector<int64_t> shape, double value);
  // Shares `bytes` (row-major contiguous elements of `dtype` and `shape`),
  // kept alive by `owner`: zero-copy import of a host tensor.
  static Tensor Borrow(DLDataType dtype, std::vector<int64_t> shape, void* bytes,
                       std::shared_ptr<void> owner);

  bool defined() const { return owner_ != nullptr; }
  DLDataType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  // Size of dimension `d`; a negative `d` counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * (dtype_.bits / 8); }

  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }
  // Only for the kernel that created the tensor, before it returns it.
  template <typename T>
  T* mutable_data() const { return static_cast<T*>(data_); }
  const void* raw() const { return data_; }
  void* mutable_raw() const { return data_; }

  // The first element as a double or int64 (for 0-dim and scalar values).
  double item_double() const;
  int64_t item_int() const;

  // A copy of the same elements under another shape of equal numel.
  Tensor Reshaped(std::vector<int64_t> shape) const;
  // Elements converted to `dtype` (a copy, or *this when it is already).
  Tensor To(DLDataType dtype) const;

  // What keeps the bytes alive, for DLPack export.
  const std::shared_ptr<void>& owner() const { return owner_; }

 private:
  DLDataType dtype_{kDLFloat, 32, 1};
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

// Row-major strides (in elements) of a contiguous tensor of `shape`.
std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape);
int64_t Numel(const std::vector<int64_t>& shape);

}  // namespace ltc::ref_cpu
