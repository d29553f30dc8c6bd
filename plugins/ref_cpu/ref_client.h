// ref_cpu's client: one CPU device whose buffers are ref_cpu Tensors.
#pragma once

#include "tensor.h"

#include <ltc/plugin_adapter.h>

#include <memory>
#include <vector>

namespace ltc::ref_cpu {

// A tensor with data, or a placeholder (dtype and shape only).
class RefBuffer : public plugin::Buffer {
 public:
  explicit RefBuffer(Tensor tensor)
      : dtype_(tensor.dtype()), shape_(tensor.shape()), tensor_(std::move(tensor)) {}
  RefBuffer(DLDataType dtype, std::vector<int64_t> shape)
      : dtype_(dtype), shape_(std::move(shape)) {}

  DLDataType dtype() const override { return dtype_; }
  const std::vector<int64_t>& shape() const override { return shape_; }
  int32_t device_ordinal() const override { return 0; }
  bool has_data() const override { return tensor_.defined(); }
  const Tensor& tensor() const { return tensor_; }

 private:
  DLDataType dtype_;
  std::vector<int64_t> shape_;
  Tensor tensor_;
};

class RefClient : public plugin::Client {
 public:
  explicit RefClient(const plugin::ClientContext& context);

  int32_t device_count() override { return 1; }
  plugin::DeviceInfo device_info(int32_t device) override;
  DLDeviceType eager_fallback_device() override { return kDLCPU; }

  std::unique_ptr<plugin::Buffer> buffer_from_host(DLManagedTensor* tensor,
                                                   int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_from_scalar(const plugin::Scalar& scalar,
                                                     int32_t device) override;
  std::unique_ptr<plugin::Buffer> buffer_create_placeholder(DLDataType dtype,
                                                            std::vector<int64_t> shape,
                                                            int32_t device) override;
  DLManagedTensor* buffer_to_host(plugin::Buffer& buffer) override;

  std::unique_ptr<plugin::Executable> compile(const plugin::CompileRequest& request) override;
  void execute(plugin::Executable& executable, int32_t device,
               const std::vector<plugin::Buffer*>& arguments,
               const std::vector<bool>& donated,
               std::vector<std::unique_ptr<plugin::Buffer>>& results) override;

 private:
  const plugin::Host& host_;
};

}  // namespace ltc::ref_cpu
