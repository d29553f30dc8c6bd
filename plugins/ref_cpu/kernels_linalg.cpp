// Matrix products: OpenBLAS for float32/float64, plain loops for integers.
#include "dispatch.h"
#include "kernel.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace ltc::ref_cpu {

namespace {

using plugin::Error;

template <typename T>
T NumberAs(const Number& n) {
  return n.is_floating ? Convert<T>(n.floating) : Convert<T>(n.integer);
}

// C[M,N] = alpha * A[M,K] B[K,N] + beta * C, all row-major contiguous. A
// beta of 0 ignores C (NaN in it too), as BLAS and torch do.
template <typename T>
void Gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, const T* B, T beta, T* C) {
  if (M == 0 || N == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (K == 0) {
      for (int64_t i = 0; i < M * N; ++i) C[i] = beta == 0 ? 0.f : beta * C[i];
      return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, alpha, A, K, B, N, beta, C, N);
  } else if constexpr (std::is_same_v<T, double>) {
    if (K == 0) {
      for (int64_t i = 0; i < M * N; ++i) C[i] = beta == 0 ? 0.0 : beta * C[i];
      return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, alpha, A, K, B, N, beta, C, N);
  } else {
    for (int64_t i = 0; i < M; ++i) {
      T* c = C + i * N;
      for (int64_t j = 0; j < N; ++j) c[j] = beta == T(0) ? T(0) : static_cast<T>(beta * c[j]);
      for (int64_t k = 0; k < K; ++k) {
        const T a = static_cast<T>(alpha * A[i * K + k]);
        const T* b = B + k * N;
        for (int64_t j = 0; j < N; ++j) c[j] = static_cast<T>(c[j] + a * b[j]);
      }
    }
  }
}

void CheckSameDtype(const KernelArgs& args, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": expected both operands to be " +
                                                DtypeName(a.dtype()) + ", got " +
                                                DtypeName(b.dtype()));
  }
}

void CheckRank(const KernelArgs& args, size_t i, const Tensor& t, int64_t rank) {
  if (t.dim() != rank) {
    args.Fail(i, "expected a " + std::to_string(rank) + "-D tensor, got shape " +
                     ShapeString(t.shape()));
  }
}

// Refuses bool, which torch multiplies only through other ops.
template <typename F>
decltype(auto) DispatchProduct(DLDataType dtype, const std::string& op, F&& f) {
  return DispatchNumeric(dtype, op, std::forward<F>(f));
}

// Broadcast `self` of an addmm-like op to `shape` into a fresh tensor that
// the product then accumulates into.
Tensor BroadcastInto(const KernelArgs& args, const Tensor& self, const std::vector<int64_t>& shape,
                     DLDataType dtype) {
  if (BroadcastShapes(self.shape(), shape, args.op()) != shape) {
    args.Fail(0, "shape " + ShapeString(self.shape()) + " does not broadcast to " +
                     ShapeString(shape));
  }
  return BroadcastCopy(self, shape, dtype);
}

// Batched product of a[B, M, K] with b[B, K, N] (`a_batch_stride` 0 reuses
// one matrix), accumulated as alpha * ab + beta * out.
template <typename T>
void BatchedGemm(int64_t batches, int64_t M, int64_t N, int64_t K, T alpha, const T* a,
                 int64_t a_stride, const T* b, int64_t b_stride, T beta, T* out) {
  for (int64_t i = 0; i < batches; ++i) {
    Gemm<T>(M, N, K, alpha, a + i * a_stride, b + i * b_stride, beta, out + i * M * N);
  }
}

std::vector<Tensor> Mm(const KernelArgs& args) {
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  CheckRank(args, 0, a, 2);
  CheckRank(args, 1, b, 2);
  CheckSameDtype(args, a, b);
  if (a.size(1) != b.size(0)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": shapes " + ShapeString(a.shape()) +
                                                " and " + ShapeString(b.shape()) +
                                                " cannot be multiplied");
  }
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  Tensor out = Tensor::Empty(a.dtype(), {M, N});
  DispatchProduct(a.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Gemm<T>(M, N, K, T(1), a.data<T>(), b.data<T>(), T(0), out.mutable_data<T>());
  });
  return One(out);
}

std::vector<Tensor> Addmm(const KernelArgs& args) {
  const Tensor& self = args.tensor(0);
  const Tensor& a = args.tensor(1);
  const Tensor& b = args.tensor(2);
  CheckRank(args, 1, a, 2);
  CheckRank(args, 2, b, 2);
  CheckSameDtype(args, a, b);
  CheckSameDtype(args, a, self);
  if (a.size(1) != b.size(0)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": shapes " + ShapeString(a.shape()) +
                                                " and " + ShapeString(b.shape()) +
                                                " cannot be multiplied");
  }
  const Number beta = args.number(3), alpha = args.number(4);
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  const bool ignore_self = beta.as_double() == 0.0;
  Tensor out = ignore_self ? Tensor::Empty(a.dtype(), {M, N})
                           : BroadcastInto(args, self, {M, N}, a.dtype());
  DispatchProduct(a.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Gemm<T>(M, N, K, NumberAs<T>(alpha), a.data<T>(), b.data<T>(),
            ignore_self ? T(0) : NumberAs<T>(beta), out.mutable_data<T>());
  });
  return One(out);
}

std::vector<Tensor> Bmm(const KernelArgs& args) {
  const Tensor& a = args.tensor(0);
  const Tensor& b = args.tensor(1);
  CheckRank(args, 0, a, 3);
  CheckRank(args, 1, b, 3);
  CheckSameDtype(args, a, b);
  if (a.size(0) != b.size(0) || a.size(2) != b.size(1)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": shapes " + ShapeString(a.shape()) +
                                                " and " + ShapeString(b.shape()) +
                                                " cannot be multiplied");
  }
  const int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  Tensor out = Tensor::Empty(a.dtype(), {B, M, N});
  DispatchProduct(a.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    BatchedGemm<T>(B, M, N, K, T(1), a.data<T>(), M * K, b.data<T>(), K * N, T(0),
                   out.mutable_data<T>());
  });
  return One(out);
}

std::vector<Tensor> Baddbmm(const KernelArgs& args) {
  const Tensor& self = args.tensor(0);
  const Tensor& a = args.tensor(1);
  const Tensor& b = args.tensor(2);
  CheckRank(args, 1, a, 3);
  CheckRank(args, 2, b, 3);
  CheckSameDtype(args, a, b);
  CheckSameDtype(args, a, self);
  if (a.size(0) != b.size(0) || a.size(2) != b.size(1)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": shapes " + ShapeString(a.shape()) +
                                                " and " + ShapeString(b.shape()) +
                                                " cannot be multiplied");
  }
  const Number beta = args.number(3), alpha = args.number(4);
  const int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  const bool ignore_self = beta.as_double() == 0.0;
  Tensor out = ignore_self ? Tensor::Empty(a.dtype(), {B, M, N})
                           : BroadcastInto(args, self, {B, M, N}, a.dtype());
  DispatchProduct(a.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    BatchedGemm<T>(B, M, N, K, NumberAs<T>(alpha), a.data<T>(), M * K, b.data<T>(), K * N,
                   ignore_self ? T(0) : NumberAs<T>(beta), out.mutable_data<T>());
  });
  return One(out);
}

// torch.matmul's cases: 1-D operands become a row (left) or a column
// (right) that is dropped from the result; batch dimensions broadcast.
Tensor Matmul(const KernelArgs& args, const Tensor& a, const Tensor& b) {
  if (a.dim() == 0 || b.dim() == 0) args.Fail(0, "both arguments to matmul need at least 1 dim");
  CheckSameDtype(args, a, b);
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  std::vector<int64_t> as = a.shape(), bs = b.shape();
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": shapes " + ShapeString(a.shape()) +
                                                " and " + ShapeString(b.shape()) +
                                                " cannot be multiplied");
  }
  const std::vector<int64_t> a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const std::vector<int64_t> batch = BroadcastShapes(a_batch, b_batch, args.op());
  const int64_t batches = Numel(batch);
  std::vector<int64_t> out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  Tensor out = Tensor::Empty(a.dtype(), out_shape);
  DispatchProduct(a.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.mutable_data<T>();
    // [.., M, K] x [K, N] (b not batched): one tall product.
    if (b_batch.empty() && !a_vec) {
      Gemm<T>(batches * M, N, K, T(1), pa, pb, T(0), po);
      return;
    }
    const std::array<std::vector<int64_t>, 2> strides{BroadcastStrides(a_batch, batch),
                                                      BroadcastStrides(b_batch, batch)};
    std::vector<int64_t> bat = batch;
    if (bat.empty()) bat.push_back(1);
    std::array<std::vector<int64_t>, 2> s2 = strides;
    for (auto& s : s2) {
      if (s.empty()) s.push_back(0);
    }
    ForEachBroadcast<2>(bat, s2, [&](int64_t i, const std::array<int64_t, 2>& off) {
      Gemm<T>(M, N, K, T(1), pa + off[0] * M * K, pb + off[1] * K * N, T(0), po + i * M * N);
    });
  });
  return out;
}

std::vector<Tensor> MatmulKernel(const KernelArgs& args) {
  return One(Matmul(args, args.tensor(0), args.tensor(1)));
}

std::vector<Tensor> Mv(const KernelArgs& args) {
  CheckRank(args, 0, args.tensor(0), 2);
  CheckRank(args, 1, args.tensor(1), 1);
  return One(Matmul(args, args.tensor(0), args.tensor(1)));
}

std::vector<Tensor> Dot(const KernelArgs& args) {
  CheckRank(args, 0, args.tensor(0), 1);
  CheckRank(args, 1, args.tensor(1), 1);
  return One(Matmul(args, args.tensor(0), args.tensor(1)));
}

std::vector<Tensor> Addmv(const KernelArgs& args) {
  const Tensor& self = args.tensor(0);
  const Tensor& mat = args.tensor(1);
  const Tensor& vec = args.tensor(2);
  CheckRank(args, 1, mat, 2);
  CheckRank(args, 2, vec, 1);
  CheckSameDtype(args, mat, vec);
  CheckSameDtype(args, mat, self);
  if (mat.size(1) != vec.size(0)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": shapes " + ShapeString(mat.shape()) +
                                                " and " + ShapeString(vec.shape()) +
                                                " cannot be multiplied");
  }
  const Number beta = args.number(3), alpha = args.number(4);
  const int64_t M = mat.size(0), K = mat.size(1);
  const bool ignore_self = beta.as_double() == 0.0;
  Tensor out = ignore_self ? Tensor::Empty(mat.dtype(), {M})
                           : BroadcastInto(args, self, {M}, mat.dtype());
  DispatchProduct(mat.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Gemm<T>(M, 1, K, NumberAs<T>(alpha), mat.data<T>(), vec.data<T>(),
            ignore_self ? T(0) : NumberAs<T>(beta), out.mutable_data<T>());
  });
  return One(out);
}

// input [.., in] x weight[out, in]^T + bias[out].
std::vector<Tensor> Linear(const KernelArgs& args) {
  const Tensor& x = args.tensor(0);
  const Tensor& w = args.tensor(1);
  const std::optional<Tensor> bias = args.optional_tensor(2);
  CheckRank(args, 1, w, 2);
  CheckSameDtype(args, x, w);
  if (x.dim() < 1 || x.size(-1) != w.size(1)) {
    throw Error(LTC_ERROR_INVALID_ARGUMENT, args.op() + ": shapes " + ShapeString(x.shape()) +
                                                " and " + ShapeString(w.shape()) +
                                                " cannot be multiplied");
  }
  const int64_t K = w.size(1), N = w.size(0), M = x.numel() / std::max<int64_t>(K, 1);
  std::vector<int64_t> out_shape = x.shape();
  out_shape.back() = N;
  const int64_t rows = K == 0 ? Numel(out_shape) / std::max<int64_t>(N, 1) : M;
  Tensor out = bias ? BroadcastInto(args, *bias, out_shape, x.dtype())
                    : Tensor::Empty(x.dtype(), out_shape);
  if (bias) CheckSameDtype(args, x, *bias);
  DispatchProduct(x.dtype(), args.op(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T beta = bias ? T(1) : T(0);
    if constexpr (std::is_same_v<T, float>) {
      if (rows > 0 && N > 0 && K > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.f, x.data<T>(), K,
                    w.data<T>(), K, beta, out.mutable_data<T>(), N);
        return;
      }
    } else if constexpr (std::is_same_v<T, double>) {
      if (rows > 0 && N > 0 && K > 0) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.0, x.data<T>(), K,
                    w.data<T>(), K, beta, out.mutable_data<T>(), N);
        return;
      }
    }
    // Integers, and empty operands: loops over the transposed weight.
    Tensor wt = Tensor::Empty(w.dtype(), {K, N});
    const T* pw = w.data<T>();
    T* pt = wt.mutable_data<T>();
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t k = 0; k < K; ++k) pt[k * N + i] = pw[i * K + k];
    }
    Gemm<T>(rows, N, K, T(1), x.data<T>(), pt, beta, out.mutable_data<T>());
  });
  return One(out);
}

}  // namespace

void RegisterLinalgKernels(KernelRegistry& r) {
  r.Add("aten::mm", Mm);
  r.Add("aten::addmm", Addmm);
  r.Add("aten::bmm", Bmm);
  r.Add("aten::baddbmm", Baddbmm);
  r.Add("aten::matmul", MatmulKernel);
  r.Add("aten::mv", Mv);
  r.Add("aten::dot", Dot);
  r.Add("aten::addmv", Addmv);
  r.Add("aten::linear", Linear);
}

}  // namespace ltc::ref_cpu
