// Shape kernels: every view op as a copy (a strided gather from the
// contiguous input), their functional *_scatter inverses, concatenation,
// indexing and padding.
#include "dispatch.h"
#include "kernel.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace ltc::ref_cpu {

namespace {

using plugin::Error;

// f(TypeTag<U>) for an unsigned type as wide as one element: moving
// elements needs only their size.
template <typename F>
void BySize(DLDataType dtype, F&& f) {
  switch (dtype.bits / 8) {
    case 1: f(TypeTag<uint8_t>{}); return;
    case 2: f(TypeTag<uint16_t>{}); return;
    case 4: f(TypeTag<uint32_t>{}); return;
    case 8: f(TypeTag<uint64_t>{}); return;
    default: ThrowUnsupportedDtype("copy", dtype);
  }
}

// Elements of a contiguous tensor seen through strides: a view.
struct View {
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;
};

View Identity(const Tensor& t) { return {t.shape(), ContiguousStrides(t.shape()), 0}; }

// The elements `view` selects from `in`, as a new contiguous tensor.
Tensor Gather(const Tensor& in, const View& view) {
  return GatherStrided(in, view.shape, view.strides, view.offset);
}

// A copy of `self` whose elements `view` selects are replaced by `src`
// (which broadcasts to the view's shape), converted to self's dtype.
Tensor Scatter(const std::string& op, const Tensor& self, const Tensor& src, const View& view) {
  if (BroadcastShapes(src.shape(), view.shape, op) != view.shape) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, op + ": src of shape " + ShapeString(src.shape()) +
                                                " does not fit a slice of shape " +
                                                ShapeString(view.shape));
  }
  Tensor out = Tensor::Empty(self.dtype(), self.shape());
  std::memcpy(out.mutable_raw(), self.raw(), self.nbytes());
  const Tensor s = src.To(self.dtype());
  BySize(self.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* from = s.data<U>();
    U* dst = out.mutable_data<U>() + view.offset;
    const std::array<std::vector<int64_t>, 2> strides{view.strides,
                                                      BroadcastStrides(s.shape(), view.shape)};
    ForEachBroadcast<2>(view.shape, strides, [&](int64_t, const std::array<int64_t, 2>& off) {
      dst[off[0]] = from[off[1]];
    });
  });
  return out;
}

Tensor Copy(const Tensor& t) {
  Tensor out = Tensor::Empty(t.dtype(), t.shape());
  std::memcpy(out.mutable_raw(), t.raw(), t.nbytes());
  return out;
}

// A size list with at most one -1, resolved against `numel`.
std::vector<int64_t> InferSize(const KernelArgs& a, size_t i, std::vector<int64_t> size,
                               int64_t numel) {
  int64_t known = 1;
  int64_t infer = -1;
  for (size_t d = 0; d < size.size(); ++d) {
    if (size[d] == -1) {
      if (infer >= 0) a.Fail(i, "only one dimension can be inferred");
      infer = static_cast<int64_t>(d);
    } else if (size[d] < 0) {
      a.Fail(i, "invalid size " + std::to_string(size[d]));
    } else {
      known *= size[d];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) {
      a.Fail(i, "shape " + ShapeString(size) + " is invalid for input of size " +
                    std::to_string(numel));
    }
    size[infer] = numel / known;
  } else if (known != numel) {
    a.Fail(i, "shape " + ShapeString(size) + " is invalid for input of size " +
                  std::to_string(numel));
  }
  return size;
}

std::vector<Tensor> ViewCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(x.Reshaped(InferSize(a, 1, a.int_list(1), x.numel())));
}

std::vector<Tensor> ViewDtype(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const DLDataType d = a.dtype(1);
  if (d.bits != x.dtype().bits) a.Unsupported("a view to a dtype of another size");
  Tensor out = Tensor::Empty(d, x.shape());
  std::memcpy(out.mutable_raw(), x.raw(), x.nbytes());
  return One(out);
}

View Permuted(const KernelArgs& a, const Tensor& x, const std::vector<int64_t>& dims) {
  if (static_cast<int64_t>(dims.size()) != x.dim()) {
    a.Fail(1, "permutation of " + std::to_string(dims.size()) + " dims for a tensor of rank " +
                  std::to_string(x.dim()));
  }
  const View id = Identity(x);
  View v;
  std::vector<bool> seen(dims.size(), false);
  for (int64_t d : dims) {
    const int64_t w = WrapDim(d, x.dim(), a.op());
    if (seen[w]) a.Fail(1, "repeated dim in permutation");
    seen[w] = true;
    v.shape.push_back(id.shape[w]);
    v.strides.push_back(id.strides[w]);
  }
  return v;
}

std::vector<Tensor> PermuteCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Gather(x, Permuted(a, x, a.int_list(1))));
}

Tensor Transposed(const KernelArgs& a, const Tensor& x, int64_t d0, int64_t d1) {
  if (x.dim() < 2) return Copy(x);
  std::vector<int64_t> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[WrapDim(d0, x.dim(), a.op())], dims[WrapDim(d1, x.dim(), a.op())]);
  return Gather(x, Permuted(a, x, dims));
}

std::vector<Tensor> TCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  if (x.dim() > 2) a.Fail(0, "t() expects a tensor of at most 2 dims, got " + ShapeString(x.shape()));
  return One(Transposed(a, x, 0, 1));
}

std::vector<Tensor> TransposeCopy(const KernelArgs& a) {
  return One(Transposed(a, a.tensor(0), a.integer(1), a.integer(2)));
}

std::vector<Tensor> ExpandCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::vector<int64_t> size = a.int_list(1);
  if (size.size() < x.shape().size()) {
    a.Fail(1, "expanded size " + ShapeString(size) + " has fewer dims than " +
                  ShapeString(x.shape()));
  }
  View v;
  const size_t lead = size.size() - x.shape().size();
  const std::vector<int64_t> own = ContiguousStrides(x.shape());
  for (size_t d = 0; d < size.size(); ++d) {
    if (d < lead) {
      if (size[d] < 0) a.Fail(1, "-1 is not allowed in a leading, new dimension");
      v.shape.push_back(size[d]);
      v.strides.push_back(0);
      continue;
    }
    const int64_t s = x.shape()[d - lead];
    const int64_t want = size[d] == -1 ? s : size[d];
    if (want != s && s != 1) {
      a.Fail(1, "cannot expand " + ShapeString(x.shape()) + " to " + ShapeString(size));
    }
    v.shape.push_back(want);
    v.strides.push_back(s == 1 && want != 1 ? 0 : own[d - lead]);
  }
  return One(Gather(x, v));
}

std::vector<Tensor> SqueezeAll(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  std::vector<int64_t> shape;
  for (int64_t s : x.shape()) {
    if (s != 1) shape.push_back(s);
  }
  return One(x.Reshaped(shape));
}

Tensor SqueezeDims(const KernelArgs& a, const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<bool> drop(x.dim(), false);
  for (int64_t d : dims) {
    if (x.dim() == 0) continue;
    const int64_t w = WrapDim(d, x.dim(), a.op());
    if (x.shape()[w] == 1) drop[w] = true;
  }
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!drop[d]) shape.push_back(x.shape()[d]);
  }
  return x.Reshaped(shape);
}

std::vector<Tensor> SqueezeDim(const KernelArgs& a) {
  return One(SqueezeDims(a, a.tensor(0), {a.integer(1)}));
}
std::vector<Tensor> SqueezeDimsKernel(const KernelArgs& a) {
  return One(SqueezeDims(a, a.tensor(0), a.int_list(1)));
}

std::vector<Tensor> UnsqueezeCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const int64_t d = WrapDim(a.integer(1), x.dim() + 1, a.op());
  std::vector<int64_t> shape = x.shape();
  shape.insert(shape.begin() + d, 1);
  return One(x.Reshaped(shape));
}

View Selected(const KernelArgs& a, const Tensor& x, int64_t dim, int64_t index) {
  if (x.dim() == 0) a.Fail(0, "select() cannot be applied to a 0-dim tensor");
  const int64_t d = WrapDim(dim, x.dim(), a.op());
  const int64_t size = x.shape()[d];
  if (index < -size || index >= size) {
    a.Fail(2, "index " + std::to_string(index) + " out of range for dimension of size " +
                  std::to_string(size));
  }
  if (index < 0) index += size;
  View v = Identity(x);
  v.offset = index * v.strides[d];
  v.shape.erase(v.shape.begin() + d);
  v.strides.erase(v.strides.begin() + d);
  return v;
}

std::vector<Tensor> SelectCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Gather(x, Selected(a, x, a.integer(1), a.integer(2))));
}

View Sliced(const KernelArgs& a, const Tensor& x, int64_t dim, std::optional<int64_t> start,
            std::optional<int64_t> end, int64_t step) {
  if (x.dim() == 0) a.Fail(0, "slice() cannot be applied to a 0-dim tensor");
  if (step <= 0) a.Fail(4, "slice step must be positive");
  const int64_t d = WrapDim(dim, x.dim(), a.op());
  const int64_t size = x.shape()[d];
  int64_t s = start.value_or(0), e = end.value_or(size);
  if (s < 0) s += size;
  if (e < 0) e += size;
  s = std::clamp<int64_t>(s, 0, size);
  e = std::clamp<int64_t>(e, s, size);
  View v = Identity(x);
  v.offset = s * v.strides[d];
  v.shape[d] = (e - s + step - 1) / step;
  v.strides[d] *= step;
  return v;
}

std::vector<Tensor> SliceCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Gather(x, Sliced(a, x, a.integer(1), a.optional_integer(2), a.optional_integer(3),
                              a.integer(4))));
}

std::vector<Tensor> NarrowCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const int64_t d = WrapDim(a.integer(1), x.dim(), a.op());
  int64_t start = a.integer(2);
  const int64_t length = a.integer(3);
  if (start < 0) start += x.shape()[d];
  if (start < 0 || length < 0 || start + length > x.shape()[d]) {
    a.Fail(2, "start " + std::to_string(start) + " and length " + std::to_string(length) +
                  " exceed the dimension's size " + std::to_string(x.shape()[d]));
  }
  return One(Gather(x, Sliced(a, x, d, start, start + length, 1)));
}

View Diagonal(const KernelArgs& a, const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  const int64_t d1 = WrapDim(dim1, x.dim(), a.op()), d2 = WrapDim(dim2, x.dim(), a.op());
  if (d1 == d2) a.Fail(2, "diagonal dimensions cannot be identical");
  const View id = Identity(x);
  View v;
  int64_t len;
  if (offset >= 0) {
    len = std::max<int64_t>(std::min(id.shape[d1], id.shape[d2] - offset), 0);
    v.offset = len > 0 ? offset * id.strides[d2] : 0;
  } else {
    len = std::max<int64_t>(std::min(id.shape[d1] + offset, id.shape[d2]), 0);
    v.offset = len > 0 ? -offset * id.strides[d1] : 0;
  }
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == d1 || d == d2) continue;
    v.shape.push_back(id.shape[d]);
    v.strides.push_back(id.strides[d]);
  }
  v.shape.push_back(len);
  v.strides.push_back(id.strides[d1] + id.strides[d2]);
  return v;
}

std::vector<Tensor> DiagonalCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Gather(x, Diagonal(a, x, a.integer(1), a.integer(2), a.integer(3))));
}

// Refuses a view that reaches outside the input's elements.
View Strided(const KernelArgs& a, const Tensor& x, std::vector<int64_t> size,
             std::vector<int64_t> stride, int64_t offset) {
  if (size.size() != stride.size()) a.Fail(2, "size and stride must have the same length");
  int64_t lo = offset, hi = offset;
  bool empty = false;
  for (size_t d = 0; d < size.size(); ++d) {
    if (size[d] < 0) a.Fail(1, "negative size");
    if (size[d] == 0) empty = true;
    const int64_t reach = (size[d] - 1) * stride[d];
    if (reach < 0) lo += reach; else hi += reach;
  }
  if (!empty && (lo < 0 || hi >= x.numel())) {
    a.Fail(1, "as_strided of size " + ShapeString(size) + ", stride " + ShapeString(stride) +
                  " and offset " + std::to_string(offset) + " reaches outside " +
                  std::to_string(x.numel()) + " elements");
  }
  return {std::move(size), std::move(stride), offset};
}

std::vector<Tensor> AsStridedCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Gather(x, Strided(a, x, a.int_list(1), a.int_list(2), a.optional_integer(3).value_or(0))));
}

std::vector<Tensor> ReshapeAliasCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Gather(x, Strided(a, x, a.int_list(1), a.int_list(2), 0)));
}

std::vector<Tensor> CopyKernel(const KernelArgs& a) { return One(Copy(a.tensor(0))); }

// aten::IntImplicit (a 0-dim integer tensor as an int): TorchScript's
// lowering of slice_copy wraps its bounds in it. The int stays a 0-dim
// int64 tensor, which KernelArgs::number reads as the number it holds.
std::vector<Tensor> IntImplicit(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  if (x.dim() != 0 || !IsIntegral(x.dtype())) {
    a.Fail(0, "expected a 0-dim integer tensor, got " + DtypeName(x.dtype()) +
                  ShapeString(x.shape()));
  }
  return One(x.To(kInt64));
}

// aten::ScalarImplicit and aten::FloatImplicit (a 0-dim tensor as a
// number: LibTorch 2.x lowers Scalar arguments that are lazy values so): the
// host declares the number float64, int64 or bool by its tensor's kind.
std::vector<Tensor> NumberImplicit(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  if (x.dim() != 0) a.Fail(0, "expected a 0-dim tensor, got " + ShapeString(x.shape()));
  const DLDataType number = IsFloating(x.dtype()) ? kFloat64 : IsBool(x.dtype()) ? kBool : kInt64;
  return One(x.To(a.declared_dtype(0).value_or(number)));
}

std::vector<Tensor> ToCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::optional<DLDataType> dtype = a.optional_dtype(1);
  if (!a.is_none(3)) {
    const std::string& device = a.string(3);
    if (device.compare(0, 3, "cpu") != 0 && device.compare(0, 4, "lazy") != 0) {
      a.Unsupported("_to_copy to device '" + device + "'");
    }
  }
  if (!dtype || *dtype == x.dtype()) return One(Copy(x));
  return One(x.To(*dtype));
}

// --- scatters (the functional inverses of views) -------------------------------

std::vector<Tensor> SelectScatter(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Scatter(a.op(), x, a.tensor(1), Selected(a, x, a.integer(2), a.integer(3))));
}

std::vector<Tensor> SliceScatter(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Scatter(a.op(), x, a.tensor(1),
                     Sliced(a, x, a.integer(2), a.optional_integer(3), a.optional_integer(4),
                            a.integer(5))));
}

std::vector<Tensor> DiagonalScatter(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Scatter(a.op(), x, a.tensor(1),
                     Diagonal(a, x, a.integer(2), a.integer(3), a.integer(4))));
}

std::vector<Tensor> AsStridedScatter(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  return One(Scatter(a.op(), x, a.tensor(1),
                     Strided(a, x, a.int_list(2), a.int_list(3), a.optional_integer(4).value_or(0))));
}

// --- joining and splitting -------------------------------------------------------

Tensor Cat(const KernelArgs& a, const std::vector<Tensor>& inputs, int64_t dim) {
  if (inputs.empty()) a.Fail(0, "expected a non-empty list of tensors");
  // torch skips legacy empty 1-D tensors of shape [0].
  std::vector<const Tensor*> parts;
  ResultTypeBuilder rt;
  for (const Tensor& t : inputs) {
    rt.Add(t);
    if (!(t.dim() == 1 && t.numel() == 0)) parts.push_back(&t);
  }
  const DLDataType dtype = rt.Get();
  if (parts.empty()) return Tensor::Empty(dtype, inputs[0].shape());
  const Tensor& first = *parts[0];
  if (first.dim() == 0) a.Fail(0, "zero-dimensional tensors cannot be concatenated");
  const int64_t d = WrapDim(dim, first.dim(), a.op());
  std::vector<int64_t> shape = first.shape();
  shape[d] = 0;
  for (const Tensor* t : parts) {
    if (t->dim() != first.dim()) a.Fail(0, "tensors must have the same number of dimensions");
    for (int64_t k = 0; k < first.dim(); ++k) {
      if (k != d && t->shape()[k] != first.shape()[k]) {
        a.Fail(0, "sizes of tensors must match except in dimension " + std::to_string(d) +
                      ": " + ShapeString(t->shape()) + " vs " + ShapeString(first.shape()));
      }
    }
    shape[d] += t->shape()[d];
  }
  Tensor out = Tensor::Empty(dtype, shape);
  const int64_t outer = Numel(std::vector<int64_t>(shape.begin(), shape.begin() + d));
  const int64_t inner = Numel(std::vector<int64_t>(shape.begin() + d + 1, shape.end()));
  const size_t item = dtype.bits / 8;
  char* o = static_cast<char*>(out.mutable_raw());
  const int64_t out_row = shape[d] * inner;
  int64_t at = 0;
  for (const Tensor* t : parts) {
    const Tensor c = t->To(dtype);
    const int64_t row = t->shape()[d] * inner;
    const char* in = static_cast<const char*>(c.raw());
    for (int64_t i = 0; i < outer; ++i) {
      std::memcpy(o + (i * out_row + at) * item, in + i * row * item, row * item);
    }
    at += row;
  }
  return out;
}

std::vector<Tensor> CatKernel(const KernelArgs& a) {
  return One(Cat(a, a.tensor_list(0), a.integer(1)));
}

std::vector<Tensor> Stack(const KernelArgs& a) {
  std::vector<Tensor> inputs = a.tensor_list(0);
  if (inputs.empty()) a.Fail(0, "expected a non-empty list of tensors");
  const int64_t d = WrapDim(a.integer(1), inputs[0].dim() + 1, a.op());
  const std::vector<int64_t> first = inputs[0].shape();
  for (Tensor& t : inputs) {
    if (t.shape() != first) a.Fail(0, "stack expects each tensor to be equal size");
    std::vector<int64_t> shape = t.shape();
    shape.insert(shape.begin() + d, 1);
    t = t.Reshaped(shape);
  }
  return One(Cat(a, inputs, d));
}

// One output per piece of `sizes` along `dim`.
std::vector<Tensor> SplitBy(const KernelArgs& a, const Tensor& x, int64_t dim,
                            const std::vector<int64_t>& sizes) {
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(Gather(x, Sliced(a, x, dim, at, at + s, 1)));
    at += s;
  }
  return out;
}

std::vector<Tensor> SplitCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const int64_t split = a.integer(1);
  const int64_t d = WrapDim(a.integer(2), x.dim(), a.op());
  const int64_t size = x.shape()[d];
  if (split <= 0 && size > 0) a.Fail(1, "split_size must be positive");
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < size; at += split) sizes.push_back(std::min(split, size - at));
  if (sizes.empty()) sizes.push_back(0);
  return SplitBy(a, x, d, sizes);
}

std::vector<Tensor> SplitWithSizesCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::vector<int64_t> sizes = a.int_list(1);
  const int64_t d = WrapDim(a.integer(2), x.dim(), a.op());
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (total != x.shape()[d]) a.Fail(1, "split sizes must sum to the dimension's size");
  return SplitBy(a, x, d, sizes);
}

std::vector<Tensor> UnbindCopy(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const int64_t d = WrapDim(a.integer(1), x.dim(), a.op());
  std::vector<Tensor> out;
  for (int64_t i = 0; i < x.shape()[d]; ++i) out.push_back(Gather(x, Selected(a, x, d, i)));
  return out;
}

// --- reordering ------------------------------------------------------------------

std::vector<Tensor> Flip(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  View v = Identity(x);
  std::vector<bool> seen(x.dim(), false);
  for (int64_t d : a.int_list(1)) {
    const int64_t w = WrapDim(d, x.dim(), a.op());
    if (seen[w]) a.Fail(1, "dims has duplicates");
    seen[w] = true;
    if (v.shape[w] > 0) v.offset += (v.shape[w] - 1) * v.strides[w];
    v.strides[w] = -v.strides[w];
  }
  return One(Gather(x, v));
}

// Repeat as an expand of interleaved singleton dimensions.
std::vector<Tensor> Repeat(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::vector<int64_t> repeats = a.int_list(1);
  if (static_cast<int64_t>(repeats.size()) < x.dim()) {
    a.Fail(1, "number of repeat dims can not be smaller than number of tensor dims");
  }
  std::vector<int64_t> padded(repeats.size() - x.dim(), 1);
  padded.insert(padded.end(), x.shape().begin(), x.shape().end());
  const std::vector<int64_t> own = ContiguousStrides(padded);
  View v;
  std::vector<int64_t> out_shape;
  for (size_t d = 0; d < repeats.size(); ++d) {
    if (repeats[d] < 0) a.Fail(1, "repeats can not be negative");
    v.shape.push_back(repeats[d]);
    v.strides.push_back(0);
    v.shape.push_back(padded[d]);
    v.strides.push_back(own[d]);
    out_shape.push_back(repeats[d] * padded[d]);
  }
  return One(Gather(x, v).Reshaped(out_shape));
}

// index_select with `index` along dim: outer x index x inner blocks.
Tensor IndexSelect(const KernelArgs& a, const Tensor& x, int64_t dim, const Tensor& index) {
  if (index.dim() > 1) a.Fail(2, "index must be 0-D or 1-D");
  if (!IsIntegral(index.dtype())) a.Fail(2, "index must be an integer tensor");
  const Tensor idx = index.To(kInt64);
  const int64_t rank = std::max<int64_t>(x.dim(), 1);
  std::vector<int64_t> shape = x.dim() == 0 ? std::vector<int64_t>{1} : x.shape();
  const int64_t d = WrapDim(dim, rank, a.op());
  const int64_t size = shape[d];
  const int64_t outer = Numel(std::vector<int64_t>(shape.begin(), shape.begin() + d));
  const int64_t inner = Numel(std::vector<int64_t>(shape.begin() + d + 1, shape.end()));
  const int64_t n = idx.numel();
  shape[d] = n;
  if (x.dim() == 0) shape.clear();
  Tensor out = Tensor::Empty(x.dtype(), shape);
  const size_t item = x.dtype().bits / 8;
  const char* in = static_cast<const char*>(x.raw());
  char* o = static_cast<char*>(out.mutable_raw());
  const int64_t* ip = idx.data<int64_t>();
  for (int64_t j = 0; j < n; ++j) {
    int64_t k = ip[j];
    if (k < -size || k >= size) {
      a.Fail(2, "index " + std::to_string(k) + " is out of bounds for dimension of size " +
                    std::to_string(size));
    }
  }
  for (int64_t i = 0; i < outer; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t k = ip[j] < 0 ? ip[j] + size : ip[j];
      std::memcpy(o + ((i * n + j) * inner) * item, in + ((i * size + k) * inner) * item,
                  inner * item);
    }
  }
  return out;
}

std::vector<Tensor> IndexSelectKernel(const KernelArgs& a) {
  return One(IndexSelect(a, a.tensor(0), a.integer(1), a.tensor(2)));
}

std::vector<Tensor> Roll(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::vector<int64_t> shifts = a.int_list(1), dims = a.int_list(2);
  auto roll_dim = [&](const Tensor& t, int64_t shift, int64_t dim) {
    const int64_t size = t.shape()[dim];
    if (size == 0) return t;
    Tensor index = Tensor::Empty(kInt64, {size});
    int64_t* p = index.mutable_data<int64_t>();
    const int64_t s = ((shift % size) + size) % size;
    for (int64_t i = 0; i < size; ++i) p[i] = (i - s + size) % size;
    return IndexSelect(a, t, dim, index);
  };
  if (dims.empty()) {
    if (shifts.size() != 1) a.Fail(1, "shifts must have one entry when dims is empty");
    return One(roll_dim(x.Reshaped({x.numel()}), shifts[0], 0).Reshaped(x.shape()));
  }
  if (dims.size() != shifts.size()) a.Fail(2, "shifts and dims must align");
  Tensor out = x;
  for (size_t i = 0; i < dims.size(); ++i) {
    out = roll_dim(out, shifts[i], WrapDim(dims[i], x.dim(), a.op()));
  }
  if (out.owner() == x.owner()) out = Copy(out);
  return One(out);
}

// Each element of an index tensor shaped `index_shape`, mapped to the
// offset in `self` that replaces coordinate `dim` with the index value.
template <typename F>
void ForEachIndexed(const KernelArgs& a, const Tensor& self, int64_t dim, const Tensor& index,
                    F&& f) {
  const Tensor idx = index.To(kInt64);
  const int64_t* ip = idx.data<int64_t>();
  const int64_t rank = std::max<int64_t>(self.dim(), 1);
  const std::vector<int64_t> sshape = self.dim() == 0 ? std::vector<int64_t>{1} : self.shape();
  std::vector<int64_t> ishape = idx.dim() == 0 ? std::vector<int64_t>{1} : idx.shape();
  if (static_cast<int64_t>(ishape.size()) != rank) {
    a.Fail(2, "index must have as many dims as self");
  }
  for (int64_t k = 0; k < rank; ++k) {
    if (k != dim && ishape[k] > sshape[k]) a.Fail(2, "index is larger than self apart from dim");
  }
  const std::vector<int64_t> strides = ContiguousStrides(sshape);
  std::vector<int64_t> coord(rank, 0);
  const int64_t n = idx.numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = ip[i];
    if (k < -sshape[dim] || k >= sshape[dim]) {
      a.Fail(2, "index " + std::to_string(k) + " is out of bounds for dimension " +
                    std::to_string(dim) + " with size " + std::to_string(sshape[dim]));
    }
    if (k < 0) k += sshape[dim];
    int64_t off = 0;
    for (int64_t d = 0; d < rank; ++d) off += (d == dim ? k : coord[d]) * strides[d];
    f(i, off);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++coord[d] < ishape[d]) break;
      coord[d] = 0;
    }
  }
}

std::vector<Tensor> GatherKernel(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& index = a.tensor(2);
  const int64_t dim = WrapDim(a.integer(1), x.dim(), a.op());
  Tensor out = Tensor::Empty(x.dtype(), index.shape());
  BySize(x.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* in = x.data<U>();
    U* o = out.mutable_data<U>();
    ForEachIndexed(a, x, dim, index, [&](int64_t i, int64_t off) { o[i] = in[off]; });
  });
  return One(out);
}

// scatter / scatter_add: src elements (or one value) into a copy of self.
template <bool kAdd>
Tensor ScatterImpl(const KernelArgs& a, const Tensor& self, int64_t dim, const Tensor& index,
                   const Tensor& src, bool src_is_value) {
  const int64_t d = WrapDim(dim, self.dim(), a.op());
  Tensor out = Copy(self);
  const Tensor s = src.To(self.dtype());
  if (!src_is_value && s.dim() != index.dim() && !(s.dim() <= 1 && index.dim() <= 1)) {
    a.Fail(3, "src must have as many dims as index");
  }
  DispatchAll(self.dtype(), a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.mutable_data<T>();
    const T* ps = s.data<T>();
    const std::vector<int64_t> sstrides = ContiguousStrides(s.shape());
    const std::vector<int64_t> ishape = index.shape();
    std::vector<int64_t> coord(ishape.size(), 0);
    ForEachIndexed(a, self, d, index, [&](int64_t, int64_t off) {
      int64_t src_off = 0;
      if (!src_is_value) {
        for (size_t k = 0; k < coord.size() && k < sstrides.size(); ++k) src_off += coord[k] * sstrides[k];
      }
      if constexpr (kAdd) {
        if constexpr (std::is_same_v<T, bool>) o[off] = o[off] || ps[src_off];
        else o[off] = static_cast<T>(o[off] + ps[src_off]);
      } else {
        o[off] = ps[src_off];
      }
      for (int64_t k = static_cast<int64_t>(coord.size()) - 1; k >= 0; --k) {
        if (++coord[k] < ishape[k]) break;
        coord[k] = 0;
      }
    });
  });
  return out;
}

std::vector<Tensor> ScatterSrc(const KernelArgs& a) {
  if (a.size() > 4) a.Unsupported("scatter with reduce");
  return One(ScatterImpl<false>(a, a.tensor(0), a.integer(1), a.tensor(2), a.tensor(3), false));
}
std::vector<Tensor> ScatterValue(const KernelArgs& a) {
  if (a.size() > 4) a.Unsupported("scatter with reduce");
  const Tensor& x = a.tensor(0);
  const Number n = a.number(3);
  Tensor v = n.is_floating ? Tensor::Full(x.dtype(), {}, n.floating)
                           : Tensor::Full(x.dtype(), {}, static_cast<double>(n.integer));
  return One(ScatterImpl<false>(a, x, a.integer(1), a.tensor(2), v, true));
}
std::vector<Tensor> ScatterAdd(const KernelArgs& a) {
  return One(ScatterImpl<true>(a, a.tensor(0), a.integer(1), a.tensor(2), a.tensor(3), false));
}

// --- advanced indexing -------------------------------------------------------------

// The offsets in `self` that self[indices] reads, in result order, and the
// result's shape: torch's rules, where the indexed dimensions become the
// broadcast index shape, in place when they are adjacent, else in front.
std::vector<int64_t> AdvancedOffsets(const KernelArgs& a, const Tensor& self,
                                     const std::vector<std::optional<Tensor>>& given,
                                     std::vector<int64_t>* result_shape) {
  // Bool masks become one int64 index per dimension they cover.
  std::vector<std::optional<Tensor>> indices;
  for (const auto& t : given) {
    if (t && IsBool(t->dtype())) {
      const Tensor& m = *t;
      const std::vector<int64_t> mstrides = ContiguousStrides(m.shape());
      std::vector<std::vector<int64_t>> coords(m.dim());
      const bool* pm = m.data<bool>();
      for (int64_t i = 0; i < m.numel(); ++i) {
        if (!pm[i]) continue;
        int64_t rem = i;
        for (int64_t d = 0; d < m.dim(); ++d) {
          coords[d].push_back(rem / mstrides[d]);
          rem %= mstrides[d];
        }
      }
      if (m.dim() == 0) a.Unsupported("indexing with a 0-dim bool mask");
      for (int64_t d = 0; d < m.dim(); ++d) {
        Tensor c = Tensor::Empty(kInt64, {static_cast<int64_t>(coords[d].size())});
        std::copy(coords[d].begin(), coords[d].end(), c.mutable_data<int64_t>());
        indices.emplace_back(std::move(c));
      }
    } else if (t) {
      if (!IsIntegral(t->dtype())) a.Fail(1, "tensors used as indices must be long, int or bool");
      indices.emplace_back(t->To(kInt64));
    } else {
      indices.emplace_back(std::nullopt);
    }
  }
  if (static_cast<int64_t>(indices.size()) > self.dim()) {
    a.Fail(1, "too many indices for a tensor of rank " + std::to_string(self.dim()));
  }
  indices.resize(self.dim());
  std::vector<int64_t> bshape;
  std::vector<int64_t> indexed;
  bool first = true;
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (!indices[d]) continue;
    indexed.push_back(d);
    bshape = first ? indices[d]->shape() : BroadcastShapes(bshape, indices[d]->shape(), a.op());
    first = false;
  }
  if (indexed.empty()) a.Fail(1, "no index tensor given");
  const bool adjacent = indexed.back() - indexed.front() + 1 == static_cast<int64_t>(indexed.size());
  const std::vector<int64_t> sstrides = ContiguousStrides(self.shape());
  // The result's dimensions: kind -1 for the broadcast index block, else
  // the self dimension it walks.
  std::vector<int64_t> dims;
  if (!adjacent) dims.push_back(-1);
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (indices[d]) {
      if (adjacent && d == indexed.front()) dims.push_back(-1);
      continue;
    }
    dims.push_back(d);
  }
  result_shape->clear();
  for (int64_t k : dims) {
    if (k == -1) result_shape->insert(result_shape->end(), bshape.begin(), bshape.end());
    else result_shape->push_back(self.shape()[k]);
  }
  std::vector<std::vector<int64_t>> istrides;
  for (int64_t d : indexed) istrides.push_back(BroadcastStrides(indices[d]->shape(), bshape));
  const int64_t bnumel = Numel(bshape);
  // The self offset of each position of the broadcast index block.
  std::vector<int64_t> block(bnumel, 0);
  std::vector<int64_t> coord(bshape.size(), 0);
  for (int64_t i = 0; i < bnumel; ++i) {
    int64_t off = 0;
    for (size_t j = 0; j < indexed.size(); ++j) {
      const int64_t d = indexed[j];
      int64_t pos = 0;
      for (size_t k = 0; k < coord.size(); ++k) pos += coord[k] * istrides[j][k];
      int64_t v = indices[d]->data<int64_t>()[pos];
      const int64_t size = self.shape()[d];
      if (v < -size || v >= size) {
        a.Fail(1, "index " + std::to_string(v) + " is out of bounds for dimension " +
                      std::to_string(d) + " with size " + std::to_string(size));
      }
      if (v < 0) v += size;
      off += v * sstrides[d];
    }
    block[i] = off;
    for (int64_t k = static_cast<int64_t>(coord.size()) - 1; k >= 0; --k) {
      if (++coord[k] < bshape[k]) break;
      coord[k] = 0;
    }
  }
  // Walk the result: the outer self dims, the block, the inner self dims.
  std::vector<int64_t> offsets;
  offsets.reserve(Numel(*result_shape));
  std::vector<int64_t> before, after;
  bool past = false;
  for (int64_t k : dims) {
    if (k == -1) past = true;
    else (past ? after : before).push_back(k);
  }
  auto walk = [&](const std::vector<int64_t>& ds, auto&& inner_fn) {
    std::vector<int64_t> c(ds.size(), 0);
    int64_t n = 1;
    for (int64_t d : ds) n *= self.shape()[d];
    for (int64_t i = 0; i < n; ++i) {
      int64_t off = 0;
      for (size_t j = 0; j < ds.size(); ++j) off += c[j] * sstrides[ds[j]];
      inner_fn(off);
      for (int64_t j = static_cast<int64_t>(ds.size()) - 1; j >= 0; --j) {
        if (++c[j] < self.shape()[ds[j]]) break;
        c[j] = 0;
      }
    }
  };
  walk(before, [&](int64_t outer) {
    for (int64_t b = 0; b < bnumel; ++b) {
      walk(after, [&](int64_t inner) { offsets.push_back(outer + block[b] + inner); });
    }
  });
  return offsets;
}

std::vector<Tensor> Index(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  std::vector<int64_t> shape;
  const std::vector<int64_t> offsets = AdvancedOffsets(a, x, a.optional_tensor_list(1), &shape);
  Tensor out = Tensor::Empty(x.dtype(), shape);
  BySize(x.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* in = x.data<U>();
    U* o = out.mutable_data<U>();
    for (size_t i = 0; i < offsets.size(); ++i) o[i] = in[offsets[i]];
  });
  return One(out);
}

std::vector<Tensor> IndexPut(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const Tensor& values = a.tensor(2);
  const bool accumulate = a.boolean(3);
  std::vector<int64_t> shape;
  const std::vector<int64_t> offsets = AdvancedOffsets(a, x, a.optional_tensor_list(1), &shape);
  if (BroadcastShapes(values.shape(), shape, a.op()) != shape) {
    a.Fail(2, "values of shape " + ShapeString(values.shape()) + " do not fit the indexed shape " +
                  ShapeString(shape));
  }
  const Tensor v = values.To(x.dtype());
  Tensor out = Copy(x);
  DispatchAll(x.dtype(), a.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pv = v.data<T>();
    T* o = out.mutable_data<T>();
    const std::array<std::vector<int64_t>, 1> strides{BroadcastStrides(v.shape(), shape)};
    ForEachBroadcast<1>(shape, strides, [&](int64_t i, const std::array<int64_t, 1>& off) {
      T& dst = o[offsets[i]];
      if (!accumulate) {
        dst = pv[off[0]];
      } else if constexpr (std::is_same_v<T, bool>) {
        dst = dst || pv[off[0]];
      } else {
        dst = static_cast<T>(dst + pv[off[0]]);
      }
    });
  });
  return One(out);
}

// --- padding and triangles -----------------------------------------------------------

std::vector<Tensor> ConstantPadNd(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  const std::vector<int64_t> pad = a.int_list(1);
  if (pad.size() % 2 != 0 || static_cast<int64_t>(pad.size() / 2) > x.dim()) {
    a.Fail(1, "padding length must be even and at most twice the rank");
  }
  const int64_t rank = x.dim();
  std::vector<int64_t> lo(rank, 0), hi(rank, 0);
  for (size_t i = 0; i < pad.size() / 2; ++i) {
    lo[rank - 1 - i] = pad[2 * i];
    hi[rank - 1 - i] = pad[2 * i + 1];
  }
  std::vector<int64_t> shape(rank);
  for (int64_t d = 0; d < rank; ++d) {
    shape[d] = x.shape()[d] + lo[d] + hi[d];
    if (shape[d] < 0) a.Fail(1, "the padded size is negative");
  }
  const Number value = a.number(2);
  Tensor out = value.is_floating ? Tensor::Full(x.dtype(), shape, value.floating)
                                 : Tensor::Full(x.dtype(), shape, static_cast<double>(value.integer));
  // The part of x that survives cropping, and where it lands.
  const std::vector<int64_t> in_strides = ContiguousStrides(x.shape());
  const std::vector<int64_t> out_strides = ContiguousStrides(shape);
  std::vector<int64_t> region(rank);
  int64_t in_base = 0, out_base = 0;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t skip = std::max<int64_t>(0, -lo[d]);
    const int64_t end = x.shape()[d] - std::max<int64_t>(0, -hi[d]);
    region[d] = std::max<int64_t>(0, end - skip);
    in_base += skip * in_strides[d];
    out_base += std::max<int64_t>(0, lo[d]) * out_strides[d];
  }
  BySize(x.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* in = x.data<U>() + in_base;
    U* o = out.mutable_data<U>() + out_base;
    const std::array<std::vector<int64_t>, 2> strides{in_strides, out_strides};
    ForEachBroadcast<2>(region, strides, [&](int64_t, const std::array<int64_t, 2>& off) {
      o[off[1]] = in[off[0]];
    });
  });
  return One(out);
}

template <bool kLower>
std::vector<Tensor> Triangle(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  if (x.dim() < 2) a.Fail(0, "tril/triu need a tensor of at least 2 dims");
  const int64_t k = a.integer(1);
  const int64_t rows = x.size(-2), cols = x.size(-1);
  Tensor out = Copy(x);
  BySize(x.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U* o = out.mutable_data<U>();
    const int64_t mats = x.numel() / std::max<int64_t>(rows * cols, 1);
    for (int64_t m = 0; m < mats; ++m) {
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          const bool keep = kLower ? j - i <= k : j - i >= k;
          if (!keep) o[(m * rows + i) * cols + j] = U(0);
        }
      }
    }
  });
  return One(out);
}

// aten::size.int: a dimension's size as a scalar value (0-dim int64).
std::vector<Tensor> SizeInt(const KernelArgs& a) {
  const Tensor& x = a.tensor(0);
  Tensor out = Tensor::Empty(kInt64, {});
  *out.mutable_data<int64_t>() = x.shape()[WrapDim(a.integer(1), x.dim(), a.op())];
  return One(out);
}

}  // namespace

void RegisterShapeKernels(KernelRegistry& r) {
  r.Add("aten::size.int", SizeInt);
  r.Add("aten::view_copy", ViewCopy);
  r.Add("aten::view_copy.dtype", ViewDtype);
  r.Add("aten::view", ViewCopy);
  r.Add("aten::_unsafe_view", ViewCopy);
  r.Add("aten::reshape", ViewCopy);
  r.Add("aten::_reshape_alias_copy", ReshapeAliasCopy);
  r.Add("aten::t_copy", TCopy);
  r.Add("aten::permute_copy", PermuteCopy);
  r.Add("aten::permute", PermuteCopy);
  r.Add("aten::transpose_copy.int", TransposeCopy);
  r.Add("aten::expand_copy", ExpandCopy);
  r.Add("aten::expand", ExpandCopy);
  r.Add("aten::squeeze_copy", SqueezeAll);
  r.Add("aten::squeeze_copy.dim", SqueezeDim);
  r.Add("aten::squeeze_copy.dims", SqueezeDimsKernel);
  r.Add("aten::unsqueeze_copy", UnsqueezeCopy);
  r.Add("aten::select_copy.int", SelectCopy);
  r.Add("aten::slice_copy.Tensor", SliceCopy);
  r.Add("aten::narrow_copy", NarrowCopy);
  r.Add("aten::diagonal_copy", DiagonalCopy);
  r.Add("aten::as_strided_copy", AsStridedCopy);
  r.Add("aten::alias_copy", CopyKernel);
  r.Add("aten::detach_copy", CopyKernel);
  r.Add("aten::clone", CopyKernel);
  r.Add("aten::contiguous", CopyKernel);
  r.Add("aten::lift_fresh_copy", CopyKernel);
  r.Add("aten::IntImplicit", IntImplicit);
  r.Add("aten::ScalarImplicit", NumberImplicit);
  r.Add("aten::FloatImplicit", NumberImplicit);
  r.Add("aten::_to_copy", ToCopy);
  r.Add("aten::select_scatter", SelectScatter);
  r.Add("aten::slice_scatter", SliceScatter);
  r.Add("aten::diagonal_scatter", DiagonalScatter);
  r.Add("aten::as_strided_scatter", AsStridedScatter);
  r.Add("aten::cat", CatKernel);
  r.Add("aten::stack", Stack);
  r.Add("aten::split_copy.Tensor", SplitCopy);
  r.Add("aten::split_with_sizes_copy", SplitWithSizesCopy);
  r.Add("aten::unbind_copy.int", UnbindCopy);
  r.Add("aten::flip", Flip);
  r.Add("aten::repeat", Repeat);
  r.Add("aten::roll", Roll);
  r.Add("aten::index_select", IndexSelectKernel);
  r.Add("aten::gather", GatherKernel);
  r.Add("aten::scatter.src", ScatterSrc);
  r.Add("aten::scatter.value", ScatterValue);
  r.Add("aten::scatter_add", ScatterAdd);
  r.Add("aten::index.Tensor", Index);
  r.Add("aten::index_put", IndexPut);
  r.Add("aten::constant_pad_nd", ConstantPadNd);
  r.Add("aten::tril", Triangle<true>);
  r.Add("aten::triu", Triangle<false>);
}

}  // namespace ltc::ref_cpu
