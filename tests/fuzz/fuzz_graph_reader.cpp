// ReadGraph on any bytes. It throws FormatError (or std::bad_alloc) and
// nothing else, and what it accepts is what the spec allows: written back
// through GraphBuilder, a graph reads again, and a 1.0 file writes back to
// its own bytes (every byte of it is a known field, and the writer is the
// reader's mirror). A graph the reader accepts but cannot have meant is a
// bug as much as a crash is.
#include <ltc/graph_format.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using namespace ltc::graph;

void Check(bool promise) {
  if (!promise) std::abort();
}

std::vector<uint8_t> WriteBack(const Graph& graph) {
  GraphBuilder builder;
  const size_t num_constants = graph.constants().size();
  for (size_t i = 0; i < graph.num_parameters(); ++i) {
    Check(builder.AddParameter(graph.values()[i]).index == i);
  }
  for (const Constant& constant : graph.constants()) {
    Check(builder.AddConstant(graph.type(constant.value), constant.bytes) == constant.value);
  }
  size_t next_value = graph.num_parameters() + num_constants;
  for (const Node& node : graph.nodes()) {
    std::vector<ValueType> output_types;
    for (const ValueId output : node.outputs) {
      Check(output.index == next_value++);
      output_types.push_back(graph.type(output));
    }
    builder.AddNode(node.op, node.overload, node.arguments, std::move(output_types));
  }
  Check(next_value == graph.values().size());
  builder.SetOutputs(graph.outputs());
  return builder.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Graph graph;
  try {
    graph = ReadGraph(data, size);
  } catch (const FormatError& error) {
    Check(error.offset() <= size);
    return 0;
  }
  const std::vector<uint8_t> written = WriteBack(graph);
  if (graph.minor_version() == kFormatMinor) {
    Check(written.size() == size && std::memcmp(written.data(), data, size) == 0);
  }
  // A newer minor's extra fields are dropped: the rest reads back the same.
  Check(WriteBack(ReadGraph(written.data(), written.size())) == written);
  return 0;
}
