#include "veil/fxp/silu.h"

#include "veil/core/fixed_point.h"
#include "veil/fxp/exp.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {

template <class T> AShare<T> f_sigmoid(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "f_sigmoid");
  constexpr int k = ring_bits<T>;
  const int F = frac_bits<T>(ctx);
  const int fw = (k - 6) / 2;  // Newton products (< 4) stay below 2^(k−2): FM64 29, FM32 13
  const size_t n = x.size();

  AShare<T> s = mpc::ltz_a(ctx, x);
  AShare<T> sx = mpc::mul_aa(ctx, s, x);
  AShare<T> ax = mpc::sub_aa(x, mpc::shl_a(sx, 1));  // |x|
  AShare<T> e = f_exp(ctx, mpc::neg_a(ax));          // e^−|x| at F

  // v = 1 + e ∈ [1, 2] at fw bits; w0 = 24/17 − (8/17)·v.
  AShare<T> v = mpc::shl_a(mpc::add_ap(ctx, e, std::vector<T>{T(T(1) << F)}), fw - F);
  AShare<T> w = mpc::add_ap(ctx, mpc::neg_a(mpc::trunc_a(ctx, mpc::mul_ap(v, std::vector<T>{fxp_encode<T>(8.0 / 17.0, fw)}), fw)),
                            std::vector<T>{fxp_encode<T>(24.0 / 17.0, fw)});
  // q = 1 + s·(e − 1) (at F) rides along with the first Newton product.
  AShare<T> em1 = mpc::add_ap(ctx, e, std::vector<T>{T(-(T(1) << F))});
  AShare<T> q;
  const T two = T(2) << fw;
  for (int it = 0; it < 2; ++it) {
    AShare<T> ev;
    if (it == 0) {
      AShare<T> prod = mpc::mul_aa(ctx, mpc::concat<T>({&v, &s}), mpc::concat<T>({&w, &em1}));
      ev = mpc::trunc_a(ctx, mpc::slice(prod, 0, n, x.shape), fw);
      q = mpc::add_ap(ctx, mpc::slice(prod, n, n, x.shape), std::vector<T>{T(T(1) << F)});
    } else {
      ev = mpc::trunc_a(ctx, mpc::mul_aa(ctx, v, w), fw);
    }
    AShare<T> d = mpc::add_ap(ctx, mpc::neg_a(ev), std::vector<T>{two});
    w = mpc::trunc_a(ctx, mpc::mul_aa(ctx, w, d), it == 1 ? 2 * fw - F : fw);  // last step lands on F
  }
  return mul_ff(ctx, w, q);
}

template <class T> AShare<T> f_silu(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "f_silu");
  return mul_ff(ctx, x, f_sigmoid(ctx, x));
}

#define X(T)                                                 \
  template AShare<T> f_sigmoid(Context&, const AShare<T>&);  \
  template AShare<T> f_silu(Context&, const AShare<T>&);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
