#include "tensor.h"

#include "dispatch.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace ltc::ref_cpu {

std::string DtypeName(DLDataType dtype) {
  std::string base;
  switch (dtype.code) {
    case kDLFloat: base = "float"; break;
    case kDLInt: base = "int"; break;
    case kDLUInt: base = "uint"; break;
    case kDLBfloat: base = "bfloat"; break;
    case kDLComplex: base = "complex"; break;
    case LTC_DL_BOOL_CODE:
      if (dtype.bits == 8 && dtype.lanes == 1) return "bool";
      base = "bool";
      break;
    default: base = "code" + std::to_string(dtype.code) + "_"; break;
  }
  std::string name = base + std::to_string(dtype.bits);
  if (dtype.lanes != 1) name += "x" + std::to_string(dtype.lanes);
  return name;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d) {
    strides[d] = strides[d + 1] * shape[d + 1];
  }
  return strides;
}

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

namespace {

// Plain malloc (16-byte aligned): glibc then serves a training step's
// repeated large sizes from its heap instead of fresh, page-faulting mmaps,
// which aligned_alloc's padding would defeat.
std::shared_ptr<void> Allocate(size_t bytes) {
  // Never 0 bytes, so that an empty tensor is still defined.
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

Tensor Tensor::Empty(DLDataType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = Numel(shape);
  t.shape_ = std::move(shape);
  t.owner_ = Allocate(t.nbytes());
  t.data_ = t.owner_.get();
  return t;
}

Tensor Tensor::Zeros(DLDataType dtype, std::vector<int64_t> shape) {
  Tensor t = Empty(dtype, std::move(shape));
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::Full(DLDataType dtype, std::vector<int64_t> shape, double value) {
  Tensor t = Empty(dtype, std::move(shape));
  DispatchAll(dtype, "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = t.mutable_data<T>();
    const T v = Convert<T>(value);
    for (int64_t i = 0; i < t.numel_; ++i) out[i] = v;
  });
  return t;
}

Tensor Tensor::Borrow(DLDataType dtype, std::vector<int64_t> shape, void* bytes,
                      std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = Numel(shape);
  t.shape_ = std::move(shape);
  t.data_ = bytes;
  t.owner_ = std::move(owner);
  return t;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t rank = dim();
  const int64_t wrapped = d < 0 ? d + rank : d;
  if (wrapped < 0 || wrapped >= rank) {
    throw plugin::Error(LTC_ERROR_INVALID_ARGUMENT,
                        "dimension " + std::to_string(d) + " out of range for a tensor of shape " +
                            ShapeString(shape_));
  }
  return shape_[wrapped];
}

double Tensor::item_double() const {
  if (numel_ < 1) throw plugin::Error(LTC_ERROR_INVALID_ARGUMENT, "item of an empty tensor");
  return DispatchAll(dtype_, "item", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return static_cast<double>(data<T>()[0]);
  });
}

int64_t Tensor::item_int() const {
  if (numel_ < 1) throw plugin::Error(LTC_ERROR_INVALID_ARGUMENT, "item of an empty tensor");
  return DispatchAll(dtype_, "item", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return static_cast<int64_t>(data<T>()[0]);
  });
}

Tensor Tensor::Reshaped(std::vector<int64_t> shape) const {
  if (Numel(shape) != numel_) {
    throw plugin::Error(LTC_ERROR_INVALID_ARGUMENT,
                        "shape " + ShapeString(shape) + " is invalid for input of size " +
                            std::to_string(numel_));
  }
  Tensor out = Empty(dtype_, std::move(shape));
  std::memcpy(out.data_, data_, nbytes());
  return out;
}

Tensor Tensor::To(DLDataType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = Empty(dtype, shape_);
  DispatchAll(dtype_, "to", [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    DispatchAll(dtype, "to", [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* in = data<From>();
      To* o = out.mutable_data<To>();
      for (int64_t i = 0; i < numel_; ++i) o[i] = Convert<To>(in[i]);
    });
  });
  return out;
}

}  // namespace ltc::ref_cpu
