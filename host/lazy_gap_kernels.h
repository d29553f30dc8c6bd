// Kernels at the Lazy dispatch key for ops the lazy core of this LibTorch
// has no lowering for, written as decompositions into ops it lowers.
#pragma once

#include <string>
#include <vector>

namespace ltc::host {

// Registers, once per process, the decomposition of every op in the table
// of lazy_gap_kernels.cpp that has no kernel of its own at the Lazy key (so
// a LibTorch that lowers an op keeps its lowering). Call after the lazy
// core's kernels are registered (torch::lazy::InitTorchScriptBackend).
// Returns the operators registered, in the table's order.
const std::vector<std::string>& RegisterLazyGapKernels();

}  // namespace ltc::host
