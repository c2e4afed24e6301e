#include "veil/fxp/exp.h"

#include <cmath>
#include <stdexcept>

#include "veil/core/fixed_point.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/fxp/poly.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {
namespace {

struct ExpParams {
  int fint;     // internal fraction bits F'
  int degree;   // Taylor degree of the base
  int squares;  // t = x / 2^squares
};
// Chosen so every internal product stays below 2^(k−2): FM64 |t^8| ≤ 1.75^8 < 2^7, 2·26 + 7 < 62;
// FM32 |t| ≤ 0.875, 2·14 < 30.
template <class T> constexpr ExpParams exp_params() {
  return sizeof(T) == 8 ? ExpParams{26, 8, 3} : ExpParams{14, 4, 4};
}

}  // namespace

template <class T> AShare<T> f_exp(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "f_exp");
  const int F = frac_bits<T>(ctx);
  const ExpParams p = exp_params<T>();
  const int shift = p.fint - F - p.squares;
  if (shift < 0)
    throw std::invalid_argument("f_exp: frac_bits " + std::to_string(F) + " too large for this ring (at most " +
                                std::to_string(p.fint - p.squares) + ")");

  // keep = 1 − [x < −14], an integer 0/1.
  AShare<T> clipped = mpc::ltz_a(ctx, add_fp(ctx, x, 14.0));
  AShare<T> keep = mpc::add_ap(ctx, mpc::neg_a(clipped), std::vector<T>{T(1)});

  // t = x / 2^squares held with F' fraction bits.
  AShare<T> t = mpc::shl_a(x, shift);
  std::vector<AShare<T>> pw = powers(ctx, t, p.degree, p.fint);
  // Σ_j t^j / j!, terms at 2F' fraction bits (F' on t^j times F' on the coefficient).
  AShare<T> acc = mpc::mul_ap(pw[1], std::vector<T>{T(1) << p.fint});
  double fact = 1;
  for (int j = 2; j <= p.degree; ++j) {
    fact *= j;
    acc = mpc::add_aa(acc, mpc::mul_ap(pw[size_t(j)], std::vector<T>{fxp_encode<T>(1.0 / fact, p.fint)}));
  }
  acc = mpc::add_ap(ctx, acc, std::vector<T>{T(1) << (2 * p.fint)});
  AShare<T> v = mpc::trunc_a(ctx, acc, p.fint);
  for (int i = 0; i < p.squares; ++i) {
    const bool last = i + 1 == p.squares;
    v = mpc::trunc_a(ctx, mpc::mul_aa(ctx, v, v), last ? 2 * p.fint - F : p.fint);
  }
  return mpc::mul_aa(ctx, keep, v);
}

#define X(T) template AShare<T> f_exp(Context&, const AShare<T>&);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
