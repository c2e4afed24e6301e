#include "veil/fxp/softmax.h"

#include <stdexcept>
#include <utility>

#include "veil/fxp/exp.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/mpc/layout.h"
#include "veil/fxp/max.h"
#include "veil/fxp/reciprocal.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {

namespace {

// The causal mask of x (..., Tq, Tk) as public vectors: keep (1 visible, 0 masked) and the value
// masked inputs are replaced by.
template <class T> std::pair<std::vector<T>, std::vector<T>> causal_mask(const AShare<T>& x) {
  if (x.shape.size() < 2) throw std::invalid_argument("f_softmax: a causal mask needs (..., Tq, Tk) scores");
  const int64_t tq = x.shape[x.shape.size() - 2], tk = x.shape.back();
  std::vector<T> keep(x.size()), low(x.size());
  // A very negative public value: −2^(k−4) on FM32; on FM64 −2^40 (−2^22 in value at F = 18),
  // inside the range of the 32-bit window comparisons of the max and the clip of exp.
  const T neg = T(T(0) - (T(1) << (sizeof(T) == 8 ? 40 : ring_bits<T> - 4)));
  for (size_t e = 0; e < x.size(); ++e) {
    const int64_t j = int64_t(e) % tk, i = (int64_t(e) / tk) % tq;
    const bool masked = j > i + (tk - tq);
    keep[e] = masked ? 0 : 1;
    low[e] = masked ? neg : 0;
  }
  return {std::move(keep), std::move(low)};
}

}  // namespace

template <class T> AShare<T> mask_causal(Context& ctx, const AShare<T>& x) {
  const auto [keep, low] = causal_mask(x);
  return mpc::add_ap(ctx, mpc::mul_ap(x, keep), low);
}

template <class T> SoftmaxParts<T> f_softmax_parts(Context& ctx, const AShare<T>& x, SoftmaxOptions opt) {
  net::Link::Scope scope(ctx.link(), "f_softmax");
  if (x.shape.empty() || x.shape.back() <= 0) throw std::invalid_argument("f_softmax: empty last axis");
  const int64_t n = x.shape.back();
  AShare<T> xm = x;
  std::vector<T> keep;  // causal: the public 0/1 mask
  if (opt.causal) {
    auto [k, low] = causal_mask(x);
    keep = std::move(k);
    if (!opt.max_subtracted) xm = mpc::add_ap(ctx, mpc::mul_ap(x, keep), low);  // else the caller masked
  }
  if (!opt.max_subtracted) {
    // FM64: comparisons at 1/64 resolution (the max may be up to 7/64 low: exp takes x − m ≤ 0.11).
    const int fuzzy = sizeof(T) == 8 ? std::max(0, frac_bits<T>(ctx) - 6) : 0;
    AShare<T> m = max_last(ctx, xm, fuzzy);
    xm = mpc::sub_aa(xm, mpc::repeat_each(m, n, x.shape));
  }
  AShare<T> e = f_exp(ctx, xm, opt.range_bits);
  // The masked exps are ~0 but may carry a truncation ulp; multiplying by the public mask
  // (local, exact) makes them exactly 0, before the sum (and f_softmax again after its product).
  if (opt.causal) e = mpc::mul_ap(e, keep);
  AShare<T> r = f_reciprocal(ctx, mpc::sum_rows(e, n));
  return {std::move(e), std::move(r)};
}

template <class T> AShare<T> f_softmax(Context& ctx, const AShare<T>& x, SoftmaxOptions opt) {
  SoftmaxParts<T> p = f_softmax_parts(ctx, x, opt);
  net::Link::Scope scope(ctx.link(), "f_softmax");
  AShare<T> y = mul_ff(ctx, p.e, mpc::repeat_each(p.r, x.shape.back(), x.shape));
  return opt.causal ? mpc::mul_ap(y, causal_mask(x).first) : y;
}

AShare<uint64_t> f_normalise_product(Context& ctx, AShare<uint64_t> ev, int f_ev, const AShare<uint64_t>& r, int f_r,
                                     int f_out) {
  if (const int over = f_ev + f_r - kNormaliseProductBits; over > 0) ev = mpc::trunc_a(ctx, ev, over), f_ev -= over;
  return mpc::mul_aa_trunc(ctx, ev, mpc::repeat_each(r, ev.shape.back(), ev.shape), f_ev + f_r - f_out);
}

#define X(T)                                                                  \
  template AShare<T> f_softmax(Context&, const AShare<T>&, SoftmaxOptions); \
  template SoftmaxParts<T> f_softmax_parts(Context&, const AShare<T>&, SoftmaxOptions); \
  template AShare<T> mask_causal(Context&, const AShare<T>&);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
