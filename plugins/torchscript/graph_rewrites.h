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

// Whether t_copy/transpose_copy/permute_copy return the view's strides
// (a dense clone: LibTorch 1.13) rather than a contiguous copy (2.x).
bool TransposeCopiesKeepViewStrides();

// Removes the copy in t_copy/transpose_copy/permute_copy of a fresh result
// nothing else reads (a product, a sum, ...), keeping the result's layout:
// where copies keep the view's strides (1.13), the copy becomes the view
// itself; where they are contiguous (2.x), t_copy(mm(a, b)) becomes
// mm(t(b), t(a)), which may differ in the last bits (the matrix library
// sums in another order). The lazy core lowers every linear layer's weight
// gradient as t_copy(mm(...)); copying a large product costs about as much
// as the product. Returns the number of copies removed.
int ElideTransposeCopies(torch::jit::Graph& graph);

// Replaces add(zero(a), b, alpha), the lazy core's gradient accumulation
// into a freshly zeroed grad, with a guarded mul(b, alpha): taken when a
// and b have one shape, dtype and strides (then the results are equal,
// layout included), else the original ops run. zero(a) stays only where
// something else reads it. Where b is a fresh result nothing else reads
// (or a transposing view of one), the product is written into it.
// Returns the number of additions replaced.
int FoldZeroAdd(torch::jit::Graph& graph);

// Replaces zero(a), which copies a and then clears the copy, with
// zeros_like(a), which clears a new tensor of a's dtype and layout. The lazy
// core lowers every optimizer.zero_grad() that way.
// Returns the number of ops replaced.
int ZeroWithoutCopying(torch::jit::Graph& graph);

// Writes add/sub/mul (tensor operands) and relu into their first operand
// where that is storage the graph itself allocated and nothing else reads
// (the lazy core lowers every in-place op out of place, so an optimizer
// step allocates a new tensor per op). Binary ops are guarded at run time:
// in place only where both operands have one shape and dtype, else out of
// place as before. Results keep their values and layouts. Inputs and
// outputs of the graph are never written. Returns the number of ops
// replaced.
int UpdateScratchValuesInPlace(torch::jit::Graph& graph);

}  // namespace ltc::torchscript
