// A compiled ltc-graph-v1 graph: the nodes' kernels looked up, constants made
// tensors, and when each value can be dropped, all worked out once.
#pragma once

#include "kernel.h"
#include "tensor.h"

#include <ltc/graph_format.h>
#include <ltc/plugin_adapter.h>

#include <vector>

namespace ltc::ref_cpu {

class RefExecutable : public plugin::Executable {
 public:
  // Throws Error(LTC_ERROR_UNIMPLEMENTED, "<op> is not supported") for the
  // first node whose op ref_cpu does not run.
  explicit RefExecutable(graph::Graph graph);

  size_t num_parameters() const override { return graph_.num_parameters(); }
  size_t num_results() const override { return graph_.outputs().size(); }
  size_t num_nodes() const { return graph_.nodes().size(); }

  // One tensor per parameter, in order; returns one per graph output.
  // INVALID_ARGUMENT for an input that does not match its parameter's type;
  // a kernel's own errors carry its op's name.
  std::vector<Tensor> Run(std::vector<Tensor> inputs) const;

 private:
  graph::Graph graph_;
  std::vector<Kernel> kernels_;  // one per node
  std::vector<Tensor> constants_;
  // The values no later node reads, dropped after node n runs.
  std::vector<std::vector<uint32_t>> release_after_;
};

}  // namespace ltc::ref_cpu
