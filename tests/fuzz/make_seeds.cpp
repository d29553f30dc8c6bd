// Writes the graph seeds of the fuzz corpus: `fuzz_make_seeds tests/fuzz`.
//
// graphs/<name>.txt are lazy graphs as the lazy core lowers them (printed by
// torch._C._lazy._get_tensors_backend for an MLP and a CNN training step and
// a few other ops); each becomes corpus/fuzz_ts_archive/<name>.pt and
// corpus/fuzz_ts_ir/<name>.ir through the host's own exporters. The
// ltc-graph-v1 seeds (corpus/fuzz_graph_reader/) are built here with
// GraphBuilder, to reach every section, argument tag, value kind and dtype.
#include "graph_export.h"

#include <ltc/graph_format.h>

#include <torch/csrc/jit/ir/irparser.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace g = ltc::graph;

void Write(const fs::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("cannot write " + path.string());
  std::cout << path.string() << ": " << size << " bytes\n";
}

void Write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  // Every seed must be one the reader accepts, or it only covers an error.
  g::ReadGraph(bytes.data(), bytes.size());
  Write(path, bytes.data(), bytes.size());
}

g::ValueType Tensor(DLDataType dtype, std::vector<int64_t> shape) {
  return {g::ValueKind::kTensor, dtype, std::move(shape)};
}

constexpr DLDataType kFloat{kDLFloat, 32, 1};
constexpr DLDataType kDouble{kDLFloat, 64, 1};
constexpr DLDataType kLong{kDLInt, 64, 1};
constexpr DLDataType kBool{LTC_DL_BOOL_CODE, 8, 1};

std::vector<uint8_t> Bytes(size_t count, uint8_t value) { return std::vector<uint8_t>(count, value); }

// y = relu(x w^T + b); sum(y) * 0.5, as the host writes a linear layer.
std::vector<uint8_t> LinearRelu() {
  g::GraphBuilder graph;
  const g::ValueId x = graph.AddParameter(Tensor(kFloat, {4, 3}));
  const g::ValueId w = graph.AddParameter(Tensor(kFloat, {5, 3}));
  const g::ValueId b = graph.AddParameter(Tensor(kFloat, {5}));
  double half = 0.5;
  std::vector<uint8_t> half_bytes(sizeof half);
  std::memcpy(half_bytes.data(), &half, sizeof half);
  const g::ValueId scale = graph.AddConstant({g::ValueKind::kScalar, kDouble, std::vector<int64_t>{}},
                                             half_bytes);
  const g::ValueId wt = graph.AddNode("aten::t_copy", "", {w}, {Tensor(kFloat, {3, 5})})[0];
  const g::ValueId z = graph.AddNode("aten::addmm", "", {b, x, wt, int64_t{1}, int64_t{1}},
                                     {Tensor(kFloat, {4, 5})})[0];
  const g::ValueId y = graph.AddNode("aten::relu", "", {z}, {Tensor(kFloat, {4, 5})})[0];
  const g::ValueId sum = graph.AddNode("aten::sum", "", {y, g::None{}}, {Tensor(kFloat, {})})[0];
  const g::ValueId loss = graph.AddNode("aten::mul", "Scalar", {sum, scale}, {Tensor(kFloat, {})})[0];
  graph.SetOutputs({loss, y});
  return graph.Finish();
}

// One node with an argument of every tag, outputs of unknown rank and size.
std::vector<uint8_t> EveryArgument() {
  g::GraphBuilder graph;
  const g::ValueId a = graph.AddParameter(Tensor(kFloat, {2, 3}));
  const g::ValueId n = graph.AddParameter({g::ValueKind::kScalar, kLong, std::vector<int64_t>{}});
  const std::vector<g::ValueId> outputs = graph.AddNode(
      "prim::Every", "arg_0",
      {a, std::vector<g::OptionalValue>{a, std::nullopt, n}, g::None{}, int64_t{-7}, 2.5, true,
       std::vector<int64_t>{1, -1, 0}, std::vector<double>{0.0, -1e300}, std::vector<bool>{true, false},
       DLDataType{kDLBfloat, 16, 1}, std::string("cuda:0 \xc3\xa9")},
      {{g::ValueKind::kTensor, kFloat, std::nullopt}, Tensor(kBool, {g::kUnknownDim, 3}),
       {g::ValueKind::kScalar, kBool, std::vector<int64_t>{}}});
  graph.SetOutputs({outputs[1], outputs[0], outputs[2], n});
  return graph.Finish();
}

// A constant of every dtype the format allows, and shapes with zeros.
std::vector<uint8_t> EveryDtype() {
  g::GraphBuilder graph;
  const g::ValueId empty = graph.AddParameter(Tensor(kFloat, {0, 5}));
  graph.AddParameter({g::ValueKind::kScalar, kDouble, std::vector<int64_t>{}});
  graph.AddParameter({g::ValueKind::kScalar, kBool, std::vector<int64_t>{}});
  std::vector<g::ValueId> values{empty};
  const std::vector<DLDataType> dtypes{
      {kDLInt, 8, 1},   {kDLInt, 16, 1},     {kDLInt, 32, 1},     {kDLInt, 64, 1},
      {kDLUInt, 8, 1},  {kDLUInt, 16, 1},    {kDLUInt, 32, 1},    {kDLUInt, 64, 1},
      {kDLFloat, 16, 1}, {kDLFloat, 32, 1},  {kDLFloat, 64, 1},   {kDLBfloat, 16, 1},
      {kDLComplex, 32, 1}, {kDLComplex, 64, 1}, {kDLComplex, 128, 1}, kBool};
  for (const DLDataType dtype : dtypes) {
    values.push_back(graph.AddConstant(Tensor(dtype, {2, 1}), Bytes(2 * dtype.bits / 8, 1)));
  }
  values.push_back(graph.AddConstant(Tensor(kLong, {3, 0, 1000000}), {}));
  std::vector<g::OptionalValue> list(values.begin(), values.end());
  const g::ValueId cat =
      graph.AddNode("aten::cat", "", {list, int64_t{0}}, {Tensor(kFloat, {g::kUnknownDim})})[0];
  graph.SetOutputs({cat, values[1]});
  return graph.Finish();
}

// `graph` as a file of minor 1: a section this reader does not know.
std::vector<uint8_t> NewerMinor(std::vector<uint8_t> graph) {
  graph[10] = 1;
  const uint8_t section[] = {99, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 'n', 'e', 'w'};
  graph.insert(graph.end(), std::begin(section), std::end(section));
  return graph;
}

void TorchScriptSeeds(const fs::path& root) {
  for (const auto& entry : fs::directory_iterator(root / "graphs")) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto graph = std::make_shared<torch::jit::Graph>();
    torch::jit::parseIR(text.str(), graph.get(), /*parse_tensor_constants=*/true);
    const std::string name = entry.path().stem().string();
    const std::string archive = ltc::host::ExportTorchScriptArchive(*graph);
    Write(root / "corpus/fuzz_ts_archive" / (name + ".pt"), archive.data(), archive.size());
    if (const c10::optional<std::string> ir = ltc::host::ExportTorchScriptIr(*graph)) {
      Write(root / "corpus/fuzz_ts_ir" / (name + ".ir"), ir->data(), ir->size());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " TESTS_FUZZ_DIR\n";
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* target : {"fuzz_graph_reader", "fuzz_ts_archive", "fuzz_ts_ir"}) {
    fs::create_directories(root / "corpus" / target);
  }
  const fs::path portable = root / "corpus/fuzz_graph_reader";
  Write(portable / "linear_relu.ltcg", LinearRelu());
  Write(portable / "every_argument.ltcg", EveryArgument());
  Write(portable / "every_dtype.ltcg", EveryDtype());
  Write(portable / "newer_minor.ltcg", NewerMinor(LinearRelu()));
  TorchScriptSeeds(root);
  return 0;
}
