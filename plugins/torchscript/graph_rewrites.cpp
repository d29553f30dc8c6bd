#include "graph_rewrites.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <mutex>
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

// Copies of a transposing view -> the view. Of a dense tensor, such a copy
// (clone in its layout) has exactly the view's strides.
const std::unordered_map<c10::Symbol, c10::Symbol>& TransposeOfCopy() {
  static const auto* map = new std::unordered_map<c10::Symbol, c10::Symbol>{
      {Aten("t_copy"), Aten("t")},
      {Aten("transpose_copy"), Aten("transpose")},
      {Aten("permute_copy"), Aten("permute")},
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

// Ops whose result always owns new storage, which nothing else can name.
bool ProducesFreshTensor(const Node* node) {
  static const auto* ops = new std::unordered_set<c10::Symbol>{
      Aten("mm"),        Aten("addmm"),          Aten("bmm"),
      Aten("baddbmm"),   Aten("add"),            Aten("sub"),
      Aten("mul"),       Aten("relu"),           Aten("threshold_backward"),
      Aten("clone"),     Aten("zero"),           Aten("zeros_like"),
      Aten("neg"),
      Aten("t_copy"),    Aten("transpose_copy"), Aten("permute_copy"),
      Aten("view_copy"), Aten("expand_copy")};
  return node->outputs().size() == 1 && ops->count(node->kind()) > 0;
}

// A graph output or a value read twice has other readers.
bool OnlyReadBy(const Value* value, const Node* user) {
  return value->uses().size() == 1 && value->uses()[0].user == user;
}

bool IsTransposingView(const Node* node) {
  return node->kind() == Aten("t") || node->kind() == Aten("transpose") ||
         node->kind() == Aten("permute");
}

// A value `reader` may overwrite: fresh, dense storage that only `reader`
// reads, or a transposing view of such storage that only the view reads.
bool IsScratchFor(const Value* value, const Node* reader) {
  if (!OnlyReadBy(value, reader)) return false;
  const Node* producer = value->node();
  if (ProducesFreshTensor(producer)) return true;
  return IsTransposingView(producer) && IsScratchFor(producer->input(0), producer);
}

// IR lines that define %same (bool): %a and %b have one shape and one
// dtype, so an elementwise op on them neither broadcasts nor promotes.
const char* kSameShapeAndDtype = R"IR(
  %sa : int[] = aten::size(%a)
  %sb : int[] = aten::size(%b)
  %same_size : bool = aten::eq(%sa, %sb)
  %da : int = prim::dtype(%a)
  %db : int = prim::dtype(%b)
  %same_dtype : bool = aten::eq(%da, %db)
  %same : bool = aten::__and__(%same_size, %same_dtype)
)IR";

// The guard graphs, parsed once per text: parsing costs more than the
// rest of a rewrite, and the first step of a new graph waits for it.
// insertGraph copies from them without changing them.
std::shared_ptr<torch::jit::Graph> ParseGraph(const std::string& text) {
  static std::mutex mutex;
  static auto* parsed = new std::unordered_map<std::string, std::shared_ptr<torch::jit::Graph>>;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<torch::jit::Graph>& graph = (*parsed)[text];
  if (graph == nullptr) {
    graph = std::make_shared<torch::jit::Graph>();
    torch::jit::parseIR(text, graph.get());
  }
  return graph;
}

const char* ScalarTypeName(const c10::TypePtr& type) {
  return type->kind() == c10::TypeKind::FloatType ? "float" : "int";
}

// IR lines (inside a block) that define %product = b * alpha, written into
// b unless alpha is 1.
const char* kScaleInPlace = R"IR(
      %one : int = prim::Constant[value=1]()
      %unscaled : bool = aten::eq(%alpha, %one)
      %product : Tensor = prim::If(%unscaled)
        block0():
          -> (%b)
        block1():
          %scaled : Tensor = aten::mul_(%b, %alpha)
          -> (%scaled)
)IR";

// add(zero(a), b, alpha) with a runtime guard: where a and b have one
// shape, dtype and strides, the sum is exactly mul(b, alpha), in the same
// layout; otherwise the original ops run. With `b_is_scratch` the product
// is written into b, and is b itself where alpha is 1 (the lazy core's
// gradient accumulation always passes 1, as a graph input).
std::shared_ptr<torch::jit::Graph> GuardedZeroAdd(const c10::TypePtr& alpha_type,
                                                  bool b_is_scratch) {
  const bool float_alpha = alpha_type->kind() == c10::TypeKind::FloatType;
  // A float alpha with an integral b is an error for add but not for mul.
  const std::string floating = float_alpha
      ? "  %floating : bool = aten::is_floating_point(%b)\n"
        "  %cond : bool = aten::__and__(%same_layout, %floating)\n"
      : "  %cond : bool = aten::__and__(%same_layout, %same_layout)\n";
  const char* strides =
      "  %ta : int[] = aten::stride(%a)\n"
      "  %tb : int[] = aten::stride(%b)\n"
      "  %same_strides : bool = aten::eq(%ta, %tb)\n"
      "  %same_layout : bool = aten::__and__(%same, %same_strides)\n";
  return ParseGraph(
      std::string("graph(%a : Tensor, %b : Tensor, %alpha : ") +
      ScalarTypeName(alpha_type) + "):" + kSameShapeAndDtype + strides + floating +
      "  %r : Tensor = prim::If(%cond)\n"
      "    block0():\n" +
      (b_is_scratch ? kScaleInPlace : "      %product : Tensor = aten::mul(%b, %alpha)\n") +
      R"IR(      -> (%product)
    block1():
      %zeroed : Tensor = aten::zero(%a)
      %sum : Tensor = aten::add(%zeroed, %b, %alpha)
      -> (%sum)
  return (%r))IR");
}

// op(a, b[, alpha]) written into a where the guard holds, else as before.
// `a` is dense (fresh), so its strides order the result's dimensions of two
// or more elements either way: in place, or TensorIterator's choice, which
// follows the first operand with distinct strides.
std::shared_ptr<torch::jit::Graph> GuardedInPlace(const Node* node) {
  const std::string op = node->kind().toUnqualString();
  const bool has_alpha = node->inputs().size() == 3;
  const std::string alpha_param =
      has_alpha ? std::string(", %alpha : ") + ScalarTypeName(node->input(2)->type()) : "";
  const std::string alpha_arg = has_alpha ? ", %alpha" : "";
  return ParseGraph(
      "graph(%a : Tensor, %b : Tensor" + alpha_param + "):" + kSameShapeAndDtype +
      "  %r : Tensor = prim::If(%same)\n"
      "    block0():\n"
      "      %in_place : Tensor = aten::" + op + "_(%a, %b" + alpha_arg + ")\n"
      "      -> (%in_place)\n"
      "    block1():\n"
      "      %new : Tensor = aten::" + op + "(%a, %b" + alpha_arg + ")\n"
      "      -> (%new)\n"
      "  return (%r)");
}

// op(Tensor, Tensor) or op(Tensor, Tensor, int|float alpha).
bool HasTensorOperands(const Node* node) {
  if (node->inputs().size() != 2 && node->inputs().size() != 3) return false;
  if (!node->input(1)->type()->cast<c10::TensorType>()) return false;
  if (node->inputs().size() == 2) return true;
  const c10::TypeKind alpha = node->input(2)->type()->kind();
  return alpha == c10::TypeKind::IntType || alpha == c10::TypeKind::FloatType;
}

// Replaces `node` with `replacement` inlined before it (inputs in order).
Value* InlineInPlaceOf(Node* node, torch::jit::Graph& replacement,
                       at::ArrayRef<Value*> inputs) {
  torch::jit::Graph& graph = *node->owningGraph();
  torch::jit::WithInsertPoint insert_here(node);
  Value* result = torch::jit::insertGraph(graph, replacement, inputs)[0];
  result->setType(node->output()->type());
  node->output()->replaceAllUsesWith(result);
  node->destroy();
  return result;
}

}  // namespace

int ReplaceViewCopiesWithViews(torch::jit::Graph& graph) {
  // Where copies are contiguous (2.x) a view has another layout than its
  // copy, and a product reading it sums in another order: its last bits
  // would differ from the in-tree backend's.
  if (!TransposeCopiesKeepViewStrides()) return 0;
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

bool TransposeCopiesKeepViewStrides() {
  static const bool keep = !at::t_copy(at::empty({2, 3})).is_contiguous();
  return keep;
}

int ElideTransposeCopies(torch::jit::Graph& graph) {
  // Where t_copy returns a contiguous copy (2.x), weight gradients already
  // come back row-major; computing them as another product would change
  // their last bits against the in-tree backend's for a copy saved.
  if (!TransposeCopiesKeepViewStrides()) return 0;
  int replaced = 0;
  for (auto it = graph.nodes().begin(); it != graph.nodes().end();) {
    Node* node = *it++;
    const auto view = TransposeOfCopy().find(node->kind());
    if (view == TransposeOfCopy().end()) continue;
    Node* producer = node->input(0)->node();
    if (!ProducesFreshTensor(producer)) continue;
    const bool sole_reader = OnlyReadBy(node->input(0), node);
    const bool transposed_product =
        node->kind() == Aten("t_copy") && producer->kind() == Aten("mm");
    torch::jit::WithInsertPoint insert_here(node);
    if (transposed_product && sole_reader) {
      // (a b)^T = b^T a^T: the product eager autograd computes for a
      // linear layer's weight gradient, in its row-major layout.
      Value* b_t = graph.insert(Aten("t"), {producer->input(1)});
      Value* a_t = graph.insert(Aten("t"), {producer->input(0)});
      Node* mm = graph.insertNode(graph.create(Aten("mm"), {b_t, a_t}, 1));
      mm->output()->setType(node->output()->type());
      node->output()->replaceAllUsesWith(mm->output());
      node->destroy();
      producer->destroy();
    } else if (transposed_product) {
      // The product is read elsewhere (the lazy core returns it too on a
      // first step): copy, but row-major, so that the weight gradient
      // starts in the layout later steps keep. clone, not contiguous: a
      // copy always, never an alias of the product.
      Value* view_of_product = graph.insert(Aten("t"), {node->input(0)});
      Value* copy = graph.insert(
          Aten("clone"), {view_of_product},
          {torch::jit::NamedValue("memory_format", c10::MemoryFormat::Contiguous)});
      copy->setType(node->output()->type());
      node->output()->replaceAllUsesWith(copy);
      node->destroy();
    } else if (sole_reader) {
      ReplaceWith(node, view->second);
    } else {
      continue;
    }
    ++replaced;
  }
  return replaced;
}

int FoldZeroAdd(torch::jit::Graph& graph) {
  int folded = 0;
  for (auto it = graph.nodes().begin(); it != graph.nodes().end();) {
    Node* node = *it++;
    if (node->kind() != Aten("add") || node->inputs().size() != 3 || !HasTensorOperands(node)) {
      continue;
    }
    Value* zeroed = node->inputs()[0];
    Value* addend = node->inputs()[1];
    Value* alpha = node->inputs()[2];
    // zero(a) may have other uses (the zeroed grad is often a graph output
    // too); it then stays for them.
    if (zeroed->node()->kind() != Aten("zero")) continue;

    InlineInPlaceOf(node, *GuardedZeroAdd(alpha->type(), IsScratchFor(addend, node)),
                    {zeroed->node()->input(0), addend, alpha});
    ++folded;
  }
  torch::jit::EliminateDeadCode(graph.block());
  return folded;
}

int ZeroWithoutCopying(torch::jit::Graph& graph) {
  int replaced = 0;
  for (auto it = graph.nodes().begin(); it != graph.nodes().end();) {
    Node* node = *it++;
    if (node->kind() != Aten("zero") || node->inputs().size() != 1) continue;
    torch::jit::WithInsertPoint insert_here(node);
    // zeros_like(a) defaults to a's dtype, device and layout (strides
    // preserved), as clone(a) does.
    Value* zeros = graph.insert(Aten("zeros_like"), {node->input(0)});
    zeros->setType(node->output()->type());
    node->output()->replaceAllUsesWith(zeros);
    node->destroy();
    ++replaced;
  }
  return replaced;
}

int UpdateScratchValuesInPlace(torch::jit::Graph& graph,
                               const std::vector<bool>& overwritable_inputs) {
  static const auto* binary = new std::unordered_set<c10::Symbol>{
      Aten("add"), Aten("sub"), Aten("mul")};
  // Dense values the graph may still overwrite: fresh results, in-place
  // updates of those, and transposing views of those that alone read them.
  std::unordered_set<const Value*> owned;
  for (size_t i = 0; i < overwritable_inputs.size() && i < graph.inputs().size(); ++i) {
    if (overwritable_inputs[i]) owned.insert(graph.inputs()[i]);
  }
  int updated = 0;
  for (auto it = graph.nodes().begin(); it != graph.nodes().end();) {
    Node* node = *it++;
    const bool overwritable = !node->inputs().empty() &&
                              owned.count(node->input(0)) > 0 &&
                              OnlyReadBy(node->input(0), node);
    if (overwritable && IsTransposingView(node)) {
      owned.insert(node->output());
      continue;
    }
    if (overwritable && node->kind() == Aten("relu") && node->inputs().size() == 1) {
      owned.insert(node->replaceWithNewSymbol(Aten("relu_"))->output());
      node->destroy();
      ++updated;
      continue;
    }
    if (overwritable && binary->count(node->kind()) > 0 && HasTensorOperands(node)) {
      owned.insert(InlineInPlaceOf(node, *GuardedInPlace(node), node->inputs().vec()));
      ++updated;
      continue;
    }
    if (ProducesFreshTensor(node)) owned.insert(node->output());
  }
  return updated;
}

}  // namespace ltc::torchscript
