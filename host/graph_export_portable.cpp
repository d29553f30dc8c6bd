// ltc-graph-v1 from a lowered TorchScript graph, as graph-format.md's
// "Writing it from a TorchScript graph" table says.
#include "graph_export.h"

#include <ltc/dlpack_aten.h>
#include <ltc/graph_format.h>

#include <ATen/core/function_schema.h>
#include <torch/csrc/jit/ir/constants.h>

#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace ltc::host {
namespace {

namespace g = ltc::graph;
using torch::jit::Node;
using torch::jit::Value;

// Thrown inside the writer where the format cannot carry the graph.
struct NotExpressible {
  std::string reason;
};

std::string Describe(const Node& node) {
  std::string text = node.kind().toQualString();
  if (!node.outputs().empty()) text += " (%" + node.outputs()[0]->debugName() + ")";
  return text;
}

bool IsConstant(const Value* value) { return value->node()->kind() == c10::prim::Constant; }

// Nodes that become arguments or outputs of other nodes, never nodes.
bool IsFolded(const Node& node) {
  const c10::Symbol kind = node.kind();
  return kind == c10::prim::Constant || kind == c10::prim::ListConstruct ||
         kind == c10::prim::ListUnpack || kind == c10::prim::TupleUnpack;
}

bool IsUnpack(const Node& node) {
  return node.kind() == c10::prim::ListUnpack || node.kind() == c10::prim::TupleUnpack;
}

DLDataType DtypeOf(at::ScalarType type, const std::string& what) {
  DLDataType dtype{};
  try {
    dtype = ToDLDataType(type);
  } catch (const std::exception&) {
    throw NotExpressible{what + " has dtype " + c10::toString(type) + ", which DLPack lacks"};
  }
  if (!g::IsValidDtype(dtype)) {
    throw NotExpressible{what + " has dtype " + c10::toString(type) + ", which the format lacks"};
  }
  return dtype;
}

class PortableWriter {
 public:
  PortableWriter(const torch::jit::Graph& graph, const std::vector<bool>& boolean_scalars)
      : graph_(graph), boolean_scalars_(boolean_scalars) {}

  PortableGraph Write() {
    MarkLive();
    for (size_t i = 0; i < graph_.inputs().size(); ++i) {
      const Value* input = graph_.inputs()[i];
      const bool boolean = i < boolean_scalars_.size() && boolean_scalars_[i];
      types_.push_back(boolean ? Scalar(LTC_DL_BOOL_CODE, 8) : ParameterType(*input));
      ids_[input] = builder_.AddParameter(types_.back());
    }
    AddConstants();
    for (const Node* node : graph_.nodes()) {
      if (live_.count(node) != 0 && !IsFolded(*node)) AddNode(*node);
    }
    return Outputs();
  }

 private:
  // Only what the outputs need: the lowering leaves dead nodes behind (the
  // named tuple after nll_loss_forward).
  void MarkLive() {
    std::vector<const Node*> pending;
    for (const Value* output : graph_.outputs()) pending.push_back(output->node());
    while (!pending.empty()) {
      const Node* node = pending.back();
      pending.pop_back();
      if (node == graph_.param_node() || !live_.insert(node).second) continue;
      for (const Value* input : node->inputs()) pending.push_back(input->node());
    }
  }

  g::ValueType ParameterType(const Value& input) {
    const std::string what = "parameter %" + input.debugName();
    if (const auto number = NumberScalar(input.type()->kind())) return *number;
    switch (input.type()->kind()) {
      case c10::TypeKind::TensorType: {
        const auto tensor = input.type()->expect<c10::TensorType>();
        if (!tensor->scalarType() || !tensor->sizes().size()) {
          throw NotExpressible{what + " has no dtype and rank (the lowering did not type it)"};
        }
        return TensorTypeOf(*tensor, *tensor->scalarType(), what);
      }
      default:
        throw NotExpressible{what + " is of type " + input.type()->str()};
    }
  }

  static g::ValueType Scalar(uint8_t code, uint8_t bits) {
    return g::ValueType{g::ValueKind::kScalar, DLDataType{code, bits, 1}, std::vector<int64_t>{}};
  }

  // The scalar an int, float or bool value is; nullopt for other kinds.
  static std::optional<g::ValueType> NumberScalar(c10::TypeKind kind) {
    switch (kind) {
      case c10::TypeKind::IntType: return Scalar(kDLInt, 64);
      case c10::TypeKind::FloatType: return Scalar(kDLFloat, 64);
      case c10::TypeKind::BoolType: return Scalar(LTC_DL_BOOL_CODE, 8);
      default: return std::nullopt;
    }
  }

  static g::ValueType TensorTypeOf(const c10::TensorType& tensor, at::ScalarType dtype,
                                   const std::string& what) {
    g::ValueType type{g::ValueKind::kTensor, DtypeOf(dtype, what), std::nullopt};
    const c10::VaryingShape<int64_t>& sizes = tensor.sizes();
    if (sizes.size()) {
      std::vector<int64_t> dims;
      for (size_t d = 0; d < *sizes.size(); ++d) dims.push_back(sizes[d].value_or(g::kUnknownDim));
      type.shape = std::move(dims);
    }
    return type;
  }

  // A node output's type. The lowering context types every value that is a
  // lazy IR output; a value between two ops of one IR node's lowering has
  // no dtype, and takes its first tensor operand's.
  g::ValueType OutputType(const Value& value) {
    const std::string what = "%" + value.debugName();
    if (const auto number = NumberScalar(value.type()->kind())) return *number;
    switch (value.type()->kind()) {
      case c10::TypeKind::NumberType: {
        // A `Scalar` (LibTorch 2.x lowers 0-dim tensors to numbers with
        // aten::ScalarImplicit): the number kind of its tensor operand.
        const g::ValueType operand = FirstTensorOperand(value);
        if (operand.dtype.code == kDLFloat || operand.dtype.code == kDLBfloat) {
          return Scalar(kDLFloat, 64);
        }
        if (operand.dtype.code == LTC_DL_BOOL_CODE) return Scalar(LTC_DL_BOOL_CODE, 8);
        if (operand.dtype.code == kDLInt || operand.dtype.code == kDLUInt) {
          return Scalar(kDLInt, 64);
        }
        throw NotExpressible{what + " (" + Describe(*value.node()) + ") is a complex number"};
      }
      case c10::TypeKind::TensorType: {
        const auto tensor = value.type()->expect<c10::TensorType>();
        if (tensor->scalarType()) return TensorTypeOf(*tensor, *tensor->scalarType(), what);
        return g::ValueType{g::ValueKind::kTensor, FirstTensorOperand(value).dtype, std::nullopt};
      }
      default:
        throw NotExpressible{what + " (" + Describe(*value.node()) + ") is of type " +
                             value.type()->str()};
    }
  }

  // The type of the first tensor operand of the node defining `value`.
  g::ValueType FirstTensorOperand(const Value& value) const {
    for (const Value* input : value.node()->inputs()) {
      const auto operand = ids_.find(input);
      if (operand == ids_.end()) continue;
      const g::ValueType& type = types_.at(operand->second.index);
      if (type.kind == g::ValueKind::kTensor) return type;
    }
    throw NotExpressible{"%" + value.debugName() + " (" + Describe(*value.node()) +
                         ") has no dtype"};
  }

  // Tensor constants, and number constants that a value list names, in the
  // order nodes first use them.
  void AddConstants() {
    const auto add = [this](const Value* constant) {
      if (ids_.count(constant) != 0) return;
      const c10::IValue value = *torch::jit::toIValue(constant);
      if (value.isNone()) return;  // a None element of a Tensor?[]
      g::ValueType type;
      std::vector<uint8_t> bytes;
      if (value.isTensor()) {
        const at::Tensor tensor = value.toTensor().contiguous().cpu();
        type = g::ValueType{g::ValueKind::kTensor,
                            DtypeOf(tensor.scalar_type(), "a tensor constant"),
                            tensor.sizes().vec()};
        const auto* data = static_cast<const uint8_t*>(tensor.data_ptr());
        bytes.assign(data, data + tensor.nbytes());
      } else if (value.isInt() || value.isDouble() || value.isBool()) {
        const int64_t integer = value.isDouble() ? 0 : value.toInt();
        const double floating = value.isDouble() ? value.toDouble() : 0;
        type = value.isDouble() ? Scalar(kDLFloat, 64)
               : value.isBool() ? Scalar(LTC_DL_BOOL_CODE, 8)
                                : Scalar(kDLInt, 64);
        bytes.resize(type.dtype.bits / 8);
        if (value.isDouble()) std::memcpy(bytes.data(), &floating, sizeof(floating));
        else if (value.isBool()) bytes[0] = value.toBool() ? 1 : 0;
        else std::memcpy(bytes.data(), &integer, sizeof(integer));
      } else {
        throw NotExpressible{"a constant " + value.tagKind() + " in a list"};
      }
      types_.push_back(type);
      ids_[constant] = builder_.AddConstant(std::move(type), std::move(bytes));
    };
    for (const Node* node : graph_.nodes()) {
      if (live_.count(node) == 0) continue;
      for (const Value* input : node->inputs()) {
        if (!IsConstant(input)) continue;
        const bool in_value_list =
            node->kind() == c10::prim::ListConstruct && !AllConstant(*node);
        if (in_value_list || torch::jit::toIValue(input)->isTensor()) add(input);
      }
    }
    for (const Value* output : graph_.outputs()) {
      if (IsConstant(output)) add(output);
    }
  }

  static bool AllConstant(const Node& list) {
    for (const Value* element : list.inputs()) {
      if (!IsConstant(element)) return false;
    }
    return true;
  }

  g::ValueId Id(const Value* value) const {
    const auto found = ids_.find(value);
    if (found == ids_.end()) {
      throw NotExpressible{"%" + value->debugName() + " (" + Describe(*value->node()) +
                           ") is not a tensor or a number"};
    }
    return found->second;
  }

  g::Argument ConstantArgument(const Value& value, const c10::TypePtr& real_type) {
    const c10::IValue constant = *torch::jit::toIValue(&value);
    if (constant.isNone()) return g::None{};
    if (constant.isTensor()) return Id(&value);
    if (constant.isInt()) {
      if (real_type->kind() == c10::TypeKind::ScalarTypeType) {
        return DtypeOf(static_cast<at::ScalarType>(constant.toInt()), "a dtype argument");
      }
      return constant.toInt();
    }
    if (constant.isDouble()) return constant.toDouble();
    if (constant.isBool()) return constant.toBool();
    if (constant.isString()) return constant.toStringRef();
    if (constant.isDevice()) return constant.toDevice().str();
    if (constant.isIntList()) return constant.toIntVector();
    if (constant.isDoubleList()) return constant.toDoubleVector();
    if (constant.isBoolList()) {
      std::vector<bool> list;
      for (bool element : constant.toBoolList()) list.push_back(element);
      return list;
    }
    throw NotExpressible{"a constant " + constant.tagKind() + " argument (%" + value.debugName() +
                         ")"};
  }

  g::Argument ListArgument(const Node& list) {
    const c10::TypePtr element = list.output()->type()->containedTypes().at(0);
    const c10::TypeKind kind = element->kind();
    const bool literal = kind == c10::TypeKind::IntType || kind == c10::TypeKind::FloatType ||
                         kind == c10::TypeKind::BoolType;
    if (literal && AllConstant(list)) {
      if (kind == c10::TypeKind::IntType) {
        std::vector<int64_t> values;
        for (const Value* v : list.inputs()) values.push_back(torch::jit::toIValue(v)->toInt());
        return values;
      }
      if (kind == c10::TypeKind::FloatType) {
        std::vector<double> values;
        for (const Value* v : list.inputs()) values.push_back(torch::jit::toIValue(v)->toDouble());
        return values;
      }
      std::vector<bool> values;
      for (const Value* v : list.inputs()) values.push_back(torch::jit::toIValue(v)->toBool());
      return values;
    }
    std::vector<g::OptionalValue> values;
    for (const Value* v : list.inputs()) {
      if (IsConstant(v) && torch::jit::toIValue(v)->isNone()) {
        values.push_back(std::nullopt);
      } else {
        values.push_back(Id(v));
      }
    }
    return values;
  }

  g::Argument ArgumentFor(const Value& value, const c10::Argument& schema) {
    c10::TypePtr real_type = schema.real_type();
    if (real_type->kind() == c10::TypeKind::OptionalType) {
      real_type = real_type->containedTypes().at(0);
    }
    const Node& producer = *value.node();
    if (producer.kind() == c10::prim::Constant) return ConstantArgument(value, real_type);
    if (producer.kind() == c10::prim::ListConstruct) return ListArgument(producer);
    return Id(&value);
  }

  void AddNode(const Node& node) {
    if (!node.blocks().empty()) throw NotExpressible{Describe(node) + " has blocks"};
    const c10::FunctionSchema* schema = node.maybeSchema();
    if (schema == nullptr) throw NotExpressible{Describe(node) + " has no schema"};
    const std::vector<c10::Argument>& parameters = schema->arguments();
    if (parameters.size() != node.inputs().size() || schema->is_vararg()) {
      throw NotExpressible{Describe(node) + " has " + std::to_string(node.inputs().size()) +
                           " inputs for " + std::to_string(parameters.size()) +
                           " schema arguments"};
    }
    std::vector<g::Argument> arguments;
    for (size_t i = 0; i < parameters.size(); ++i) {
      arguments.push_back(ArgumentFor(*node.inputs()[i], parameters[i]));
    }

    // A list or tuple result is written as its elements, as the unpack that
    // consumes it names them.
    std::vector<const Value*> outputs;
    for (const Value* output : node.outputs()) {
      const c10::TypeKind kind = output->type()->kind();
      if (kind != c10::TypeKind::ListType && kind != c10::TypeKind::TupleType) {
        outputs.push_back(output);
        continue;
      }
      const Node* unpack = nullptr;
      for (const torch::jit::Use& use : output->uses()) {
        if (live_.count(use.user) == 0) continue;
        if (unpack != nullptr || !IsUnpack(*use.user)) {
          throw NotExpressible{Describe(node) + " returns a list used other than unpacked"};
        }
        unpack = use.user;
      }
      if (unpack == nullptr) {
        throw NotExpressible{Describe(node) + " returns a list that is not unpacked"};
      }
      for (const Value* element : unpack->outputs()) outputs.push_back(element);
    }

    std::vector<g::ValueType> types;
    for (const Value* output : outputs) types.push_back(OutputType(*output));
    types_.insert(types_.end(), types.begin(), types.end());
    const std::vector<g::ValueId> ids =
        builder_.AddNode(schema->name(), schema->overload_name(), std::move(arguments), types);
    for (size_t i = 0; i < outputs.size(); ++i) ids_[outputs[i]] = ids[i];
  }

  PortableGraph Outputs() {
    PortableGraph exported;
    std::vector<g::ValueId> distinct;
    std::unordered_map<uint32_t, uint32_t> result_of;
    bool repeated = false;
    for (const Value* output : graph_.outputs()) {
      const g::ValueId id = Id(output);
      const auto inserted = result_of.emplace(id.index, static_cast<uint32_t>(distinct.size()));
      if (inserted.second) distinct.push_back(id);
      repeated = repeated || !inserted.second;
      exported.results.push_back(inserted.first->second);
    }
    if (!repeated) exported.results.clear();
    builder_.SetOutputs(std::move(distinct));
    const std::vector<uint8_t> bytes = builder_.Finish();
    exported.bytes.assign(bytes.begin(), bytes.end());
    return exported;
  }

  const torch::jit::Graph& graph_;
  const std::vector<bool>& boolean_scalars_;
  std::unordered_set<const Node*> live_;
  std::unordered_map<const Value*, g::ValueId> ids_;
  std::vector<g::ValueType> types_;  // by value index
  g::GraphBuilder builder_;
};

}  // namespace

PortableGraph ExportPortableGraph(const torch::jit::Graph& graph,
                                  const std::vector<bool>& boolean_scalars) {
  try {
    return PortableWriter(graph, boolean_scalars).Write();
  } catch (const NotExpressible& not_expressible) {
    PortableGraph none;
    none.reason = not_expressible.reason;
    return none;
  }
}

}  // namespace ltc::host
