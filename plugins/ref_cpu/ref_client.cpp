#include "ref_client.h"

#include "dispatch.h"
#include "executable.h"

#include <ltc/graph_format.h>

#include <unistd.h>

#include <cstring>

namespace ltc::ref_cpu {

using plugin::Error;

namespace {

void CheckDtype(DLDataType dtype) {
  if (!IsSupportedDtype(dtype)) {
    throw Error(LTC_ERROR_UNIMPLEMENTED,
                "tensors of dtype " + DtypeName(dtype) + " are not supported");
  }
}

// Calls the DLPack deleter once, when the last Tensor sharing it goes.
std::shared_ptr<void> OwnerOf(DLManagedTensor* tensor) {
  return std::shared_ptr<void>(tensor, [](void* p) {
    auto* t = static_cast<DLManagedTensor*>(p);
    if (t->deleter != nullptr) t->deleter(t);
  });
}

Tensor Import(DLManagedTensor* managed) {
  // Owned from here on, so every throw below releases it.
  std::shared_ptr<void> owner = OwnerOf(managed);
  const DLTensor& dl = managed->dl_tensor;
  if (dl.device.device_type != kDLCPU) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                "ref_cpu takes host (kDLCPU) tensors only, got device type " +
                    std::to_string(dl.device.device_type));
  }
  CheckDtype(dl.dtype);
  if (dl.ndim < 0) throw Error(LTC_ERROR_INVALID_ARGUMENT, "negative ndim");
  std::vector<int64_t> shape(dl.shape, dl.shape + dl.ndim);
  const int64_t numel = Numel(shape);
  const std::vector<int64_t> contiguous = ContiguousStrides(shape);
  bool is_contiguous = true;
  if (dl.strides != nullptr) {
    for (int d = 0; d < dl.ndim; ++d) {
      if (shape[d] != 1 && dl.strides[d] != contiguous[d]) is_contiguous = false;
    }
  }
  char* base = static_cast<char*>(dl.data) + dl.byte_offset;
  if (numel == 0) return Tensor::Empty(dl.dtype, shape);
  if (is_contiguous) return Tensor::Borrow(dl.dtype, std::move(shape), base, std::move(owner));
  Tensor copy = Tensor::Empty(dl.dtype, shape);
  const size_t item = dl.dtype.bits / 8;
  char* out = static_cast<char*>(copy.mutable_raw());
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < numel; ++i) {
    int64_t offset = 0;
    for (int d = 0; d < dl.ndim; ++d) offset += index[d] * dl.strides[d];
    std::memcpy(out + i * item, base + offset * static_cast<int64_t>(item), item);
    for (int d = dl.ndim - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return copy;
}

// What buffer_to_host's DLManagedTensor carries: the bytes' owner and the
// shape the DLTensor points at.
struct Export {
  Tensor tensor;
  std::vector<int64_t> shape;
  DLManagedTensor managed{};
};

}  // namespace

RefClient::RefClient(const plugin::ClientContext& context) : host_(context.host) {}

plugin::DeviceInfo RefClient::device_info(int32_t) {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  const uint64_t memory =
      pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * page_size : 0;
  return {"cpu", "host CPU (ref_cpu interpreter)", memory};
}

std::unique_ptr<plugin::Buffer> RefClient::buffer_from_host(DLManagedTensor* tensor, int32_t) {
  return std::make_unique<RefBuffer>(Import(tensor));
}

std::unique_ptr<plugin::Buffer> RefClient::buffer_from_scalar(const plugin::Scalar& scalar,
                                                              int32_t) {
  CheckDtype(scalar.dtype);
  Tensor t = Tensor::Empty(scalar.dtype, {});
  // Integers from int64_value exactly (a double would round large ones).
  if (scalar.dtype.code == kDLFloat) {
    if (scalar.dtype.bits == 32) *t.mutable_data<float>() = static_cast<float>(scalar.double_value);
    else *t.mutable_data<double>() = scalar.double_value;
  } else if (scalar.dtype.code == LTC_DL_BOOL_CODE) {
    *t.mutable_data<bool>() = scalar.int64_value != 0;
  } else {
    const int64_t v = scalar.int64_value;
    switch (scalar.dtype.bits) {
      case 64: *t.mutable_data<int64_t>() = v; break;
      case 32: *t.mutable_data<int32_t>() = static_cast<int32_t>(v); break;
      case 16: *t.mutable_data<int16_t>() = static_cast<int16_t>(v); break;
      default:
        if (scalar.dtype.code == kDLUInt) *t.mutable_data<uint8_t>() = static_cast<uint8_t>(v);
        else *t.mutable_data<int8_t>() = static_cast<int8_t>(v);
    }
  }
  return std::make_unique<RefBuffer>(std::move(t));
}

std::unique_ptr<plugin::Buffer> RefClient::buffer_create_placeholder(DLDataType dtype,
                                                                     std::vector<int64_t> shape,
                                                                     int32_t) {
  CheckDtype(dtype);
  return std::make_unique<RefBuffer>(dtype, std::move(shape));
}

DLManagedTensor* RefClient::buffer_to_host(plugin::Buffer& buffer) {
  auto export_ = std::make_unique<Export>();
  export_->tensor = static_cast<RefBuffer&>(buffer).tensor();
  export_->shape = export_->tensor.shape();
  DLTensor& dl = export_->managed.dl_tensor;
  dl.data = export_->tensor.mutable_raw();
  dl.device = {kDLCPU, 0};
  dl.ndim = static_cast<int32_t>(export_->shape.size());
  dl.dtype = export_->tensor.dtype();
  dl.shape = export_->shape.data();
  dl.strides = nullptr;  // row-major contiguous
  dl.byte_offset = 0;
  export_->managed.manager_ctx = export_.get();
  export_->managed.deleter = [](DLManagedTensor* self) {
    delete static_cast<Export*>(self->manager_ctx);
  };
  return &export_.release()->managed;
}

std::unique_ptr<plugin::Executable> RefClient::compile(const plugin::CompileRequest& request) {
  if (request.format != LTC_GRAPH_FORMAT_PORTABLE) {
    throw Error(LTC_ERROR_UNIMPLEMENTED,
                "graph format '" + std::string(request.format) + "' is not supported");
  }
  graph::Graph graph;
  try {
    graph = graph::ReadGraph(request.graph.data(), request.graph.size());
  } catch (const graph::FormatError& e) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, e.what());
  }
  auto executable = std::make_unique<RefExecutable>(std::move(graph));
  if (host_.LogEnabled(LTC_LOG_DEBUG)) {
    host_.Log(LTC_LOG_DEBUG,
              "ref_cpu: compiled " + std::to_string(executable->num_nodes()) + " nodes, " +
                  std::to_string(executable->num_parameters()) + " parameters, " +
                  std::to_string(executable->num_results()) + " results, cache key " +
                  (request.cache_key != nullptr ? request.cache_key : "(none)"));
  }
  return executable;
}

void RefClient::execute(plugin::Executable& executable, int32_t,
                        const std::vector<plugin::Buffer*>& arguments,
                        const std::vector<bool>& /*donated: the reference reuses nothing*/,
                        std::vector<std::unique_ptr<plugin::Buffer>>& results) {
  std::vector<Tensor> inputs;
  inputs.reserve(arguments.size());
  for (plugin::Buffer* b : arguments) inputs.push_back(static_cast<RefBuffer*>(b)->tensor());
  std::vector<Tensor> outputs = static_cast<RefExecutable&>(executable).Run(std::move(inputs));
  for (size_t i = 0; i < outputs.size(); ++i) {
    results[i] = std::make_unique<RefBuffer>(std::move(outputs[i]));
  }
}

}  // namespace ltc::ref_cpu
