// ltc/dlpack_aten.h: ATen tensors <-> the ABI's DLPack, for C++ code on
// either side that uses LibTorch (the host, TorchScript plugins).
//
// Differs from at::toDLPack/at::fromDLPack where the ABI says so (booleans
// cross as LTC_DL_BOOL_CODE, which LibTorch 1.13 cannot express) and where
// they would make a tensor behave otherwise than the in-tree backend's
// (strides, resizing): see ToDLPack and FromDLPack.
#pragma once

#include <ltc/plugin_api.h>

#include <ATen/ATen.h>
#include <ATen/DLConvertor.h>
#include <c10/core/CPUAllocator.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace ltc {

// Called for every buffer and scalar that crosses, so the common types do
// not allocate; the rest go through LibTorch, which also names the types
// DLPack cannot carry.
inline DLDataType ToDLDataType(at::ScalarType type) {
  const auto with_code = [type](uint8_t code) {
    return DLDataType{code, static_cast<uint8_t>(c10::elementSize(type) * 8), 1};
  };
  switch (type) {
    case at::kBool: return DLDataType{LTC_DL_BOOL_CODE, 8, 1};
    case at::kByte: return with_code(kDLUInt);
    case at::kChar:
    case at::kShort:
    case at::kInt:
    case at::kLong: return with_code(kDLInt);
    case at::kHalf:
    case at::kFloat:
    case at::kDouble: return with_code(kDLFloat);
    case at::kBFloat16: return with_code(kDLBfloat);
    default:
      // getDLDataType reads only the dtype of its argument.
      return at::getDLDataType(at::empty({0}, at::TensorOptions().dtype(type)));
  }
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

namespace detail {

// A DLManagedTensor that shows the strides of the tensor it was made from,
// wrapped around the one at::toDLPack made (which owns the tensor).
struct StridedExport {
  DLManagedTensor managed;
  DLManagedTensor* aten;
  std::vector<int64_t> strides;
};

inline DLManagedTensor* ExportWithStrides(const at::Tensor& tensor) {
  auto* exported = new StridedExport{{}, at::toDLPack(tensor), tensor.strides().vec()};
  exported->managed.dl_tensor = exported->aten->dl_tensor;
  exported->managed.dl_tensor.strides = exported->strides.data();
  exported->managed.manager_ctx = exported;
  exported->managed.deleter = [](DLManagedTensor* self) {
    auto* owner = static_cast<StridedExport*>(self->manager_ctx);
    owner->aten->deleter(owner->aten);
    delete owner;
  };
  return &exported->managed;
}

// A view of a producer's tensor that every LibTorch's at::fromDLPack reads
// alike: the byte offset folded into the data pointer (1.13's ignores
// byte_offset) and booleans as uint8 (1.13 has no boolean code). The
// producer's tensor stays as it was given, for its deleter, which the
// view's deleter calls.
struct ImportView {
  DLManagedTensor managed;
  DLManagedTensor* producer;
};

inline DLManagedTensor* MakeImportView(DLManagedTensor* producer) {
  auto* view = new ImportView{{}, producer};
  DLTensor& tensor = view->managed.dl_tensor;
  tensor = producer->dl_tensor;
  tensor.data = static_cast<char*>(tensor.data) + tensor.byte_offset;
  tensor.byte_offset = 0;
  if (tensor.dtype.code == LTC_DL_BOOL_CODE) tensor.dtype.code = kDLUInt;
  view->managed.manager_ctx = view;
  view->managed.deleter = [](DLManagedTensor* self) {
    auto* owner = static_cast<ImportView*>(self->manager_ctx);
    if (owner->producer->deleter != nullptr) owner->producer->deleter(owner->producer);
    delete owner;
  };
  return &view->managed;
}

}  // namespace detail

// The returned tensor aliases `tensor`'s memory and keeps it alive. Its
// strides are `tensor`'s, all of them: at::toDLPack sets those of dimensions
// of size 0 or 1 to 1, and ops that read strides (view_as_complex, ...) then
// fail where the in-tree backend's tensors pass.
inline DLManagedTensor* ToDLPack(const at::Tensor& tensor) {
  if (tensor.scalar_type() != at::kBool) return detail::ExportWithStrides(tensor);
  DLManagedTensor* managed = detail::ExportWithStrides(tensor.view(at::kByte));
  managed->dl_tensor.dtype.code = LTC_DL_BOOL_CODE;
  return managed;
}

// Takes ownership of `managed` unless it throws: its deleter runs when the
// tensor dies, or when a resize gives the tensor new memory. Honours
// byte_offset. CPU tensors are resizable, as
// LibTorch's own are: graphs resize their inputs (`arange(..., out=p0)`),
// and at::fromDLPack's storage refuses that.
inline at::Tensor FromDLPack(DLManagedTensor* managed) {
  const bool is_bool = managed->dl_tensor.dtype.code == LTC_DL_BOOL_CODE;
  DLManagedTensor* view = detail::MakeImportView(managed);
  at::Tensor tensor;
  try {
    tensor = at::fromDLPack(view);
  } catch (...) {
    // Refused before it took the view: `managed` is still the caller's.
    delete static_cast<detail::ImportView*>(view->manager_ctx);
    throw;
  }
  if (tensor.is_cpu()) {
    c10::StorageImpl* storage = tensor.storage().unsafeGetStorageImpl();
    storage->set_allocator(c10::GetCPUAllocator());
    storage->set_resizable(true);
  }
  return is_bool ? tensor.view(at::kBool) : tensor;
}

}  // namespace ltc
