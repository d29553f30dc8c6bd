// Rewrites of the graphs the lazy core lowers, which a TorchScript plugin
// owns once it has compiled them. Each keeps results equal to the original
// graph's (the differential tests check that against the in-tree backend).
#pragma once

#include <torch/csrc/jit/ir/ir.h>

namespace ltc::torchscript {

// Replaces view-copy ops (t_copy, permute_copy, view_copy, ...) with the
// views they copy where only matrix products (which read any layout and
// write contiguous results) consume them, directly or through other views.
// The lazy core lowers every view as a copy; transposed weights feeding
// matmuls are most of them. Results and their layouts stay as they were.
// Returns the number of ops replaced.
int ReplaceViewCopiesWithViews(torch::jit::Graph& graph);

// Replaces add(zero(a), b, alpha), the lazy core's gradient accumulation
// into a freshly zeroed grad, with a guarded mul(b, alpha): taken when a
// and b have one shape and dtype and are contiguous (then the results are
// equal, layout included), else the original ops run. zero(a) stays only
// where something else reads it.
// Returns the number of additions replaced.
int FoldZeroAdd(torch::jit::Graph& graph);

}  // namespace ltc::torchscript
