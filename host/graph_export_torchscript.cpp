// The TorchScript graph formats: an archive, and IR text with its
// constants pickled beside it.
#include "graph_export.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cmath>
#include <sstream>

namespace ltc::host {

std::string ExportTorchScriptArchive(torch::jit::Graph& lowered) {
  std::shared_ptr<torch::jit::Graph> graph = lowered.copy();

  // Exported functions return a single value.
  torch::jit::Node* tuple = graph->createTuple(graph->outputs());
  graph->appendNode(tuple);
  while (!graph->outputs().empty()) graph->eraseOutput(0);
  graph->registerOutput(tuple->output());

  torch::jit::Module module(c10::QualifiedName("__torch__.ltc.LoweredGraph"));
  graph->insertInput(0, "self")->setType(module.type());
  auto* function = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), "forward"), graph);
  module.type()->addMethod(function);

  std::ostringstream archive;
  module.save(archive);
  return archive.str();
}

namespace {

// Types whose values print as IR text that parseIR reads back as they were.
bool IrTextCarries(const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
    case c10::TypeKind::IntType:
    case c10::TypeKind::FloatType:
    case c10::TypeKind::NumberType:  // "Scalar"
    case c10::TypeKind::BoolType:
    case c10::TypeKind::NoneType:
    case c10::TypeKind::StringType:
      return true;
    case c10::TypeKind::ListType:
    case c10::TypeKind::OptionalType:
      return IrTextCarries(type->containedTypes()[0]);
    default:
      return false;
  }
}

// A constant the IR text holds exactly: an int, bool, None or finite float.
bool IsTextLiteral(const torch::jit::Node& constant) {
  const c10::TypePtr& type = constant.output()->type();
  switch (type->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::BoolType:
    case c10::TypeKind::NoneType:
      return true;
    case c10::TypeKind::FloatType:
      return std::isfinite(constant.f(c10::attr::value));
    default:
      return false;
  }
}

bool IrTextCarries(const torch::jit::Block& block) {
  for (const torch::jit::Value* input : block.inputs()) {
    if (!IrTextCarries(input->type())) return false;
  }
  for (const torch::jit::Node* node : block.nodes()) {
    for (const torch::jit::Value* output : node->outputs()) {
      if (!IrTextCarries(output->type())) return false;
    }
    for (const torch::jit::Block* nested : node->blocks()) {
      if (!IrTextCarries(*nested)) return false;
    }
  }
  return true;
}

}  // namespace

c10::optional<std::string> ExportTorchScriptIr(torch::jit::Graph& lowered) {
  std::shared_ptr<torch::jit::Graph> graph = lowered.copy();
  // The lowering leaves dead tuple constructs (named tuples, which the
  // parser cannot read) behind multi-output ops.
  torch::jit::EliminateDeadCode(graph);

  // Constants other than numbers, booleans and None (tensors, lists,
  // strings, devices) do not all survive the text: they become trailing
  // inputs, their values pickled beside it.
  c10::impl::GenericList constants(c10::AnyType::get());
  for (auto it = graph->nodes().begin(); it != graph->nodes().end();) {
    torch::jit::Node* node = *it++;
    if (node->kind() != c10::prim::Constant || IsTextLiteral(*node)) continue;
    torch::jit::Value* input = graph->addInput();
    input->setType(node->output()->type());
    node->output()->replaceAllUsesWith(input);
    constants.push_back(torch::jit::toIValue(node->output()).value());
    node->destroy();
  }
  if (!IrTextCarries(*graph->block())) return c10::nullopt;

  const std::vector<char> bytes = torch::jit::pickle_save(
      c10::ivalue::Tuple::create(graph->toString(/*print_source_locations=*/false),
                                 std::move(constants)));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ltc::host
