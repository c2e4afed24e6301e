#include "veil/fxp/quad_gelu.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {

template <class T> AShare<T> f_quad_gelu(Context& ctx, const AShare<T>& x, int frac_bits) {
  const int F = frac_bits < 0 ? fxp::frac_bits<T>(ctx) : frac_bits;
  constexpr int k = int(sizeof(T) * 8);
  if (F < 1 || 2 * F + 3 > k - 2)
    throw std::invalid_argument("f_quad_gelu: " + std::to_string(F) + " fraction bits do not fit a " + std::to_string(k) + "-bit ring");
  net::Link::Scope scope(ctx.link(), "quad_gelu");
  const AShare<T> x_plus_2 = mpc::add_ap(ctx, x, std::vector<T>{T(T(1) << (F + 1))});
  const AShare<T> q = mpc::mul_aa_trunc(ctx, x, x_plus_2, F + 3);
  return mpc::add_ap(ctx, q, std::vector<T>{T(T(1) << (F - 1))});
}
template <class T> mpc::Cost cost_quad_gelu(int64_t n, int frac_bits) { return mpc::cost_mul_aa_trunc<T>(n, frac_bits + 3); }

double quad_gelu_ref(double x, int frac_bits) {
  const double s = std::ldexp(1.0, frac_bits);
  return std::nearbyint((0.125 * x * x + 0.25 * x + 0.5) * s) / s;
}

#define X(T)                                                                     \
  template AShare<T> f_quad_gelu(Context&, const AShare<T>&, int);               \
  template mpc::Cost cost_quad_gelu<T>(int64_t, int);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
