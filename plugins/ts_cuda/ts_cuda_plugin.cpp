// ts_cuda: TorchScript on CUDA GPUs, one lazy device per visible GPU.
//
// Availability is probed with the CUDA runtime (linked statically, so the
// plugin loads on machines without CUDA and can say why it cannot run)
// and with LibTorch's CUDA hooks (Debian's LibTorch has no CUDA).
// Transfers are the plugin's own: cuda_client.h.
#include "cuda_client.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <cuda_runtime_api.h>
#include <torch/version.h>

namespace {

using ltc::plugin::Error;

void CheckAvailable() {
  int driver_version = 0;
  if (cudaDriverGetVersion(&driver_version) != cudaSuccess || driver_version == 0) {
    throw Error(LTC_ERROR_UNAVAILABLE,
                "no NVIDIA driver is installed (libcuda.so.1 cannot be loaded)");
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    throw Error(LTC_ERROR_UNAVAILABLE,
                std::string("no usable CUDA device: ") + cudaGetErrorString(status));
  }
  if (count == 0) throw Error(LTC_ERROR_UNAVAILABLE, "no CUDA device is visible");
  if (!at::detail::getCUDAHooks().hasCUDA()) {
    throw Error(LTC_ERROR_UNAVAILABLE,
                "LibTorch " TORCH_VERSION " was built without CUDA; ts_cuda needs a "
                "CUDA build of LibTorch (e.g. the one in a PyTorch 2.x wheel)");
  }
}

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  CheckAvailable();
  return std::make_unique<ltc::ts_cuda::CudaClient>(context,
                                                    at::detail::getCUDAHooks().getNumGPUs());
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ts_cuda",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"TorchScript on CUDA GPUs",
    /*vendor=*/ltc::torchscript::kVendor,
    /*build=*/LTC_PLUGIN_BUILD,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, LTC_GRAPH_FORMAT_TORCHSCRIPT},
    /*libtorch_version=*/ltc::torchscript::kLibtorchVersion,
    /*options=*/{ltc::torchscript::kOptimizeOption},
    /*check_available=*/CheckAvailable,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
