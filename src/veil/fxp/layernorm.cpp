#include "veil/fxp/layernorm.h"

#include <cmath>
#include <stdexcept>

#include "veil/core/fixed_point.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/layout.h"
#include "veil/fxp/reciprocal.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {
namespace {

// gamma_sh / beta_sh when shared, gamma_pub / beta_pub otherwise.
template <class T>
AShare<T> layernorm(Context& ctx, const AShare<T>& x, const AShare<T>* gamma_sh, const AShare<T>* beta_sh,
                    const std::vector<double>* gamma_pub, const std::vector<double>* beta_pub, double eps) {
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

  // μ = Σx / C with the 1/C constant at s fraction bits.
  AShare<T> sum = mpc::sum_rows(x, C);
  AShare<T> mu = mpc::trunc_a(ctx, mpc::mul_ap(sum, std::vector<T>{T(std::llround(std::ldexp(1.0, s) / double(C)))}), s);
  AShare<T> xc = mpc::sub_aa(x, mpc::repeat_each(mu, C, x.shape));

  // [xc², xc·gamma] at 2F; Σxc² summed before the one truncation.
  AShare<T> sq, xg;
  if (gamma_sh) {
    std::vector<int64_t> tile(n);
    for (size_t i = 0; i < n; ++i) tile[i] = int64_t(i) % C;
    AShare<T> gt = mpc::gather(*gamma_sh, tile, x.shape);
    AShare<T> prod = mpc::mul_aa(ctx, mpc::concat<T>({&xc, &xc}), mpc::concat<T>({&xc, &gt}));
    sq = mpc::slice(prod, 0, n, x.shape);
    xg = mpc::slice(prod, n, n, x.shape);
  } else {
    std::vector<T> g(n);
    for (size_t i = 0; i < n; ++i) g[i] = fxp_encode<T>((*gamma_pub)[i % size_t(C)], F);
    sq = mpc::mul_aa(ctx, xc, xc);
    xg = mpc::mul_ap(xc, g);
  }
  AShare<T> ss = mpc::sum_rows(sq, C);
  AShare<T> both = mpc::trunc_a(ctx, mpc::concat<T>({&ss, &xg}), F);
  ss = mpc::slice(both, 0, size_t(rows), {rows});
  xg = mpc::slice(both, size_t(rows), n, x.shape);

  // r = sqrt(C) / sqrt(Σxc² + C·eps) = 1 / sqrt(σ² + eps).
  AShare<T> r = f_rsqrt(ctx, add_fp(ctx, ss, double(C) * eps), std::sqrt(double(C)));
  AShare<T> y = mul_ff(ctx, xg, mpc::repeat_each(r, C, x.shape));

  std::vector<int64_t> tile(n);
  for (size_t i = 0; i < n; ++i) tile[i] = int64_t(i) % C;
  if (beta_sh) return mpc::add_aa(y, mpc::gather(*beta_sh, tile, x.shape));
  std::vector<T> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = fxp_encode<T>((*beta_pub)[i % size_t(C)], F);
  return mpc::add_ap(ctx, y, b);
}

}  // namespace

template <class T>
AShare<T> f_layernorm(Context& ctx, const AShare<T>& x, const AShare<T>& gamma, const AShare<T>& beta, double eps) {
  return layernorm<T>(ctx, x, &gamma, &beta, nullptr, nullptr, eps);
}
template <class T>
AShare<T> f_layernorm(Context& ctx, const AShare<T>& x, const std::vector<double>& gamma,
                      const std::vector<double>& beta, double eps) {
  return layernorm<T>(ctx, x, nullptr, nullptr, &gamma, &beta, eps);
}

#define X(T)                                                                                                   \
  template AShare<T> f_layernorm(Context&, const AShare<T>&, const AShare<T>&, const AShare<T>&, double);     \
  template AShare<T> f_layernorm(Context&, const AShare<T>&, const std::vector<double>&,                      \
                                 const std::vector<double>&, double);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
