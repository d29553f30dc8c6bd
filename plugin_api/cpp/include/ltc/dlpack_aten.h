// ltc/dlpack_aten.h: ATen tensors <-> the ABI's DLPack, for C++ code on
// either side that uses LibTorch (the host, TorchScript plugins).
//
// Differs from at::toDLPack/at::fromDLPack only where the ABI says so:
// booleans cross as LTC_DL_BOOL_CODE, which LibTorch 1.13 cannot express.
#pragma once

#include <ltc/plugin_api.h>

#include <ATen/ATen.h>
#include <ATen/DLConvertor.h>

#include <stdexcept>
#include <string>

namespace ltc {

inline DLDataType ToDLDataType(at::ScalarType type) {
  if (type == at::kBool) return DLDataType{LTC_DL_BOOL_CODE, 8, 1};
  // getDLDataType reads only the dtype of its argument.
  return at::getDLDataType(at::empty({0}, at::TensorOptions().dtype(type)));
}

inline at::ScalarType ToScalarType(DLDataType type) {
  if (type.code == LTC_DL_BOOL_CODE) {
    if (type.bits != 8 || type.lanes != 1) {
      throw std::invalid_argument("boolean DLPack type must be 8 bits, 1 lane");
    }
    return at::kBool;
  }
  return at::toScalarType(type);
}

// The returned tensor aliases `tensor`'s memory and keeps it alive.
inline DLManagedTensor* ToDLPack(const at::Tensor& tensor) {
  if (tensor.scalar_type() != at::kBool) return at::toDLPack(tensor);
  DLManagedTensor* managed = at::toDLPack(tensor.view(at::kByte));
  managed->dl_tensor.dtype.code = LTC_DL_BOOL_CODE;
  return managed;
}

// Takes ownership of `managed`: its deleter runs when the tensor dies.
inline at::Tensor FromDLPack(DLManagedTensor* managed) {
  if (managed->dl_tensor.dtype.code != LTC_DL_BOOL_CODE) {
    return at::fromDLPack(managed);
  }
  managed->dl_tensor.dtype.code = kDLUInt;
  return at::fromDLPack(managed).view(at::kBool);
}

}  // namespace ltc
