#include "veil/fxp/poly.h"

#include "veil/mpc/layout.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {

template <class T> std::vector<AShare<T>> powers(Context& ctx, const AShare<T>& t, int deg, int fbits) {
  std::vector<AShare<T>> pw(size_t(deg) + 1);
  if (deg >= 1) pw[1] = t;
  for (int half = 1; half < deg; half *= 2) {
    const int hi = std::min(deg, 2 * half);
    std::vector<const AShare<T>*> lhs, rhs;
    for (int j = half + 1; j <= hi; ++j) lhs.push_back(&pw[size_t(half)]), rhs.push_back(&pw[size_t(j - half)]);
    AShare<T> prod = mpc::mul_aa_trunc(ctx, mpc::concat(lhs), mpc::concat(rhs), fbits);
    for (int j = half + 1; j <= hi; ++j)
      pw[size_t(j)] = mpc::slice(prod, size_t(j - half - 1) * t.size(), t.size(), t.shape);
  }
  return pw;
}

#define X(T) template std::vector<AShare<T>> powers(Context&, const AShare<T>&, int, int);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
