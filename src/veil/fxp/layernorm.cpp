#include "veil/fxp/layernorm.h"

#include <cmath>
#include <stdexcept>

#include "veil/core/fixed_point.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/layout.h"
#include "veil/fxp/reciprocal.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {
namespace {

// gamma_sh / beta_sh when shared, gamma_pub / beta_pub otherwise; `wide`: y at 2F fraction bits.
template <class T>
AShare<T> layernorm(Context& ctx, const AShare<T>& x, const AShare<T>* gamma_sh, const AShare<T>* beta_sh,
                    const std::vector<double>* gamma_pub, const std::vector<double>* beta_pub, double eps, bool wide) {
  net::Link::Scope scope(ctx.link(), "f_layernorm");
  if (x.shape.empty() || x.shape.back() <= 0) throw std::invalid_argument("f_layernorm: empty last axis");
  const int64_t C = x.shape.back(), rows = int64_t(x.size()) / C;
  const size_t gsize = gamma_sh ? gamma_sh->size() : gamma_pub->size();
  const size_t bsize = beta_sh ? beta_sh->size() : beta_pub->size();
  if (gsize != size_t(C) || bsize != size_t(C))
    throw std::invalid_argument("f_layernorm: gamma and beta must have C = " + std::to_string(C) + " elements");
  const int F = frac_bits<T>(ctx);
  const int s = sizeof(T) == 8 ? 30 : 14;
  const size_t n = x.size();
  std::vector<int64_t> tile(n);
  for (size_t i = 0; i < n; ++i) tile[i] = int64_t(i) % C;

  // μ = Σx / C with the 1/C constant at s fraction bits.
  AShare<T> sum = mpc::sum_rows(x, C);
  AShare<T> mu = mpc::trunc_a(ctx, mpc::mul_ap(sum, std::vector<T>{T(std::llround(std::ldexp(1.0, s) / double(C)))}), s);
  AShare<T> xc = mpc::sub_aa(x, mpc::repeat_each(mu, C, x.shape));

  // [Σxc² per row, xc·gamma] in one kernel, each truncated by F once: the squares are summed
  // over the row before the re-share (one element per row).
  AShare<T> gt;
  if (gamma_sh) {
    gt = mpc::gather(*gamma_sh, tile, x.shape);
  } else {
    std::vector<T> g(n);
    for (size_t i = 0; i < n; ++i) g[i] = fxp_encode<T>((*gamma_pub)[i % size_t(C)], F);
    gt = mpc::add_ap(ctx, AShare<T>(x.shape), g);  // the public gamma as a (trivial) sharing
  }
  std::vector<int64_t> runs(size_t(rows), C);
  runs.resize(size_t(rows) + n, 1);
  AShare<T> both = mpc::dot_runs_aa_trunc(ctx, mpc::concat<T>({&xc, &xc}), mpc::concat<T>({&xc, &gt}), runs, F);
  AShare<T> ss = mpc::slice(both, 0, size_t(rows), {rows});
  AShare<T> xg = mpc::slice(both, size_t(rows), n, x.shape);

  // r = sqrt(C) / sqrt(Σxc² + C·eps) = 1 / sqrt(σ² + eps).
  AShare<T> r = f_rsqrt(ctx, add_fp(ctx, ss, double(C) * eps), std::sqrt(double(C)));
  const AShare<T> rr = mpc::repeat_each(r, C, x.shape);
  AShare<T> y = wide ? mpc::mul_aa(ctx, xg, rr) : mul_ff(ctx, xg, rr);
  const int fy = wide ? 2 * F : F;

  if (beta_sh) {
    const AShare<T> bt = mpc::gather(*beta_sh, tile, x.shape);
    return mpc::add_aa(y, wide ? mpc::shl_a(bt, F) : bt);
  }
  std::vector<T> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = fxp_encode<T>((*beta_pub)[i % size_t(C)], fy);
  return mpc::add_ap(ctx, y, b);
}

}  // namespace

template <class T>
AShare<T> f_layernorm(Context& ctx, const AShare<T>& x, const AShare<T>& gamma, const AShare<T>& beta, double eps) {
  return layernorm<T>(ctx, x, &gamma, &beta, nullptr, nullptr, eps, false);
}
template <class T>
AShare<T> f_layernorm_wide(Context& ctx, const AShare<T>& x, const AShare<T>& gamma, const AShare<T>& beta, double eps) {
  return layernorm<T>(ctx, x, &gamma, &beta, nullptr, nullptr, eps, true);
}
template <class T>
AShare<T> f_layernorm(Context& ctx, const AShare<T>& x, const std::vector<double>& gamma,
                      const std::vector<double>& beta, double eps) {
  return layernorm<T>(ctx, x, nullptr, nullptr, &gamma, &beta, eps, false);
}

#define X(T)                                                                                                   \
  template AShare<T> f_layernorm(Context&, const AShare<T>&, const AShare<T>&, const AShare<T>&, double);     \
  template AShare<T> f_layernorm(Context&, const AShare<T>&, const std::vector<double>&,                      \
                                 const std::vector<double>&, double);                                        \
  template AShare<T> f_layernorm_wide(Context&, const AShare<T>&, const AShare<T>&, const AShare<T>&, double);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
