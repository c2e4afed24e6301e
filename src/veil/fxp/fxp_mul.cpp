#include "veil/fxp/fxp_mul.h"

#include "veil/core/fixed_point.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {

template <class T> AShare<T> mul_ff(Context& ctx, const AShare<T>& x, const AShare<T>& y) {
  return mpc::mul_aa_trunc(ctx, x, y, frac_bits<T>(ctx));
}
template <class T> mpc::Cost cost_mul_ff(int64_t n) {
  return mpc::cost_mul_aa_trunc<T>(n, RingTraits<ring_of<T>::value>::default_frac_bits);
}

template <class T> AShare<T> square_f(Context& ctx, const AShare<T>& x) { return mul_ff(ctx, x, x); }

template <class T> AShare<T> mul_fp(Context& ctx, const AShare<T>& x, const std::vector<double>& c, int cbits) {
  if (cbits < 0) cbits = frac_bits<T>(ctx);
  return mpc::trunc_a(ctx, mpc::mul_ap(x, fxp_encode<T>(c, cbits)), cbits);
}
template <class T> AShare<T> mul_fp(Context& ctx, const AShare<T>& x, double c, int cbits) {
  return mul_fp(ctx, x, std::vector<double>{c}, cbits);
}

template <class T> AShare<T> add_fp(Context& ctx, const AShare<T>& x, double c) {
  return mpc::add_ap(ctx, x, std::vector<T>{fxp_encode<T>(c, frac_bits<T>(ctx))});
}

#define X(T)                                                                                  \
  template AShare<T> mul_ff(Context&, const AShare<T>&, const AShare<T>&);                    \
  template mpc::Cost cost_mul_ff<T>(int64_t);                                                 \
  template AShare<T> square_f(Context&, const AShare<T>&);                                    \
  template AShare<T> mul_fp(Context&, const AShare<T>&, double, int);                         \
  template AShare<T> mul_fp(Context&, const AShare<T>&, const std::vector<double>&, int);     \
  template AShare<T> add_fp(Context&, const AShare<T>&, double);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
