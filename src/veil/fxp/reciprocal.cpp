#include "veil/fxp/reciprocal.h"

#include <algorithm>
#include <cmath>

#include "veil/core/fixed_point.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {
namespace {

// Result of normalising x > 0 by its highest set bit p: u = x_enc / 2^(p+1) ∈ [0.5, 1) and
// c·u/2 for a public slope c < 2, both with `fu` fraction bits, and the injected one-hot bits
// h[p] (arithmetic 0/1) for p < nbits.
template <class T> struct Normalized {
  std::vector<AShare<T>> h;
  AShare<T> u, cu_half;
};

template <class T> Normalized<T> normalize(Context& ctx, const AShare<T>& x, int nbits, int fu, double slope) {
  constexpr int k = ring_bits<T>;
  constexpr int G = k - 3;  // x_enc · 2^(G−p) ∈ [2^G, 2^(G+1)) stays below 2^(k−2)
  nbits = std::min(nbits, G + 1);
  mpc::BShare<T> y = mpc::a2b(ctx, x);
  for (int s = 1; s < k; s *= 2) {  // prefix-OR from the top: y_i = OR_{j ≥ i} b_j
    mpc::BShare<T> z = mpc::shr_b(y, s);
    y = mpc::xor_bb(mpc::xor_bb(y, z), mpc::and_bb(ctx, y, z));
  }
  mpc::BShare<T> h = mpc::xor_bb(y, mpc::shr_b(y, 1));  // one-hot of the highest set bit
  Normalized<T> out;
  out.h = mpc::bits2a(ctx, h, 0, nbits);

  AShare<T> s1(x.shape), s2(x.shape);  // zero shares
  for (int p = 0; p < nbits; ++p) {
    const double w = std::ldexp(1.0, G - p);
    s1 = mpc::add_aa(s1, mpc::mul_ap(out.h[size_t(p)], std::vector<T>{T(T(1) << (G - p))}));
    s2 = mpc::add_aa(s2, mpc::mul_ap(out.h[size_t(p)], std::vector<T>{T(std::llround(w * slope / 2))}));
  }
  AShare<T> xx = mpc::concat<T>({&x, &x});
  AShare<T> ss = mpc::concat<T>({&s1, &s2});
  AShare<T> us = mpc::trunc_a(ctx, mpc::mul_aa(ctx, xx, ss), G + 1 - fu);
  out.u = mpc::slice(us, 0, x.size(), x.shape);
  out.cu_half = mpc::slice(us, x.size(), x.size(), x.shape);
  return out;
}

// Σ_p h[p] · c[p] for public integers c (local).
template <class T> AShare<T> combine(const std::vector<AShare<T>>& h, const std::vector<T>& c, const Shape& shape) {
  AShare<T> acc(shape);
  for (size_t p = 0; p < h.size(); ++p)
    if (c[p] != 0) acc = mpc::add_aa(acc, mpc::mul_ap(h[p], std::vector<T>{c[p]}));
  return acc;
}

}  // namespace

template <class T> AShare<T> f_reciprocal(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "f_reciprocal");
  constexpr int k = ring_bits<T>;
  const int F = frac_bits<T>(ctx);
  const int fu = k - 3 - 2 * F;  // w·R below 2^(k−2) for every p < 2F
  Normalized<T> nz = normalize(ctx, x, 2 * F, fu, 32.0 / 17.0);
  // w0 = 48/17 − (32/17)·u
  AShare<T> w = mpc::add_ap(ctx, mpc::neg_a(mpc::shl_a(nz.cu_half, 1)),
                            std::vector<T>{fxp_encode<T>(48.0 / 17.0, fu)});
  const T two = T(2) << fu;
  for (int it = 0; it < 2; ++it) {
    AShare<T> e = mpc::trunc_a(ctx, mpc::mul_aa(ctx, nz.u, w), fu);
    AShare<T> d = mpc::add_ap(ctx, mpc::neg_a(e), std::vector<T>{two});
    w = mpc::trunc_a(ctx, mpc::mul_aa(ctx, w, d), fu);
  }
  // 1/x = w · 2^(F−p−1): result_enc = w_enc · 2^(2F−1−p) / 2^fu.
  std::vector<T> r(nz.h.size());
  for (size_t p = 0; p < r.size(); ++p) r[p] = T(1) << (2 * F - 1 - int(p));
  AShare<T> R = combine(nz.h, r, x.shape);
  return mpc::trunc_a(ctx, mpc::mul_aa(ctx, w, R), fu);
}

template <class T> AShare<T> f_rsqrt(Context& ctx, const AShare<T>& x, double scale) {
  net::Link::Scope scope(ctx.link(), "f_rsqrt");
  constexpr int k = ring_bits<T>;
  const int F = frac_bits<T>(ctx);
  const int fu = k - 3 - 2 * F;
  // Inject 3F bits, plus what scale² adds to the range where the result is not yet below 2^−F.
  const int extra = scale > 1 ? 2 * int(std::ceil(std::log2(scale))) : 0;
  Normalized<T> nz = normalize(ctx, x, 3 * F + extra, fu, 0.808);
  // y0 = 1.786 − 0.808·u
  AShare<T> y = mpc::add_ap(ctx, mpc::neg_a(mpc::shl_a(nz.cu_half, 1)), std::vector<T>{fxp_encode<T>(1.786, fu)});
  for (int it = 0; it < 2; ++it) {
    // [y², u·y, 1.5·y] in one product/truncation batch, then u·y³/2.
    AShare<T> y15 = mpc::shl_a(mpc::mul_ap(y, std::vector<T>{T(3)}), fu - 1);
    AShare<T> lhs = mpc::concat<T>({&y, &nz.u});
    AShare<T> rhs = mpc::concat<T>({&y, &y});
    AShare<T> prod = mpc::mul_aa(ctx, lhs, rhs);
    AShare<T> all = mpc::trunc_a(ctx, mpc::concat<T>({&prod, &y15}), fu);
    AShare<T> y2 = mpc::slice(all, 0, x.size(), x.shape);
    AShare<T> uy = mpc::slice(all, x.size(), x.size(), x.shape);
    AShare<T> y3 = mpc::slice(all, 2 * x.size(), x.size(), x.shape);
    AShare<T> half_uy3 = mpc::trunc_a(ctx, mpc::mul_aa(ctx, y2, uy), fu + 1);
    y = mpc::sub_aa(y3, half_uy3);
  }
  // x^(−1/2) = y · sqrt(2^(F−p−1)); result_enc = y_enc · c_p / 2^E with
  // c_p = scale · 2^(E − fu + F + (F−p−1)/2), E as large as keeps y_enc·c_p (y ≤ 1.5) below 2^(k−3).
  const int E = k - 4 - F - (F - 1 + 1) / 2 - int(std::ceil(std::log2(std::max(scale, 1e-300))));
  std::vector<T> c(nz.h.size());
  for (size_t p = 0; p < c.size(); ++p)
    c[p] = T(std::llround(scale * std::ldexp(std::sqrt(std::ldexp(1.0, F - int(p) - 1)), E - fu + F)));
  AShare<T> C = combine(nz.h, c, x.shape);
  return mpc::trunc_a(ctx, mpc::mul_aa(ctx, y, C), E);
}

#define X(T)                                                   \
  template AShare<T> f_reciprocal(Context&, const AShare<T>&); \
  template AShare<T> f_rsqrt(Context&, const AShare<T>&, double);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
