// Rewrites of the graphs the lazy core lowers, which a TorchScript plugin
// owns once it has compiled them. Each keeps results equal to the original
// graph's (the differential tests check that against the in-tree backend).
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <vector>

namespace ltc::torchscript {

// Replaces view-copy ops (t_copy, permute_copy, view_copy, ...) with the
// views they copy where only matrix products (which read any layout and
// write contiguous results) consume them, directly or through other views.
// The lazy core lowers every view as a copy; transposed weights feeding
// matmuls are most of them. Results and their layouts stay as they were.
// Only where copies keep the view's strides (1.13): under 2.x a view's
// layout differs from its contiguous copy's, and so would the last bits of
// the products reading it.
// Returns the number of ops replaced.
int ReplaceViewCopiesWithViews(torch::jit::Graph& graph);

// Whether t_copy/transpose_copy/permute_copy return the view's strides
// (a dense clone: LibTorch 1.13) rather than a contiguous copy (2.x).
bool TransposeCopiesKeepViewStrides();

// Rewrites the lazy core's copies of transposed fresh results (products,
// sums, ...) where t_copy keeps the view's strides (LibTorch 1.13; under
// 2.x t_copy is contiguous, and this does nothing). t_copy(mm(a, b)), how
// the lazy core lowers every linear layer's weight gradient, becomes
// mm(t(b), t(a)): the product eager autograd computes, in eager's row-major
// layout, with no copy. The in-tree backend returns such gradients
// column-major, and every later elementwise update reads them across rows.
// Where something else reads the product it stays, and its copy is made
// row-major. Any other t_copy/transpose_copy/permute_copy of a result
// nothing else reads becomes the view itself (same layout and bits).
// Returns the number of copies rewritten.
int ElideTransposeCopies(torch::jit::Graph& graph);

// Replaces add(zero(a), b, alpha), the lazy core's gradient accumulation
// into a freshly zeroed grad, with a guarded mul(b, alpha): taken when a
// and b have one shape, dtype and strides (then the results are equal,
// layout included), else the original ops run. zero(a) stays only where
// something else reads it. Where b is a fresh result nothing else reads
// (or a transposing view of one), the product is written into it, or is b
// itself where alpha is 1.
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
// outputs of the graph are never written, except the inputs flagged in
// `overwritable_inputs` (one flag per graph input, or empty): dense
// storage that the caller donated and that nothing else can see, which
// counts as the graph's own. Returns the number of ops replaced.
int UpdateScratchValuesInPlace(torch::jit::Graph& graph,
                               const std::vector<bool>& overwritable_inputs = {});

}  // namespace ltc::torchscript
