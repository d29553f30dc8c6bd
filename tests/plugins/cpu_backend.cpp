#include "cpu_backend.h"

#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace ltc::test {

// Reported exactly once: by whichever of buffer_to_host of one of the
// execution's results and synchronize of its device claims it first.
struct PendingFailure {
  explicit PendingFailure(int32_t device) : device(device) {}
  bool Claim() { return !reported.exchange(true); }

  const int32_t device;
  std::atomic<bool> reported{false};
};

namespace {

using plugin::Error;

constexpr const char* kAsyncFailure = "asynchronous failure injected by async_fails";

Error AsyncFailure() { return Error(LTC_ERROR_INTERNAL, kAsyncFailure); }

class CpuBuffer : public plugin::Buffer {
 public:
  // No bytes makes a placeholder.
  CpuBuffer(DLDataType dtype, std::vector<int64_t> shape, int32_t device,
            std::optional<std::vector<std::byte>> bytes)
      : dtype_(dtype), shape_(std::move(shape)), device_(device), bytes_(std::move(bytes)) {}
  // A result of a failed execution: it looks pending until the failure is
  // reported, and holds no data from then on.
  CpuBuffer(const CpuBuffer& like, std::shared_ptr<PendingFailure> failure)
      : dtype_(like.dtype_), shape_(like.shape_), device_(like.device_),
        failure_(std::move(failure)) {}

  DLDataType dtype() const override { return dtype_; }
  const std::vector<int64_t>& shape() const override { return shape_; }
  int32_t device_ordinal() const override { return device_; }
  bool has_data() const override {
    return failure_ != nullptr ? !failure_->reported.load() : bytes_.has_value();
  }
  const std::vector<std::byte>& bytes() const { return *bytes_; }
  PendingFailure* failure() const { return failure_.get(); }

 private:
  DLDataType dtype_;
  std::vector<int64_t> shape_;
  int32_t device_;
  std::optional<std::vector<std::byte>> bytes_;
  std::shared_ptr<PendingFailure> failure_;
};

class IdentityExecutable : public plugin::Executable {
 public:
  explicit IdentityExecutable(size_t count) : count_(count) {}
  size_t num_parameters() const override { return count_; }
  size_t num_results() const override { return count_; }

 private:
  size_t count_;
};

// What buffer_to_host hands out: the tensor and the memory it points at.
struct HostTensor {
  std::vector<std::byte> bytes;
  std::vector<int64_t> shape;
  DLManagedTensor managed{};
};

void DeleteHostTensor(DLManagedTensor* tensor) {
  delete static_cast<HostTensor*>(tensor->manager_ctx);
}

void CallDeleter(DLManagedTensor* tensor) {
  if (tensor->deleter != nullptr) tensor->deleter(tensor);
}

size_t ByteSize(DLDataType dtype, const std::vector<int64_t>& shape) {
  size_t count = 1;
  for (int64_t extent : shape) {
    if (extent < 0) throw Error(LTC_ERROR_INVALID_ARGUMENT, "negative extent");
    count *= static_cast<size_t>(extent);
  }
  return count * ((dtype.bits * dtype.lanes + 7) / 8);
}

// Row-major without gaps: the only layout this backend copies.
bool IsCompact(const DLTensor& tensor) {
  if (tensor.strides == nullptr) return true;
  int64_t expected = 1;
  for (int32_t dim = tensor.ndim - 1; dim >= 0; --dim) {
    if (tensor.shape[dim] != 1 && tensor.strides[dim] != expected) return false;
    expected *= tensor.shape[dim];
  }
  return true;
}

template <typename T>
std::vector<std::byte> BytesOf(T value) {
  std::vector<std::byte> bytes(sizeof(T));
  std::memcpy(bytes.data(), &value, sizeof(T));
  return bytes;
}

std::vector<std::byte> ScalarBytes(const plugin::Scalar& scalar) {
  const DLDataType dtype = scalar.dtype;
  if (dtype.lanes == 1 && dtype.code == kDLFloat) {
    if (dtype.bits == 64) return BytesOf(scalar.double_value);
    if (dtype.bits == 32) return BytesOf(static_cast<float>(scalar.double_value));
  }
  // Integers and booleans (one byte) take their value from int64_value.
  if (dtype.lanes == 1 && dtype.code != kDLFloat) {
    switch (dtype.bits) {
      case 8:
        return BytesOf(static_cast<int8_t>(scalar.int64_value));
      case 16:
        return BytesOf(static_cast<int16_t>(scalar.int64_value));
      case 32:
        return BytesOf(static_cast<int32_t>(scalar.int64_value));
      case 64:
        return BytesOf(scalar.int64_value);
    }
  }
  throw Error(LTC_ERROR_INVALID_ARGUMENT, "unsupported scalar dtype");
}

size_t IdentityCount(std::string_view graph) {
  size_t count = 0;
  const auto parsed = std::from_chars(graph.data(), graph.data() + graph.size(), count);
  if (graph.empty() || parsed.ec != std::errc() || parsed.ptr != graph.data() + graph.size()) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT,
                "a test-identity graph is a decimal count, not '" + std::string(graph) + "'");
  }
  return count;
}

}  // namespace

CpuClient::CpuClient(Config config) : config_(config) {}

int32_t CpuClient::device_count() { return config_.devices; }

plugin::DeviceInfo CpuClient::device_info(int32_t device) {
  return {"cpu", "test device " + std::to_string(device), uint64_t{1} << 30};
}

DLDeviceType CpuClient::eager_fallback_device() { return kDLCPU; }

std::unique_ptr<plugin::Buffer> CpuClient::buffer_from_host(DLManagedTensor* tensor,
                                                            int32_t device) {
  // The buffer keeps a copy, so the caller's memory goes back however this
  // function leaves.
  const std::unique_ptr<DLManagedTensor, void (*)(DLManagedTensor*)> owned(tensor, CallDeleter);
  const DLTensor& source = tensor->dl_tensor;
  if (source.device.device_type != kDLCPU) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, "the tensor is not in host memory");
  }
  if (source.ndim < 0) throw Error(LTC_ERROR_INVALID_ARGUMENT, "negative ndim");
  if (!IsCompact(source)) throw Error(LTC_ERROR_UNIMPLEMENTED, "strided tensors");
  std::vector<int64_t> shape(source.shape, source.shape + source.ndim);
  std::vector<std::byte> bytes(ByteSize(source.dtype, shape));
  if (!bytes.empty()) {
    std::memcpy(bytes.data(), static_cast<const std::byte*>(source.data) + source.byte_offset,
                bytes.size());
  }
  return std::make_unique<CpuBuffer>(source.dtype, std::move(shape), device, std::move(bytes));
}

std::unique_ptr<plugin::Buffer> CpuClient::buffer_from_scalar(const plugin::Scalar& scalar,
                                                              int32_t device) {
  return std::make_unique<CpuBuffer>(scalar.dtype, std::vector<int64_t>{}, device,
                                     ScalarBytes(scalar));
}

std::unique_ptr<plugin::Buffer> CpuClient::buffer_create_placeholder(DLDataType dtype,
                                                                     std::vector<int64_t> shape,
                                                                     int32_t device) {
  return std::make_unique<CpuBuffer>(dtype, std::move(shape), device, std::nullopt);
}

DLManagedTensor* CpuClient::buffer_to_host(plugin::Buffer& buffer) {
  const auto& source = static_cast<const CpuBuffer&>(buffer);
  if (source.failure() != nullptr) {
    if (source.failure()->Claim()) throw AsyncFailure();
    throw Error(LTC_ERROR_FAILED_PRECONDITION, "the buffer's execution failed");
  }
  auto host = std::make_unique<HostTensor>();
  host->bytes = source.bytes();
  host->shape = source.shape();
  DLTensor& tensor = host->managed.dl_tensor;
  tensor.data = host->bytes.data();
  tensor.device = DLDevice{kDLCPU, 0};
  tensor.ndim = static_cast<int32_t>(host->shape.size());
  tensor.dtype = source.dtype();
  tensor.shape = host->shape.data();
  host->managed.manager_ctx = host.get();
  host->managed.deleter = DeleteHostTensor;
  return &host.release()->managed;
}

std::unique_ptr<plugin::Executable> CpuClient::compile(const plugin::CompileRequest& request) {
  if (request.format != kIdentityFormat) {
    throw Error(LTC_ERROR_UNIMPLEMENTED, "graph format '" + std::string(request.format) +
                                             "' is not supported, only " + kIdentityFormat);
  }
  return std::make_unique<IdentityExecutable>(IdentityCount(request.graph));
}

void CpuClient::execute(plugin::Executable&, int32_t device,
                        const std::vector<plugin::Buffer*>& arguments,
                        const std::vector<bool>& /*donated*/,
                        std::vector<std::unique_ptr<plugin::Buffer>>& results) {
  for (size_t i = 0; i < arguments.size(); ++i) {
    // A result whose failure is not reported yet looks pending to the
    // adapter, but holds nothing to copy; reporting it is not this call's.
    if (static_cast<const CpuBuffer&>(*arguments[i]).failure() != nullptr) {
      throw Error(LTC_ERROR_FAILED_PRECONDITION,
                  "argument " + std::to_string(i) + " comes from a failed execution");
    }
  }
  std::shared_ptr<PendingFailure> failure;
  if (++execute_calls_ == config_.fail_execution) {
    failure = std::make_shared<PendingFailure>(device);
    const std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(failure);
  }
  for (size_t i = 0; i < arguments.size(); ++i) {
    const auto& argument = static_cast<const CpuBuffer&>(*arguments[i]);
    results[i] = failure != nullptr ? std::make_unique<CpuBuffer>(argument, failure)
                                    : std::make_unique<CpuBuffer>(argument.dtype(),
                                                                  argument.shape(), device,
                                                                  argument.bytes());
  }
}

// Work is done when a call returns, except for the failures injected above.
void CpuClient::synchronize(int32_t device) {
  std::shared_ptr<PendingFailure> claimed;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      // Failures already reported through buffer_to_host are dropped too.
      const bool claim = claimed == nullptr && (*it)->device == device && (*it)->Claim();
      if (claim) claimed = *it;
      it = claim || (*it)->reported ? pending_.erase(it) : it + 1;
    }
  }
  if (claimed != nullptr) throw AsyncFailure();
}

// Identity graphs draw no random numbers.
void CpuClient::set_rng_seed(uint64_t) {}

}  // namespace ltc::test
