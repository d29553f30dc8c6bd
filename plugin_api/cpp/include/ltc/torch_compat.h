// ltc/torch_compat.h: every difference between the LibTorch versions this
// project builds against (1.13 from Debian, 2.x from PyTorch wheels).
#pragma once

#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/Allocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
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

// The native handle (for CUDA, the cudaStream_t) of the calling thread's
// current stream on `device`; nullptr is the default (legacy) stream.
// c10::Stream::native_handle came with LibTorch 2.2; before it this says
// nullptr, the default stream, which stays current unless code sets another.
inline void* CurrentStreamHandle(const c10::Device& device) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  return c10::impl::getDeviceGuardImpl(device.type())->getStream(device).native_handle();
#else
  (void)device;
  return nullptr;
#endif
}

// c10::Allocator as each supported LibTorch declares it: derived classes
// implement Allocate. LibTorch 2.3 made allocate non-const and added the
// pure virtual copy_data (2.3 is from memory; 1.13 and 2.11 are built).
class AllocatorBase : public c10::Allocator {
 public:
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(size_t nbytes) override { return Allocate(nbytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#else
  c10::DataPtr allocate(size_t nbytes) const override { return Allocate(nbytes); }
#endif

 protected:
  virtual c10::DataPtr Allocate(size_t nbytes) const = 0;
};

}  // namespace ltc::compat
