// ref_cpu with one op computed wrong: a graph with aten::relu in it returns
// its floating results plus one. Keeps the ABI (ltc-plugin-cts --tier abi
// passes it) and computes every other graph as ref_cpu does, so the ops tier
// must fail it by relu's name alone (tests/CMakeLists.txt).
#include <ltc/graph_format.h>
#include <ltc/plugin_adapter.h>

#include "ref_client.h"

namespace {

namespace ref = ltc::ref_cpu;
using ref::operator==;  // DLDataType's, which ref_cpu defines

class MarkedExecutable : public ltc::plugin::Executable {
 public:
  MarkedExecutable(std::unique_ptr<ltc::plugin::Executable> inner, bool wrong)
      : inner_(std::move(inner)), wrong_(wrong) {}
  size_t num_parameters() const override { return inner_->num_parameters(); }
  size_t num_results() const override { return inner_->num_results(); }
  ltc::plugin::Executable& inner() const { return *inner_; }
  bool wrong() const { return wrong_; }

 private:
  std::unique_ptr<ltc::plugin::Executable> inner_;
  bool wrong_;
};

template <typename T>
ref::Tensor PlusOne(const ref::Tensor& tensor) {
  ref::Tensor out = ref::Tensor::Empty(tensor.dtype(), tensor.shape());
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    out.mutable_data<T>()[i] = tensor.data<T>()[i] + 1;
  }
  return out;
}

class WrongReluClient : public ref::RefClient {
 public:
  using RefClient::RefClient;

  std::unique_ptr<ltc::plugin::Executable> compile(
      const ltc::plugin::CompileRequest& request) override {
    std::unique_ptr<ltc::plugin::Executable> inner = RefClient::compile(request);
    const ltc::graph::Graph graph =
        ltc::graph::ReadGraph(request.graph.data(), request.graph.size());
    bool has_relu = false;
    for (const ltc::graph::Node& node : graph.nodes()) has_relu |= node.op == "aten::relu";
    return std::make_unique<MarkedExecutable>(std::move(inner), has_relu);
  }

  void execute(ltc::plugin::Executable& executable, int32_t device,
               const std::vector<ltc::plugin::Buffer*>& arguments,
               const std::vector<bool>& donated,
               std::vector<std::unique_ptr<ltc::plugin::Buffer>>& results) override {
    auto& marked = static_cast<MarkedExecutable&>(executable);
    RefClient::execute(marked.inner(), device, arguments, donated, results);
    if (!marked.wrong()) return;
    for (std::unique_ptr<ltc::plugin::Buffer>& result : results) {
      const ref::Tensor& tensor = static_cast<ref::RefBuffer&>(*result).tensor();
      if (tensor.dtype() == ref::kFloat32) {
        result = std::make_unique<ref::RefBuffer>(PlusOne<float>(tensor));
      } else if (tensor.dtype() == ref::kFloat64) {
        result = std::make_unique<ref::RefBuffer>(PlusOne<double>(tensor));
      }
    }
  }
};

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<WrongReluClient>(context);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"cts_wrong_relu",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"test plugin: ref_cpu with aten::relu computed wrong",
    /*vendor=*/"ltc-plugins tests",
    /*build=*/LTC_PLUGIN_BUILD,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_PORTABLE},
    /*libtorch_version=*/nullptr,
    /*options=*/{},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
