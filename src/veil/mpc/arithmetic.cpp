#include "veil/mpc/arithmetic.h"

#include <stdexcept>

#include "veil/core/gemm.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"

namespace veil::mpc {

namespace {
template <class T>
void check_same_size(const AShare<T>& x, const AShare<T>& y, const char* op) {
  if (x.size() != y.size())
    throw std::invalid_argument(std::string(op) + ": operand shapes " + shape_str(x.shape) + " and " +
                                shape_str(y.shape) + " differ");
}
template <class T>
T at_or_scalar(const std::vector<T>& c, size_t i) { return c.size() == 1 ? c[0] : c[i]; }
template <class T>
void check_public(const AShare<T>& x, const std::vector<T>& c, const char* op) {
  if (c.size() != 1 && c.size() != x.size())
    throw std::invalid_argument(std::string(op) + ": public operand has " + std::to_string(c.size()) +
                                " elements, expected 1 or " + std::to_string(x.size()));
}
}  // namespace

template <class T> AShare<T> add_aa(const AShare<T>& x, const AShare<T>& y) {
  check_same_size(x, y, "add_aa");
  AShare<T> z(x.shape);
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] = x.s0[i] + y.s0[i], z.s1[i] = x.s1[i] + y.s1[i];
  return z;
}
template <class T> AShare<T> sub_aa(const AShare<T>& x, const AShare<T>& y) {
  check_same_size(x, y, "sub_aa");
  AShare<T> z(x.shape);
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] = x.s0[i] - y.s0[i], z.s1[i] = x.s1[i] - y.s1[i];
  return z;
}
template <class T> AShare<T> neg_a(const AShare<T>& x) {
  AShare<T> z(x.shape);
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] = T(0) - x.s0[i], z.s1[i] = T(0) - x.s1[i];
  return z;
}
template <class T> AShare<T> add_ap(Context& ctx, const AShare<T>& x, const std::vector<T>& c) {
  check_public(x, c, "add_ap");
  AShare<T> z = x;  // the constant goes into component 0: s0 of party 0, s1 of party 2
  if (ctx.id() == 0) for (size_t i = 0; i < z.size(); ++i) z.s0[i] += at_or_scalar(c, i);
  if (ctx.id() == 2) for (size_t i = 0; i < z.size(); ++i) z.s1[i] += at_or_scalar(c, i);
  return z;
}
template <class T> AShare<T> mul_ap(const AShare<T>& x, const std::vector<T>& c) {
  check_public(x, c, "mul_ap");
  AShare<T> z(x.shape);
  for (size_t i = 0; i < x.size(); ++i) {
    T v = at_or_scalar(c, i);
    z.s0[i] = x.s0[i] * v, z.s1[i] = x.s1[i] * v;
  }
  return z;
}
template <class T> AShare<T> shl_a(const AShare<T>& x, int bits) {
  AShare<T> z(x.shape);
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] = T(x.s0[i] << bits), z.s1[i] = T(x.s1[i] << bits);
  return z;
}

// z_i = x_i·y_i + x_i·y_{i+1} + x_{i+1}·y_i + α_i with α a PRF zero-sharing; z_i goes to party i−1.
template <class T> AShare<T> mul_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y) {
  check_same_size(x, y, "mul_aa");
  net::Link::Scope scope(ctx.link(), "mul_aa");
  const size_t n = x.size();
  AShare<T> z(x.shape);
  ctx.prg_next().fill(z.s0.data(), n * sizeof(T));
  std::vector<T> b = ctx.prg_prev().draw<T>(n);
  for (size_t i = 0; i < n; ++i)
    z.s0[i] += x.s0[i] * (y.s0[i] + y.s1[i]) + x.s1[i] * y.s0[i] - b[i];
  ctx.link().send(ctx.prev(), z.s0);
  ctx.link().recv(ctx.next(), z.s1);
  return z;
}
template <class T> Cost cost_mul_aa(int64_t n) {
  const int64_t e = sizeof(T);
  return {1, n * e, 3 * n * e};
}

// X (B?,M,K) · Y (B?,K,N) -> (B?,M,N); two local GEMMs per party, then one reshare round.
template <class T> AShare<T> matmul_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y) {
  const size_t r = x.shape.size();
  if (r < 2 || r > 3 || y.shape.size() != r || x.shape[r - 1] != y.shape[r - 2] ||
      (r == 3 && x.shape[0] != y.shape[0]))
    throw std::invalid_argument("matmul_aa: cannot multiply " + shape_str(x.shape) + " by " + shape_str(y.shape));
  net::Link::Scope scope(ctx.link(), "matmul_aa");
  const int64_t batch = r == 3 ? x.shape[0] : 1, m = x.shape[r - 2], k = x.shape[r - 1], n = y.shape[r - 1];
  Shape out_shape = r == 3 ? Shape{batch, m, n} : Shape{m, n};
  AShare<T> z(out_shape);
  const size_t outs = z.size();
  ctx.prg_next().fill(z.s0.data(), outs * sizeof(T));
  std::vector<T> b = ctx.prg_prev().draw<T>(outs);
  for (size_t i = 0; i < outs; ++i) z.s0[i] -= b[i];
  // z_i = x_i·y_{i+1} + (x_i + x_{i+1})·y_i: the sum is formed on the smaller operand.
  const bool sum_x = x.size() <= y.size();
  const AShare<T>& summed = sum_x ? x : y;
  std::vector<T> sum(summed.size());
  for (size_t i = 0; i < sum.size(); ++i) sum[i] = summed.s0[i] + summed.s1[i];
  for (int64_t bi = 0; bi < batch; ++bi) {
    const size_t xo = size_t(bi * m * k), yo = size_t(bi * k * n);
    T* zz = z.s0.data() + bi * m * n;
    if (sum_x)  // x0·y1 + (x0 + x1)·y0
      gemm2_acc(x.s0.data() + xo, y.s1.data() + yo, sum.data() + xo, y.s0.data() + yo, zz, m, k, n);
    else        // x0·(y0 + y1) + x1·y0
      gemm2_acc(x.s0.data() + xo, sum.data() + yo, x.s1.data() + xo, y.s0.data() + yo, zz, m, k, n);
  }
  ctx.link().send(ctx.prev(), z.s0);
  ctx.link().recv(ctx.next(), z.s1);
  return z;
}
template <class T> Cost cost_matmul_aa(int64_t outputs) { return cost_mul_aa<T>(outputs); }

// z_i = x_i·y_{i+1}ᵀ + (x_i + x_{i+1})·y_iᵀ, as matmul_aa with Y read row-wise.
template <class T> AShare<T> matmul_aa_nt(Context& ctx, const AShare<T>& x, const AShare<T>& y) {
  const size_t r = x.shape.size();
  if (r < 2 || r > 3 || y.shape.size() != r || x.shape[r - 1] != y.shape[r - 1] ||
      (r == 3 && x.shape[0] != y.shape[0]))
    throw std::invalid_argument("matmul_aa_nt: cannot multiply " + shape_str(x.shape) + " by the transpose of " +
                                shape_str(y.shape));
  net::Link::Scope scope(ctx.link(), "matmul_aa");
  const int64_t batch = r == 3 ? x.shape[0] : 1, m = x.shape[r - 2], k = x.shape[r - 1], n = y.shape[r - 2];
  AShare<T> z(r == 3 ? Shape{batch, m, n} : Shape{m, n});
  ctx.prg_next().fill(z.s0.data(), z.size() * sizeof(T));
  std::vector<T> b = ctx.prg_prev().draw<T>(z.size());
  for (size_t i = 0; i < z.size(); ++i) z.s0[i] -= b[i];
  std::vector<T> xsum(x.size());
  for (size_t i = 0; i < xsum.size(); ++i) xsum[i] = x.s0[i] + x.s1[i];
  for (int64_t bi = 0; bi < batch; ++bi) {
    const size_t xo = size_t(bi * m * k), yo = size_t(bi * n * k);
    gemm2_nt_acc(x.s0.data() + xo, y.s1.data() + yo, xsum.data() + xo, y.s0.data() + yo, z.s0.data() + bi * m * n, m, k, n);
  }
  ctx.link().send(ctx.prev(), z.s0);
  ctx.link().recv(ctx.next(), z.s1);
  return z;
}

// See arithmetic.h; the protocol is dealt_sum's truncation (dealt.cpp) with the input as addend.
template <class T> AShare<T> trunc_a(Context& ctx, const AShare<T>& x, int d) {
  constexpr int k = int(sizeof(T) * 8);
  if (d < 0 || d > k - 2) throw std::invalid_argument("trunc_a: shift out of range");
  net::Link::Scope scope(ctx.link(), "trunc_a");
  if (d == 0) return x;
  DealtInput<T> in;
  in.addend = &x, in.d = d;
  return dealt_sum(ctx, in, x.size(), x.shape);
}
template <class T> Cost cost_trunc_a(int64_t n, int d) { return d == 0 ? Cost{} : cost_dealt_sum<T>(n, false, 0, d); }

#define INST(T)                                                                           \
  template AShare<T> add_aa(const AShare<T>&, const AShare<T>&);                          \
  template AShare<T> sub_aa(const AShare<T>&, const AShare<T>&);                          \
  template AShare<T> neg_a(const AShare<T>&);                                             \
  template AShare<T> add_ap(Context&, const AShare<T>&, const std::vector<T>&);           \
  template AShare<T> mul_ap(const AShare<T>&, const std::vector<T>&);                     \
  template AShare<T> shl_a(const AShare<T>&, int);                                        \
  template AShare<T> mul_aa(Context&, const AShare<T>&, const AShare<T>&);                \
  template Cost cost_mul_aa<T>(int64_t);                                                  \
  template AShare<T> matmul_aa(Context&, const AShare<T>&, const AShare<T>&);             \
  template Cost cost_matmul_aa<T>(int64_t);                                               \
  template AShare<T> matmul_aa_nt(Context&, const AShare<T>&, const AShare<T>&);          \
  template AShare<T> trunc_a(Context&, const AShare<T>&, int);                            \
  template Cost cost_trunc_a<T>(int64_t, int);
VEIL_FOR_RINGS(INST)
#undef INST

}  // namespace veil::mpc
