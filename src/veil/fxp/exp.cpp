#include "veil/fxp/exp.h"

#include <stdexcept>

#include "veil/core/fixed_point.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/fxp/poly.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"
#include "veil/mpc/narrow.h"

namespace veil::fxp {
namespace {

// FM64: q(τ) ≈ e^(τ − 0.875) of degree 6 on τ ∈ [−0.89, 0.89], fitted for the final error: the
// relative error after the three squarings, weighted by e^(8t) (what it costs in absolute terms),
// is minimised subject to a relative error ≤ 2.5e−6 for t ≥ −0.72 (x ≥ −5.76, where the
// relative bound of the header applies) and ≤ 2e−4 below (a linear program on a dense grid).
// Relative error: 9e−8 near t = 0, 1.9e−6 at t ≥ −0.72, 3.7e−5 at t = −1.76.
constexpr double kQ64[7] = {0.41686201803784334, 0.41686365767402328, 0.20844717356660949, 0.069462401954093339,
                            0.017280035185146321, 0.0035502426561889468, 0.00068048255147190107};
// FM32: e^t on [−0.885, 0.01], relative minimax of degree 4 (error 9.3e−6).
constexpr double kQ32[5] = {0.99999486, 0.99961436, 0.49652187, 0.15562369, 0.02667688};

constexpr int kSignFracBits = 6;  // resolution of the FM64 clip test: 1/64

template <class T> std::vector<T> coef(double c, int bits) { return {fxp_encode<T>(c, bits)}; }

// e^(x/8) at 26 fraction bits (FM64, F ≤ 21), times the keep bit.
template <class T> AShare<T> base_fm64(Context& ctx, const AShare<T>& x, const mpc::BShare<T>& keep, int F) {
  constexpr int Ft = 21, F3 = 18, Fb = 42, Fq = 60, Fv = 26;
  // τ = x/8 + 0.875 at Ft bits: x's encoding read with 3 more fraction bits, shifted to Ft.
  AShare<T> tau = mpc::add_ap(ctx, mpc::shl_a(x, Ft - 3 - F), coef<T>(0.875, Ft));
  AShare<T> tau2 = mpc::mul_aa_trunc(ctx, tau, tau, Ft);             // at Ft
  AShare<T> tau3 = mpc::mul_aa_trunc(ctx, tau2, tau, 2 * Ft - F3);  // at F3
  // q = A + τ³·B, B = q3 + q4·τ + q5·τ² + q6·τ³ at Fb, A = q0 + q1·τ + q2·τ² at Fq = F3 + Fb.
  AShare<T> b = mpc::add_aa(mpc::add_aa(mpc::mul_ap(tau, coef<T>(kQ64[4], Fb - Ft)), mpc::mul_ap(tau2, coef<T>(kQ64[5], Fb - Ft))),
                            mpc::mul_ap(tau3, coef<T>(kQ64[6], Fb - F3)));
  b = mpc::add_ap(ctx, b, coef<T>(kQ64[3], Fb));
  AShare<T> q = mpc::mul_aa(ctx, tau3, b);  // at Fq
  q = mpc::add_aa(q, mpc::add_aa(mpc::mul_ap(tau, coef<T>(kQ64[1], Fq - Ft)), mpc::mul_ap(tau2, coef<T>(kQ64[2], Fq - Ft))));
  q = mpc::add_ap(ctx, q, coef<T>(kQ64[0], Fq));
  return mpc::mac_ba<T>(ctx, nullptr, {{&keep, &q}}, Fq - Fv);
}

// e^(x/16) at 14 fraction bits (FM32, F ≤ 10), times the keep bit.
template <class T> AShare<T> base_fm32(Context& ctx, const AShare<T>& x, const mpc::BShare<T>& keep, int F) {
  constexpr int Ft = 14, Fc = 14;
  AShare<T> t = mpc::shl_a(x, Ft - 4 - F);  // x/16 at Ft
  std::vector<AShare<T>> pw = powers(ctx, t, 4, Ft);
  AShare<T> acc = mpc::mul_ap(t, coef<T>(kQ32[1], Fc));
  for (int j = 2; j <= 4; ++j) acc = mpc::add_aa(acc, mpc::mul_ap(pw[size_t(j)], coef<T>(kQ32[j], Fc)));
  acc = mpc::add_ap(ctx, acc, coef<T>(kQ32[0], Ft + Fc));
  return mpc::mac_ba<T>(ctx, nullptr, {{&keep, &acc}}, Fc);
}

}  // namespace

template <class T> AShare<T> f_exp(Context& ctx, const AShare<T>& x, int range_bits) {
  net::Link::Scope scope(ctx.link(), "f_exp");
  const int F = frac_bits<T>(ctx);
  const bool wide = sizeof(T) == 8;
  const int Fv = wide ? 26 : 14, squares = wide ? 3 : 4;
  if (F > (wide ? 21 : 10))
    throw std::invalid_argument("f_exp: frac_bits " + std::to_string(F) + " too large for this ring");
  if (range_bits < 4 || range_bits > 24) throw std::invalid_argument("f_exp: range_bits must be in [4, 24]");

  // keep = ¬[x < −14], a boolean bit.
  AShare<T> shifted = add_fp(ctx, x, 14.0);
  mpc::BShare<T> below;
  if constexpr (sizeof(T) == 8) below = mpc::ltz_window_b(ctx, shifted, std::max(0, F - kSignFracBits), range_bits + 8);
  else below = mpc::msb_a(ctx, shifted);
  mpc::BShare<T> keep = mpc::not_b(ctx, below);

  // The keep bit multiplies the base inside its truncation: a clipped base is 0, so are its squares.
  AShare<T> v = wide ? base_fm64(ctx, x, keep, F) : base_fm32(ctx, x, keep, F);
  for (int i = 0; i + 1 < squares; ++i) v = mpc::mul_aa_trunc(ctx, v, v, Fv);
  return mpc::mul_aa_trunc(ctx, v, v, 2 * Fv - F);
}

#define X(T) template AShare<T> f_exp(Context&, const AShare<T>&, int);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
