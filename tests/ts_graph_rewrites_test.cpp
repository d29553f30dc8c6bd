// The TorchScript plugins' graph rewrites: each fires on the patterns the
// lazy core lowers, leaves alone what it must not touch, and keeps results.
#include "graph_rewrites.h"

#include <gtest/gtest.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/torch.h>

namespace ltc::torchscript {
namespace {

std::shared_ptr<torch::jit::Graph> Parse(const std::string& text) {
  auto graph = std::make_shared<torch::jit::Graph>();
  torch::jit::parseIR(text, graph.get());
  return graph;
}

int Count(const torch::jit::Graph& graph, const char* kind) {
  int count = 0;
  for (const torch::jit::Node* node : graph.nodes()) {
    if (node->kind() == c10::Symbol::fromQualString(kind)) ++count;
  }
  return count;
}

std::vector<at::Tensor> Execute(const std::shared_ptr<torch::jit::Graph>& graph,
                            std::vector<c10::IValue> inputs) {
  torch::jit::GraphExecutor executor(graph, "");
  executor.run(inputs);
  std::vector<at::Tensor> results;
  for (const c10::IValue& value : inputs) results.push_back(value.toTensor());
  return results;
}

// The shape of an MLP layer's weight update, as the lazy core lowers it.
const char* kLinearGrad = R"IR(
graph(%w : Tensor, %x : Tensor, %g : Tensor, %old_grad : Tensor, %alpha : int):
  %wt : Tensor = aten::t_copy(%w)
  %wtt : Tensor = aten::t_copy(%wt)
  %y : Tensor = aten::mm(%x, %wtt)
  %xt : Tensor = aten::t_copy(%x)
  %gw : Tensor = aten::mm(%xt, %g)
  %gwt : Tensor = aten::t_copy(%gw)
  %zeroed : Tensor = aten::zero(%old_grad)
  %grad : Tensor = aten::add(%zeroed, %gwt, %alpha)
  %gw2 : Tensor = aten::t_copy(%gw)
  return (%y, %grad, %gw2))IR";

TEST(GraphRewrites, ViewCopiesThatOnlyFeedMatmulsBecomeViews) {
  auto graph = Parse(kLinearGrad);
  const auto inputs = std::vector<c10::IValue>{
      torch::randn({3, 3}), torch::randn({2, 3}), torch::randn({2, 3}),
      torch::randn({3, 3}), int64_t{1}};
  const auto expected = Execute(Parse(kLinearGrad), inputs);
  if (!TransposeCopiesKeepViewStrides()) {
    // 2.x: a transposed view has another layout than its copy.
    EXPECT_EQ(ReplaceViewCopiesWithViews(*graph), 0);
    return;
  }

  // t_copy(t_copy(w)) and t_copy(x) feed mm: views. t_copy(gw) feeds an
  // add and t_copy(gw) again is a graph output: both stay copies, so no
  // result's layout changes.
  EXPECT_EQ(ReplaceViewCopiesWithViews(*graph), 3);
  EXPECT_EQ(Count(*graph, "aten::t"), 3);
  EXPECT_EQ(Count(*graph, "aten::t_copy"), 2);

  const auto results = Execute(graph, inputs);
  ASSERT_EQ(results.size(), expected.size());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(torch::equal(results[i], expected[i])) << "result " << i;
    EXPECT_EQ(results[i].strides(), expected[i].strides()) << "result " << i;
  }
}

TEST(GraphRewrites, CopiesFeedingOtherOpsStay) {
  auto graph = Parse(R"IR(
graph(%w : Tensor, %size : int[]):
  %wt : Tensor = aten::t_copy(%w)
  %v : Tensor = aten::view_copy(%wt, %size)
  %v2 : Tensor = aten::mul(%v, %v)
  %w2 : Tensor = aten::t_copy(%w)
  %one : int = prim::Constant[value=1]()
  %w3 : Tensor = aten::add_(%w2, %w2, %one)
  %wo : Tensor = aten::t_copy(%w)
  return (%v2, %w3, %wo))IR");
  EXPECT_EQ(ReplaceViewCopiesWithViews(*graph), 0);
  EXPECT_EQ(Count(*graph, "aten::t_copy"), 3);
  EXPECT_EQ(Count(*graph, "aten::view_copy"), 1);
}

const char* kZeroAdd = R"IR(
graph(%old : Tensor, %b : Tensor, %alpha : int):
  %zeroed : Tensor = aten::zero(%old)
  %sum : Tensor = aten::add(%zeroed, %b, %alpha)
  return (%sum))IR";

TEST(GraphRewrites, ZeroPlusAddBecomesAGuardedProduct) {
  auto graph = Parse(kZeroAdd);
  EXPECT_EQ(FoldZeroAdd(*graph), 1);
  EXPECT_EQ(Count(*graph, "aten::add"), 0);
  EXPECT_EQ(Count(*graph, "prim::If"), 1);
  const std::vector<std::vector<c10::IValue>> cases = {
      {torch::randn({4, 3}), torch::randn({4, 3}), int64_t{2}},  // product
      {torch::randn({4, 3}), torch::randn({3}), int64_t{1}},     // broadcast
      {torch::randn({3, 4}).t(), torch::randn({4, 3}), int64_t{1}},  // strides
      {torch::randn({4, 3}), torch::randn({4, 3}, torch::kFloat64), int64_t{3}},
  };
  for (const auto& inputs : cases) {
    const auto expected = Execute(Parse(kZeroAdd), inputs);
    const auto results = Execute(graph, inputs);
    EXPECT_TRUE(torch::equal(results[0], expected[0]));
    EXPECT_EQ(results[0].scalar_type(), expected[0].scalar_type());
    EXPECT_EQ(results[0].strides(), expected[0].strides());
  }
}

// Results equal `expected` bit for bit, in dtype and in strides.
void ExpectSameResults(const std::vector<at::Tensor>& results,
                       const std::vector<at::Tensor>& expected) {
  ASSERT_EQ(results.size(), expected.size());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(torch::equal(results[i], expected[i])) << "result " << i;
    EXPECT_EQ(results[i].scalar_type(), expected[i].scalar_type()) << "result " << i;
    EXPECT_EQ(results[i].strides(), expected[i].strides()) << "result " << i;
  }
}

// Runs `graph` on copies of `inputs`; fails if the graph wrote into them.
std::vector<at::Tensor> ExecuteLeavingInputsAlone(
    const std::shared_ptr<torch::jit::Graph>& graph, const std::vector<c10::IValue>& inputs) {
  std::vector<c10::IValue> copies;
  for (const c10::IValue& input : inputs) {
    copies.push_back(input.isTensor() ? c10::IValue(input.toTensor().clone()) : input);
  }
  const auto results = Execute(graph, copies);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].isTensor()) {
      EXPECT_TRUE(torch::equal(copies[i].toTensor(), inputs[i].toTensor())) << "input " << i;
    }
  }
  return results;
}

// A linear layer's weight gradient as the lazy core lowers it, plus the
// same product where something else reads it too.
const char* kWeightGrad = R"IR(
graph(%x : Tensor, %g : Tensor):
  %xt : Tensor = aten::t_copy(%x)
  %gw : Tensor = aten::mm(%xt, %g)
  %gwt : Tensor = aten::t_copy(%gw)
  %gx : Tensor = aten::mm(%xt, %g)
  %gxt : Tensor = aten::t_copy(%gx)
  %one : int = prim::Constant[value=1]()
  %twice : Tensor = aten::add(%gx, %gx, %one)
  return (%gwt, %gxt, %twice))IR";

TEST(GraphRewrites, TransposedProductsComeBackRowMajorAsEagerGradients) {
  auto graph = Parse(kWeightGrad);
  const at::Tensor x = torch::randn({8, 5});
  const at::Tensor g = torch::randn({8, 3});
  const auto lowered = Execute(Parse(kWeightGrad), {x, g});
  if (!TransposeCopiesKeepViewStrides()) {
    // 2.x: t_copy is row-major already; nothing to do.
    EXPECT_EQ(ElideTransposeCopies(*graph), 0);
    EXPECT_TRUE(lowered[0].is_contiguous());
    return;
  }
  // The first product has no other reader: it becomes the transposed
  // product, which eager autograd computes for a weight gradient. The
  // second is read twice more: it stays, and its copy is made row-major.
  // t_copy(x) reads an input and stays.
  EXPECT_EQ(ElideTransposeCopies(*graph), 2);
  EXPECT_EQ(Count(*graph, "aten::mm"), 2);
  EXPECT_EQ(Count(*graph, "aten::t_copy"), 1);

  const auto results = ExecuteLeavingInputsAlone(graph, {x, g});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(torch::equal(results[0], g.t().mm(x)));
  EXPECT_TRUE(torch::allclose(results[0], lowered[0], 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(results[1], lowered[1]));
  EXPECT_TRUE(torch::equal(results[2], lowered[2]));
  EXPECT_TRUE(results[0].is_contiguous());
  EXPECT_TRUE(results[1].is_contiguous());
  EXPECT_EQ(results[2].strides(), lowered[2].strides());
}

TEST(GraphRewrites, ATransposedCopyOfAProductReadElsewhereStaysACopy) {
  // A one-row product's transpose is contiguous as it is; the copy must
  // still not alias the product, which is a result of its own.
  const char* text = R"IR(
graph(%a : Tensor, %b : Tensor):
  %p : Tensor = aten::mm(%a, %b)
  %pt : Tensor = aten::t_copy(%p)
  return (%p, %pt))IR";
  auto graph = Parse(text);
  ElideTransposeCopies(*graph);
  const auto results = ExecuteLeavingInputsAlone(graph, {torch::randn({1, 4}), torch::randn({4, 5})});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(torch::equal(results[1], results[0].t()));
  EXPECT_TRUE(results[1].is_contiguous());
  EXPECT_NE(results[1].data_ptr(), results[0].data_ptr());
}

const char* kZeroGrad = R"IR(
graph(%grad : Tensor):
  %zeroed : Tensor = aten::zero(%grad)
  return (%zeroed))IR";

TEST(GraphRewrites, ZeroClearsANewTensorOfTheSameLayout) {
  auto graph = Parse(kZeroGrad);
  EXPECT_EQ(ZeroWithoutCopying(*graph), 1);
  EXPECT_EQ(Count(*graph, "aten::zero"), 0);
  for (const at::Tensor& grad : {torch::randn({4, 3}), torch::randn({3, 4}).t(),
                                 torch::randint(0, 9, {2, 2}, torch::kInt64)}) {
    ExpectSameResults(ExecuteLeavingInputsAlone(graph, {grad}),
                      Execute(Parse(kZeroGrad), {grad}));
  }
}

// SGD with momentum as the lazy core lowers it: every op out of place.
const char* kMomentumStep = R"IR(
graph(%p : Tensor, %buf : Tensor, %g : Tensor, %m : Tensor, %alpha : int, %lr : float):
  %scaled : Tensor = aten::mul(%buf, %m)
  %new_buf : Tensor = aten::add(%scaled, %g, %alpha)
  %new_p : Tensor = aten::add(%p, %new_buf, %lr)
  %h : Tensor = aten::mm(%p, %p)
  %act : Tensor = aten::relu(%h)
  %shared : Tensor = aten::mul(%g, %m)
  %r1 : Tensor = aten::sub(%shared, %g, %alpha)
  %r2 : Tensor = aten::relu(%shared)
  return (%new_buf, %new_p, %act, %r1, %r2))IR";

TEST(GraphRewrites, ScratchValuesAreUpdatedInPlace) {
  auto graph = Parse(kMomentumStep);
  // In place: the add into mul(buf, m) and the relu of the product. Not:
  // anything reading an input first, or `shared`, which two ops read.
  EXPECT_EQ(UpdateScratchValuesInPlace(*graph), 2);
  EXPECT_EQ(Count(*graph, "aten::relu_"), 1);
  EXPECT_EQ(Count(*graph, "aten::relu"), 1);
  EXPECT_EQ(Count(*graph, "prim::If"), 1);

  const auto square = [] { return torch::randn({3, 3}); };
  const std::vector<std::vector<c10::IValue>> cases = {
      {square(), square(), square(), torch::tensor(0.9), int64_t{1}, -0.1},  // in place
      {square(), square(), torch::randn({3}), torch::tensor(0.9), int64_t{1}, -0.1},
      {square(), square().t(), square(), torch::tensor(0.9), int64_t{2}, -0.1},
      {square(), square(), square().to(torch::kFloat64), torch::tensor(0.9), int64_t{1}, 0.5},
  };
  for (const auto& inputs : cases) {
    ExpectSameResults(ExecuteLeavingInputsAlone(graph, inputs),
                      Execute(Parse(kMomentumStep), inputs));
  }
}

// An SGD step whose parameter and momentum buffer the host donated.
const char* kDonatedStep = R"IR(
graph(%p : Tensor, %buf : Tensor, %g : Tensor, %alpha : int, %lr : float):
  %new_buf : Tensor = aten::add(%buf, %g, %alpha)
  %new_p : Tensor = aten::add(%p, %new_buf, %lr)
  %h : Tensor = aten::mul(%g, %g)
  return (%new_buf, %new_p, %h))IR";

TEST(GraphRewrites, DonatedInputsAreUpdatedInPlaceAndNothingElse) {
  const auto inputs = [] {
    return std::vector<c10::IValue>{torch::randn({3, 3}), torch::randn({3, 3}),
                                    torch::randn({3, 3}), int64_t{1}, -0.1};
  };
  const std::vector<c10::IValue> original = inputs();
  const auto expected = Execute(Parse(kDonatedStep), original);

  auto graph = Parse(kDonatedStep);
  EXPECT_EQ(UpdateScratchValuesInPlace(*graph, {true, true, false, false, false}), 2);
  std::vector<c10::IValue> donated;
  for (const c10::IValue& input : original) {
    donated.push_back(input.isTensor() ? c10::IValue(input.toTensor().clone()) : input);
  }
  const at::Tensor p = donated[0].toTensor();
  const at::Tensor buf = donated[1].toTensor();
  const at::Tensor g = donated[2].toTensor();
  const auto results = Execute(graph, donated);
  ExpectSameResults(results, expected);
  EXPECT_EQ(results[0].data_ptr(), buf.data_ptr()) << "the momentum buffer, in place";
  EXPECT_EQ(results[1].data_ptr(), p.data_ptr()) << "the parameter, in place";
  EXPECT_TRUE(torch::equal(g, original[2].toTensor())) << "g was not donated";

  // Without flags, or with only g donated (read twice): inputs stay.
  for (const std::vector<bool>& flags :
       {std::vector<bool>{}, std::vector<bool>{false, false, true, false, false}}) {
    auto kept = Parse(kDonatedStep);
    EXPECT_EQ(UpdateScratchValuesInPlace(*kept, flags), 0);
    ExpectSameResults(ExecuteLeavingInputsAlone(kept, original), expected);
  }
}

}  // namespace
}  // namespace ltc::torchscript
