#include "veil/fxp/gelu.h"

#include "veil/core/fixed_point.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/narrow.h"

namespace veil::fxp {
namespace {

// Where the polynomial hands over to the tails, and its coefficients c_j of u^j (u = x²) for
// GeLU(x) − x/2: the minimax fit on [0, T + 1/32] (a linear program over a dense grid; max error
// 2.72e−3).
constexpr double kT = 3.15;
constexpr double kC[5] = {2.71766285e-03, 3.82961868e-01, -5.10918825e-02, 4.32326005e-03, -1.46916924e-04};

constexpr int kSignFracBits = 6;  // resolution of the FM64 threshold tests: 1/64

// [v < 0] as a boolean bit (bit 0) for each element.
template <class T> mpc::BShare<T> sign_bits(Context& ctx, const AShare<T>& v, int F) {
  if constexpr (sizeof(T) == 8) return mpc::ltz_window_b(ctx, v, std::max(0, F - kSignFracBits), 32);
  else return mpc::msb_a(ctx, v);
}

template <class T> std::vector<T> coef(double c, int bits) { return {fxp_encode<T>(c, bits)}; }

// x/2 + q(x²) at scale 2F + Fc (FM64).
template <class T> AShare<T> poly_fm64(Context& ctx, const AShare<T>& x, int F, int Fc) {
  const int S = 2 * F + Fc;
  AShare<T> u = mpc::mul_aa_trunc(ctx, x, x, F);  // x² at F
  AShare<T> w = mpc::mul_aa_trunc(ctx, u, u, F);  // x⁴ at F
  // B = c2 + c3·u + c4·w at F + Fc
  AShare<T> b = mpc::add_ap(ctx, mpc::add_aa(mpc::mul_ap(u, coef<T>(kC[3], Fc)), mpc::mul_ap(w, coef<T>(kC[4], Fc))),
                            coef<T>(kC[2], F + Fc));
  AShare<T> q = mpc::mul_aa(ctx, w, b);  // at S
  q = mpc::add_aa(q, mpc::mul_ap(u, coef<T>(kC[1], F + Fc)));
  q = mpc::add_ap(ctx, q, coef<T>(kC[0], S));
  return mpc::add_aa(q, mpc::shl_a(x, S - F - 1));  // + x/2
}

// x/2 + q(x²) at scale F + Fc from truncated powers (FM32).
template <class T> AShare<T> poly_fm32(Context& ctx, const AShare<T>& x, int F, int Fc) {
  AShare<T> u = mpc::mul_aa_trunc(ctx, x, x, F);
  AShare<T> w = mpc::mul_aa_trunc(ctx, u, u, F);
  AShare<T> lhs = mpc::concat<T>({&u, &w}), rhs = mpc::concat<T>({&w, &w});
  AShare<T> hi = mpc::mul_aa_trunc(ctx, lhs, rhs, F);  // [u³, u⁴]
  AShare<T> u3 = mpc::slice(hi, 0, x.size(), x.shape), u4 = mpc::slice(hi, x.size(), x.size(), x.shape);
  const AShare<T>* pw[5] = {nullptr, &u, &w, &u3, &u4};
  AShare<T> q = mpc::shl_a(x, Fc - 1);  // x/2
  for (int j = 1; j <= 4; ++j) q = mpc::add_aa(q, mpc::mul_ap(*pw[j], coef<T>(kC[j], Fc)));
  return mpc::add_ap(ctx, q, coef<T>(kC[0], F + Fc));
}

}  // namespace

template <class T> AShare<T> f_gelu(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "f_gelu");
  const int F = frac_bits<T>(ctx);
  const size_t n = x.size();
  // lo = [x < −T], hi = [x > T]; mid = ¬(lo ⊕ hi) (they never hold together).
  AShare<T> a = add_fp(ctx, x, kT), b = add_fp(ctx, mpc::neg_a(x), kT);
  mpc::BShare<T> s = sign_bits(ctx, mpc::concat<T>({&a, &b}), F);
  mpc::BShare<T> lo = mpc::slice_b(s, 0, n, x.shape), hi = mpc::slice_b(s, n, n, x.shape);
  mpc::BShare<T> mid = mpc::not_b(ctx, mpc::xor_bb(lo, hi));

  const bool wide = sizeof(T) == 8;
  const int Fc = wide ? 23 : 19;  // |P|·2^S < 2^(k−2) for |P| ≤ 3.3
  AShare<T> p = wide ? poly_fm64(ctx, x, F, Fc) : poly_fm32(ctx, x, F, Fc);
  const int d = wide ? F + Fc : Fc;
  return mpc::mac_ba<T>(ctx, nullptr, {{&mid, &p}}, d, {{&hi, &x}});
}

#define X(T) template AShare<T> f_gelu(Context&, const AShare<T>&);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
