// ltc/torch_compat.h: every difference between the LibTorch versions this
// project builds against (1.13 from Debian, 2.x from PyTorch wheels).
#pragma once

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/lazy/core/ir.h>
#include <torch/version.h>

namespace ltc::compat {

#if TORCH_VERSION_MAJOR >= 2
// 2.x passes IR nodes as const through lowering and the backend interface.
using LazyNode = const torch::lazy::Node;
#else
using LazyNode = torch::lazy::Node;
#endif

inline const at::Generator& DefaultCudaGenerator(c10::DeviceIndex device) {
#if TORCH_VERSION_MAJOR >= 2
  return at::detail::getCUDAHooks().getDefaultGenerator(device);
#else
  return at::detail::getCUDAHooks().getDefaultCUDAGenerator(device);
#endif
}

}  // namespace ltc::compat
