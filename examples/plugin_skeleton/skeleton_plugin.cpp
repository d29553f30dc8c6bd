// skeleton: the smallest useful backend plugin. It reads ltc-graph-v1
// graphs and runs four elementwise ops (add, sub, mul, relu) on the CPU,
// with no LibTorch, and aten::ScalarImplicit, which PyTorch 2.x graphs use
// to pass a Python number on as a Scalar argument. Start a backend from here: the adapter
// (ltc/plugin_adapter.h) turns these classes into the C ABI table and every
// exception into an error the host shows with the plugin's name.
#include <ltc/graph_format.h>
#include <ltc/plugin_adapter.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace {

using ltc::plugin::Error;

// Elements are held as doubles whatever their dtype: simple, exact for
// float32 and for the integers a graph passes as scalars.
struct Value {
  DLDataType dtype{};
  std::vector<int64_t> shape;
  std::vector<double> data;
};

bool Is(DLDataType t, uint8_t code, uint8_t bits) { return t.code == code && t.bits == bits; }

bool Supported(DLDataType t) {
  return t.lanes == 1 && (Is(t, kDLFloat, 32) || Is(t, kDLFloat, 64) || Is(t, kDLInt, 64) ||
                          Is(t, LTC_DL_BOOL_CODE, 8));
}

void CheckDtype(DLDataType t) {
  if (!Supported(t)) {
    throw Error(LTC_ERROR_UNIMPLEMENTED, "skeleton supports float32, float64, int64 and bool "
                                         "tensors only");
  }
}

double Load(const uint8_t* p, DLDataType t) {
  if (Is(t, kDLFloat, 32)) { float v; std::memcpy(&v, p, 4); return v; }
  if (Is(t, kDLFloat, 64)) { double v; std::memcpy(&v, p, 8); return v; }
  if (Is(t, kDLInt, 64)) { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
  return *p != 0;  // bool
}

void Store(double v, uint8_t* p, DLDataType t) {
  if (Is(t, kDLFloat, 32)) { const float f = static_cast<float>(v); std::memcpy(p, &f, 4); }
  else if (Is(t, kDLFloat, 64)) { std::memcpy(p, &v, 8); }
  else if (Is(t, kDLInt, 64)) { const int64_t i = static_cast<int64_t>(v); std::memcpy(p, &i, 8); }
  else { *p = v != 0; }
}

int64_t Numel(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

class SkeletonBuffer : public ltc::plugin::Buffer {
 public:
  explicit SkeletonBuffer(std::shared_ptr<const Value> value, bool has_data = true)
      : value_(std::move(value)), has_data_(has_data) {}
  DLDataType dtype() const override { return value_->dtype; }
  const std::vector<int64_t>& shape() const override { return value_->shape; }
  int32_t device_ordinal() const override { return 0; }
  bool has_data() const override { return has_data_; }
  const std::shared_ptr<const Value>& value() const { return value_; }

 private:
  std::shared_ptr<const Value> value_;
  bool has_data_;
};

// What an op computes from its node and the values it reads.
using Kernel = std::function<Value(const ltc::graph::Node&, const std::vector<Value>&)>;

// A number argument: a literal in the graph, or a scalar value.
double Number(const ltc::graph::Argument& argument, const std::vector<Value>& values) {
  if (const auto* v = std::get_if<ltc::graph::ValueId>(&argument)) return values[v->index].data.at(0);
  if (const auto* i = std::get_if<int64_t>(&argument)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&argument)) return *d;
  throw Error(LTC_ERROR_INVALID_ARGUMENT, "skeleton: expected a number argument");
}

const Value& Tensor(const ltc::graph::Node& node, size_t index, const std::vector<Value>& values) {
  return values.at(std::get<ltc::graph::ValueId>(node.arguments.at(index)).index);
}

// a op b, elementwise; one side may be a single element (a Python number).
Value Binary(const Value& a, const Value& b, const std::function<double(double, double)>& op) {
  const Value& shaped = a.data.size() >= b.data.size() ? a : b;
  if (a.shape != b.shape && a.data.size() != 1 && b.data.size() != 1) {
    throw Error(LTC_ERROR_UNIMPLEMENTED, "skeleton broadcasts single elements only");
  }
  Value out{shaped.dtype, shaped.shape, std::vector<double>(shaped.data.size())};
  for (size_t i = 0; i < out.data.size(); ++i) {
    out.data[i] = op(a.data[a.data.size() == 1 ? 0 : i], b.data[b.data.size() == 1 ? 0 : i]);
  }
  return out;
}

const std::map<std::string, Kernel>& Kernels() {
  static const std::map<std::string, Kernel> kernels = {
      {"aten::add.Tensor",
       [](const auto& node, const auto& values) {
         const double alpha = Number(node.arguments.at(2), values);
         return Binary(Tensor(node, 0, values), Tensor(node, 1, values),
                       [alpha](double x, double y) { return x + alpha * y; });
       }},
      {"aten::sub.Tensor",
       [](const auto& node, const auto& values) {
         const double alpha = Number(node.arguments.at(2), values);
         return Binary(Tensor(node, 0, values), Tensor(node, 1, values),
                       [alpha](double x, double y) { return x - alpha * y; });
       }},
      {"aten::mul.Tensor",
       [](const auto& node, const auto& values) {
         return Binary(Tensor(node, 0, values), Tensor(node, 1, values),
                       [](double x, double y) { return x * y; });
       }},
      {"aten::ScalarImplicit",
       [](const auto& node, const auto& values) { return Tensor(node, 0, values); }},
      {"aten::relu",
       [](const auto& node, const auto& values) {
         Value out = Tensor(node, 0, values);
         for (double& x : out.data) x = std::max(x, 0.0);
         return out;
       }},
  };
  return kernels;
}

class SkeletonExecutable : public ltc::plugin::Executable {
 public:
  explicit SkeletonExecutable(ltc::graph::Graph graph) : graph_(std::move(graph)) {}
  size_t num_parameters() const override { return graph_.num_parameters(); }
  size_t num_results() const override { return graph_.outputs().size(); }

  std::vector<Value> Run(const std::vector<ltc::plugin::Buffer*>& arguments) const {
    std::vector<Value> values(graph_.values().size());
    for (size_t i = 0; i < arguments.size(); ++i) {
      values[i] = *static_cast<SkeletonBuffer*>(arguments[i])->value();
    }
    for (const ltc::graph::Constant& constant : graph_.constants()) {
      const ltc::graph::ValueType& type = graph_.type(constant.value);
      CheckDtype(type.dtype);
      Value& value = values[constant.value.index];
      value.dtype = type.dtype;
      value.shape = type.shape.value_or(std::vector<int64_t>{});
      const size_t item = std::max<size_t>(type.dtype.bits / 8, 1);
      for (size_t offset = 0; offset < constant.bytes.size(); offset += item) {
        value.data.push_back(Load(constant.bytes.data() + offset, type.dtype));
      }
    }
    for (const ltc::graph::Node& node : graph_.nodes()) {
      values[node.outputs.at(0).index] = Kernels().at(node.full_name())(node, values);
    }
    std::vector<Value> results;
    for (ltc::graph::ValueId output : graph_.outputs()) results.push_back(values[output.index]);
    return results;
  }

 private:
  ltc::graph::Graph graph_;
};

// Frees the exported copy when the host calls the DLPack deleter.
struct Export {
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  DLManagedTensor managed{};
};

class SkeletonClient : public ltc::plugin::Client {
 public:
  int32_t device_count() override { return 1; }
  ltc::plugin::DeviceInfo device_info(int32_t) override { return {"cpu", "skeleton CPU", 0}; }
  DLDeviceType eager_fallback_device() override { return kDLCPU; }

  std::unique_ptr<ltc::plugin::Buffer> buffer_from_host(DLManagedTensor* tensor,
                                                        int32_t) override {
    // Ours from here: release it on every path, also when throwing.
    std::unique_ptr<DLManagedTensor, void (*)(DLManagedTensor*)> owned(
        tensor, [](DLManagedTensor* t) { if (t->deleter != nullptr) t->deleter(t); });
    const DLTensor& dl = tensor->dl_tensor;
    if (dl.device.device_type != kDLCPU) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT, "skeleton takes host (kDLCPU) tensors only");
    }
    CheckDtype(dl.dtype);
    auto value = std::make_shared<Value>();
    value->dtype = dl.dtype;
    value->shape.assign(dl.shape, dl.shape + dl.ndim);
    const int64_t numel = Numel(value->shape);
    const auto* base = static_cast<const uint8_t*>(dl.data) + dl.byte_offset;
    std::vector<int64_t> index(dl.ndim, 0);
    for (int64_t i = 0; i < numel; ++i) {
      // NULL strides mean row-major contiguous (DLPack).
      int64_t offset = i;
      if (dl.strides != nullptr) {
        offset = 0;
        for (int d = 0; d < dl.ndim; ++d) offset += index[d] * dl.strides[d];
        for (int d = dl.ndim - 1; d >= 0; --d) {
          if (++index[d] < dl.shape[d]) break;
          index[d] = 0;
        }
      }
      value->data.push_back(Load(base + offset * (dl.dtype.bits / 8), dl.dtype));
    }
    return std::make_unique<SkeletonBuffer>(std::move(value));
  }

  std::unique_ptr<ltc::plugin::Buffer> buffer_from_scalar(const ltc::plugin::Scalar& scalar,
                                                          int32_t) override {
    CheckDtype(scalar.dtype);
    const bool floating = scalar.dtype.code == kDLFloat;
    return std::make_unique<SkeletonBuffer>(std::make_shared<Value>(Value{
        scalar.dtype, {},
        {floating ? scalar.double_value : static_cast<double>(scalar.int64_value)}}));
  }

  std::unique_ptr<ltc::plugin::Buffer> buffer_create_placeholder(DLDataType dtype,
                                                                 std::vector<int64_t> shape,
                                                                 int32_t) override {
    CheckDtype(dtype);
    return std::make_unique<SkeletonBuffer>(
        std::make_shared<Value>(Value{dtype, std::move(shape), {}}), /*has_data=*/false);
  }

  DLManagedTensor* buffer_to_host(ltc::plugin::Buffer& buffer) override {
    const Value& value = *static_cast<SkeletonBuffer&>(buffer).value();
    auto out = std::make_unique<Export>();
    out->shape = value.shape;
    const size_t item = value.dtype.bits / 8;
    out->bytes.resize(value.data.size() * item);
    for (size_t i = 0; i < value.data.size(); ++i) {
      Store(value.data[i], out->bytes.data() + i * item, value.dtype);
    }
    DLTensor& dl = out->managed.dl_tensor;
    dl.data = out->bytes.data();
    dl.device = {kDLCPU, 0};
    dl.ndim = static_cast<int32_t>(out->shape.size());
    dl.dtype = value.dtype;
    dl.shape = out->shape.data();
    out->managed.manager_ctx = out.get();
    out->managed.deleter = [](DLManagedTensor* self) {
      delete static_cast<Export*>(self->manager_ctx);
    };
    return &out.release()->managed;
  }

  std::unique_ptr<ltc::plugin::Executable> compile(
      const ltc::plugin::CompileRequest& request) override {
    ltc::graph::Graph graph;
    try {
      graph = ltc::graph::ReadGraph(request.graph.data(), request.graph.size());
    } catch (const ltc::graph::FormatError& error) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT, error.what());
    }
    // Refused whole, here: the host then says which op is missing before
    // anything runs.
    for (const ltc::graph::Node& node : graph.nodes()) {
      if (Kernels().count(node.full_name()) == 0) {
        throw Error(LTC_ERROR_UNIMPLEMENTED,
                    "skeleton does not implement " + node.full_name() +
                        " (it implements aten::add.Tensor, aten::sub.Tensor, "
                        "aten::mul.Tensor, aten::relu and aten::ScalarImplicit)");
      }
    }
    return std::make_unique<SkeletonExecutable>(std::move(graph));
  }

  void execute(ltc::plugin::Executable& executable, int32_t,
               const std::vector<ltc::plugin::Buffer*>& arguments,
               const std::vector<bool>& /*donated: nothing reused; the adapter empties them*/,
               std::vector<std::unique_ptr<ltc::plugin::Buffer>>& results) override {
    std::vector<Value> outputs = static_cast<SkeletonExecutable&>(executable).Run(arguments);
    for (size_t i = 0; i < outputs.size(); ++i) {
      results[i] = std::make_unique<SkeletonBuffer>(std::make_shared<Value>(std::move(outputs[i])));
    }
  }
};

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext&) {
  return std::make_unique<SkeletonClient>();
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"skeleton",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"Plugin skeleton: four float ops, no LibTorch",
    /*vendor=*/"ltc-plugins example",
    /*build=*/LTC_PLUGIN_BUILD,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_PORTABLE},
    /*libtorch_version=*/nullptr,
    /*options=*/{},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
