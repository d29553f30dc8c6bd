// The serialized forms of a lowered graph the host sends to plugins, one
// per graph format it writes. Each takes the graph as PluginLoweringContext
// built it and leaves it unchanged.
#pragma once

#include <c10/util/Optional.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ltc::host {

// LTC_GRAPH_FORMAT_TORCHSCRIPT: a TorchScript archive whose
// forward(self, p0, ...) returns the graph's results as one tuple.
std::string ExportTorchScriptArchive(torch::jit::Graph& graph);

// LTC_GRAPH_FORMAT_TORCHSCRIPT_IR, which a plugin reads without compiling
// source, or nullopt where the IR text cannot carry it (values of types the
// IR parser does not read back as they were, such as named tuples or
// devices): such graphs go as archives.
c10::optional<std::string> ExportTorchScriptIr(torch::jit::Graph& graph);

// LTC_GRAPH_FORMAT_PORTABLE (ltc-graph-v1, plugin_api/graph/graph-format.md).
struct PortableGraph {
  // Empty where the format cannot carry the graph; `reason` says why.
  std::string bytes;
  std::string reason;
  // The format returns each value once: graph output i is the plugin's
  // result results[i]. Empty when they are the same.
  std::vector<uint32_t> results;
};
// Value types come from the graph's tensor types, which
// PluginLoweringContext completes from the lazy IR's shapes
// (AnnotateValueTypes) where the plugin reads this format.
// `boolean_scalars[i]`: input i, typed `int`, binds a boolean scalar.
PortableGraph ExportPortableGraph(const torch::jit::Graph& graph,
                                  const std::vector<bool>& boolean_scalars);

}  // namespace ltc::host
