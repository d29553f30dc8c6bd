// ts_cpu reading only ltc-graph-v1: it rebuilds the TorchScript graph from
// the portable file, node by node, and runs it as ts_cpu runs the graphs it
// reads. Run through the conformance suite against the in-tree backend with
// the rewrites off (LTC_TS_OPTIMIZE=0), so that nothing but the format
// stands between the lowering and the run, it proves that the host's
// portable export carries every graph the lazy core lowers, faithfully.
#include "ts_client.h"

#include <ltc/dlpack_aten.h>
#include <ltc/graph_format.h>

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <cstring>

namespace {

namespace g = ltc::graph;
using ltc::plugin::Error;

at::ScalarType ScalarTypeOf(DLDataType dtype) { return ltc::ToScalarType(dtype); }

const c10::FunctionSchema& SchemaOf(const g::Node& node) {
  const c10::Symbol symbol = c10::Symbol::fromQualString(node.op);
  for (const std::shared_ptr<torch::jit::Operator>& op : torch::jit::getAllOperatorsFor(symbol)) {
    if (op->schema().overload_name() == node.overload) return op->schema();
  }
  throw Error(LTC_ERROR_UNIMPLEMENTED, node.full_name() + " is not a TorchScript operator");
}

class GraphRebuilder {
 public:
  explicit GraphRebuilder(const g::Graph& portable)
      : portable_(portable), graph_(std::make_shared<torch::jit::Graph>()),
        values_(portable.values().size(), nullptr) {}

  std::shared_ptr<torch::jit::Graph> Rebuild() {
    for (size_t i = 0; i < portable_.num_parameters(); ++i) {
      const g::ValueType& type = portable_.values()[i];
      torch::jit::Value* input = graph_->addInput("p" + std::to_string(i));
      input->setType(type.kind == g::ValueKind::kTensor ? c10::TensorType::get()
                                                        : NumberType(type.dtype));
      values_[i] = input;
    }
    for (const g::Constant& constant : portable_.constants()) {
      values_[constant.value.index] = graph_->insertConstant(ConstantValue(constant));
    }
    for (const g::Node& node : portable_.nodes()) AddNode(node);
    for (g::ValueId output : portable_.outputs()) graph_->registerOutput(values_[output.index]);
    return graph_;
  }

 private:
  // As LibTorch's lowering types them: a boolean scalar is an `int`, which
  // the schemas taking a Scalar accept.
  static c10::TypePtr NumberType(DLDataType dtype) {
    if (dtype.code == kDLFloat) return c10::FloatType::get();
    return c10::IntType::get();
  }

  c10::IValue ConstantValue(const g::Constant& constant) const {
    const g::ValueType& type = portable_.type(constant.value);
    if (type.kind == g::ValueKind::kScalar) {
      if (type.dtype.code == kDLFloat) {
        double value;
        std::memcpy(&value, constant.bytes.data(), sizeof(value));
        return value;
      }
      if (type.dtype.code == LTC_DL_BOOL_CODE) return constant.bytes[0] != 0;
      int64_t value;
      std::memcpy(&value, constant.bytes.data(), sizeof(value));
      return value;
    }
    at::Tensor tensor = at::empty(*type.shape, at::TensorOptions().dtype(ScalarTypeOf(type.dtype)));
    std::memcpy(tensor.data_ptr(), constant.bytes.data(), constant.bytes.size());
    return tensor;
  }

  torch::jit::Value* Constant(c10::IValue value) {
    return graph_->insertConstant(std::move(value));
  }

  torch::jit::Value* ArgumentValue(const g::Argument& argument, const c10::Argument& schema) {
    c10::TypePtr real_type = schema.real_type();
    if (real_type->kind() == c10::TypeKind::OptionalType) {
      real_type = real_type->containedTypes().at(0);
    }
    return std::visit(
        [&](const auto& value) -> torch::jit::Value* {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, g::ValueId>) {
            return values_[value.index];
          } else if constexpr (std::is_same_v<T, std::vector<g::OptionalValue>>) {
            std::vector<torch::jit::Value*> elements;
            for (const g::OptionalValue& element : value) {
              elements.push_back(element ? values_[element->index] : Constant(c10::IValue()));
            }
            const c10::TypePtr list = schema.type()->kind() == c10::TypeKind::OptionalType
                                          ? schema.type()->containedTypes().at(0)
                                          : schema.type();
            return graph_->insertNode(graph_->createList(list->containedTypes().at(0), elements))
                ->output();
          } else if constexpr (std::is_same_v<T, g::None>) {
            return Constant(c10::IValue());
          } else if constexpr (std::is_same_v<T, DLDataType>) {
            return Constant(static_cast<int64_t>(ScalarTypeOf(value)));
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (real_type->kind() == c10::TypeKind::DeviceObjType) {
              return Constant(c10::Device(value));
            }
            return Constant(value);
          } else if constexpr (std::is_same_v<T, std::vector<bool>>) {
            c10::List<bool> list;
            for (bool element : value) list.push_back(element);
            return Constant(list);
          } else {
            return Constant(value);
          }
        },
        argument);
  }

  void AddNode(const g::Node& node) {
    const c10::FunctionSchema& schema = SchemaOf(node);
    if (schema.arguments().size() != node.arguments.size()) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT,
                  node.full_name() + ": " + std::to_string(node.arguments.size()) +
                      " arguments for " + std::to_string(schema.arguments().size()));
    }
    std::vector<torch::jit::Value*> inputs;
    for (size_t i = 0; i < node.arguments.size(); ++i) {
      inputs.push_back(ArgumentValue(node.arguments[i], schema.arguments()[i]));
    }
    // One list result written as its elements (aten::split) is unpacked.
    const bool unpack = schema.returns().size() == 1 &&
                        schema.returns()[0].type()->kind() == c10::TypeKind::ListType;
    torch::jit::Node* op = graph_->insertNode(graph_->create(
        c10::Symbol::fromQualString(node.op), inputs, unpack ? 1 : node.outputs.size()));
    std::vector<torch::jit::Value*> outputs(op->outputs().begin(), op->outputs().end());
    for (size_t i = 0; i < outputs.size() && i < schema.returns().size(); ++i) {
      outputs[i]->setType(schema.returns()[i].type());
    }
    if (unpack) {
      torch::jit::Node* elements =
          graph_->insertNode(graph_->createListUnpack(op->output(), node.outputs.size()));
      outputs.assign(elements->outputs().begin(), elements->outputs().end());
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) values_[node.outputs[i].index] = outputs[i];
  }

  const g::Graph& portable_;
  std::shared_ptr<torch::jit::Graph> graph_;
  std::vector<torch::jit::Value*> values_;
};

class PortableTsClient final : public ltc::torchscript::TsClient {
 public:
  using TsClient::TsClient;

  std::unique_ptr<ltc::plugin::Executable> compile(
      const ltc::plugin::CompileRequest& request) override {
    g::Graph portable;
    try {
      portable = g::ReadGraph(request.graph.data(), request.graph.size());
    } catch (const g::FormatError& error) {
      throw Error(LTC_ERROR_INVALID_ARGUMENT, error.what());
    }
    return std::make_unique<ltc::torchscript::TsExecutable>(GraphRebuilder(portable).Rebuild(),
                                                            /*update_in_place=*/false);
  }
};

std::unique_ptr<ltc::plugin::Client> CreateClient(const ltc::plugin::ClientContext& context) {
  return std::make_unique<PortableTsClient>(context, at::kCPU, /*device_count=*/1);
}

const ltc::plugin::PluginDescriptor kDescriptor = {
    /*name=*/"ts_portable",
    /*version=*/LTC_PLUGIN_VERSION,
    /*description=*/"test plugin: TorchScript rebuilt from ltc-graph-v1",
    /*vendor=*/"ltc-plugins tests",
    /*build=*/nullptr,
    /*graph_formats=*/{LTC_GRAPH_FORMAT_PORTABLE},
    /*libtorch_version=*/ltc::torchscript::kLibtorchVersion,
    /*options=*/{ltc::torchscript::kOptimizeOption, ltc::torchscript::kPoolMbOption},
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
};

}  // namespace

LTC_PLUGIN_DEFINE_QUERY(kDescriptor)
