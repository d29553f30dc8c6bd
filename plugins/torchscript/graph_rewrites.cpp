#include "graph_rewrites.h"

#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <string>
#include <unordered_map>
#include <unordered_set>

namespace ltc::torchscript {
namespace {

using torch::jit::Node;
using torch::jit::Value;

c10::Symbol Aten(const char* name) {
  return c10::Symbol::fromQualString(std::string("aten::") + name);
}

// View-copy op -> the view it copies (same arguments). view_copy becomes
// reshape, which accepts inputs of any strides, as view_copy does.
const std::unordered_map<c10::Symbol, c10::Symbol>& ViewOfCopy() {
  static const auto* map = new std::unordered_map<c10::Symbol, c10::Symbol>{
      {Aten("t_copy"), Aten("t")},
      {Aten("transpose_copy"), Aten("transpose")},
      {Aten("permute_copy"), Aten("permute")},
      {Aten("expand_copy"), Aten("expand")},
      {Aten("unsqueeze_copy"), Aten("unsqueeze")},
      {Aten("squeeze_copy"), Aten("squeeze")},
      {Aten("select_copy"), Aten("select")},
      {Aten("slice_copy"), Aten("slice")},
      {Aten("diagonal_copy"), Aten("diagonal")},
      {Aten("detach_copy"), Aten("detach")},
      {Aten("alias_copy"), Aten("alias")},
      {Aten("view_copy"), Aten("reshape")},
  };
  return *map;
}

// Ops that read inputs of any layout and write a fresh contiguous result,
// so a view in place of a copy changes neither their values nor the layout
// of anything downstream. Elementwise ops are not here: their results take
// their inputs' strides, and results reach users.
bool NormalisesLayout(const Node* user) {
  static const auto* ops = new std::unordered_set<c10::Symbol>{
      Aten("mm"), Aten("addmm"), Aten("bmm"), Aten("baddbmm")};
  return ops->count(user->kind()) > 0;
}

bool IsSizeViewCopy(const Node* node) {
  // view_copy.dtype reinterprets bits; only the size overload is a reshape.
  return node->kind() != Aten("view_copy") ||
         node->inputs().at(1)->type()->kind() == c10::TypeKind::ListType;
}

Node* ReplaceWith(Node* node, c10::Symbol kind) {
  torch::jit::Graph& graph = *node->owningGraph();
  Node* replacement = graph.create(kind, node->inputs(), 1);
  replacement->insertBefore(node);
  replacement->output()->setType(node->output()->type());
  node->output()->replaceAllUsesWith(replacement->output());
  node->destroy();
  return replacement;
}

// add(zero(a), b, alpha) with a runtime guard: where a and b have one
// shape and dtype and are contiguous, the sum is exactly mul(b, alpha) and
// has b's layout; otherwise the original ops run.
std::shared_ptr<torch::jit::Graph> GuardedZeroAdd(const c10::TypePtr& alpha_type) {
  const bool float_alpha = alpha_type->kind() == c10::TypeKind::FloatType;
  // A float alpha with an integral b is an error for add but not for mul.
  const std::string floating = float_alpha
      ? "  %floating : bool = aten::is_floating_point(%b)\n"
        "  %cond : bool = aten::__and__(%c3, %floating)\n"
      : "  %cond : bool = aten::__and__(%c3, %c3)\n";
  const std::string text =
      std::string("graph(%a : Tensor, %b : Tensor, %alpha : ") +
      (float_alpha ? "float" : "int") + R"IR():
  %sa : int[] = aten::size(%a)
  %sb : int[] = aten::size(%b)
  %same_size : bool = aten::eq(%sa, %sb)
  %da : int = prim::dtype(%a)
  %db : int = prim::dtype(%b)
  %same_dtype : bool = aten::eq(%da, %db)
  %ca : bool = aten::is_contiguous(%a)
  %cb : bool = aten::is_contiguous(%b)
  %c1 : bool = aten::__and__(%same_size, %same_dtype)
  %c2 : bool = aten::__and__(%ca, %cb)
  %c3 : bool = aten::__and__(%c1, %c2)
)IR" + floating + R"IR(  %r : Tensor = prim::If(%cond)
    block0():
      %product : Tensor = aten::mul(%b, %alpha)
      -> (%product)
    block1():
      %zeroed : Tensor = aten::zero(%a)
      %sum : Tensor = aten::add(%zeroed, %b, %alpha)
      -> (%sum)
  return (%r))IR";
  auto graph = std::make_shared<torch::jit::Graph>();
  torch::jit::parseIR(text, graph.get());
  return graph;
}

}  // namespace

int ReplaceViewCopiesWithViews(torch::jit::Graph& graph) {
  // Users before producers: a copy may become a view when every use is an
  // op that normalises layout, or a view-copy already made a view whose own
  // uses passed the same test.
  std::unordered_set<const Value*> may_be_view;
  int replaced = 0;
  std::vector<Node*> nodes(graph.nodes().begin(), graph.nodes().end());
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* node = *it;
    const auto view = ViewOfCopy().find(node->kind());
    if (view == ViewOfCopy().end() || !IsSizeViewCopy(node)) continue;
    bool safe = !node->output()->uses().empty();
    for (const torch::jit::Use& use : node->output()->uses()) {
      safe = safe && (NormalisesLayout(use.user) ||
                      (use.user->outputs().size() == 1 &&
                       may_be_view.count(use.user->output()) > 0));
    }
    if (!safe) continue;
    may_be_view.insert(ReplaceWith(node, view->second)->output());
    ++replaced;
  }
  return replaced;
}

int FoldZeroAdd(torch::jit::Graph& graph) {
  int folded = 0;
  for (auto it = graph.nodes().begin(); it != graph.nodes().end();) {
    Node* node = *it++;
    if (node->kind() != Aten("add") || node->inputs().size() != 3) continue;
    Value* zeroed = node->inputs()[0];
    Value* addend = node->inputs()[1];
    Value* alpha = node->inputs()[2];
    // zero(a) may have other uses (the zeroed grad is often a graph output
    // too); it then stays for them.
    if (zeroed->node()->kind() != Aten("zero")) continue;
    if (!addend->type()->cast<c10::TensorType>()) continue;
    const c10::TypeKind alpha_kind = alpha->type()->kind();
    if (alpha_kind != c10::TypeKind::IntType && alpha_kind != c10::TypeKind::FloatType) continue;

    torch::jit::WithInsertPoint insert_here(node);
    auto guarded = GuardedZeroAdd(alpha->type());
    Value* result =
        torch::jit::insertGraph(graph, *guarded, {zeroed->node()->input(0), addend, alpha})[0];
    result->setType(node->output()->type());
    node->output()->replaceAllUsesWith(result);
    node->destroy();
    ++folded;
  }
  torch::jit::EliminateDeadCode(graph.block());
  return folded;
}

}  // namespace ltc::torchscript
