#include "veil/core/fixed_point.h"

#include "veil/fxp/fxp_mul.h"
#include "veil/fxp/gelu.h"
#include "veil/fxp/poly.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/instantiate.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/narrow.h"

namespace veil::fxp {
namespace {

// Where the identity branch starts. PUMA uses 3, but its sextic drifts to 0.0199 above GeLU at
// x = 3; from 2.8 on, |x − GeLU(x)| ≤ 0.0071 and the sextic stays within 0.0085 below it.
constexpr double kLinearFrom = 2.8;

// Σ_j c[j]·x^j (c[0] the constant) with powers at F and coefficients at Fc: F + Fc fraction bits.
template <class T>
AShare<T> poly_raw(Context& ctx, const std::vector<AShare<T>>& pw, const std::vector<double>& c, int F, int Fc,
                   const Shape& shape) {
  AShare<T> acc(shape);
  for (size_t j = 1; j < c.size(); ++j)
    if (c[j] != 0) acc = mpc::add_aa(acc, mpc::mul_ap(pw[j], std::vector<T>{fxp_encode<T>(c[j], Fc)}));
  return mpc::add_ap(ctx, acc, std::vector<T>{fxp_encode<T>(c[0], F + Fc)});
}

constexpr int kSignFracBits = 6;  // resolution of the segment tests on FM64: 1/64

// x + c with c encoded at `bits` fraction bits (x holds that many).
template <class T> AShare<T> add_fp_at(Context& ctx, const AShare<T>& x, double c, int bits) {
  return mpc::add_ap(ctx, x, std::vector<T>{fxp_encode<T>(c, bits)});
}

}  // namespace

template <class T> AShare<T> f_gelu(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "f_gelu");
  const int F = frac_bits<T>(ctx);
  const int Fc = sizeof(T) == 8 ? 40 : 19;  // |P| · 2^(F+Fc) < 2^(k−2) for |P| ≤ 3.1
  const size_t n = x.size();

  // c0 = [x < −4], c1 = [x < −1.95], c2 = [x > 2.8] in one comparison (2.8, not PUMA's 3: see
  // the header).
  // On FM64 x is truncated once to 6 fraction bits (the boundaries need no finer resolution) and
  // the signs are taken on 32 bits, where the adder costs half of a 64-bit one.
  AShare<T> cmp;
  if constexpr (sizeof(T) == 8) {
    const AShare<T> t = mpc::trunc_a(ctx, x, F - kSignFracBits);
    AShare<T> a = add_fp_at(ctx, t, 4.0, kSignFracBits), b = add_fp_at(ctx, t, 1.95, kSignFracBits);
    AShare<T> c = add_fp_at(ctx, mpc::neg_a(t), kLinearFrom, kSignFracBits);
    cmp = mpc::ltz_a_via32(ctx, mpc::concat<T>({&a, &b, &c}), 0);
  } else {
    AShare<T> a = add_fp(ctx, x, 4.0), b = add_fp(ctx, x, 1.95), c = add_fp(ctx, mpc::neg_a(x), kLinearFrom);
    cmp = mpc::ltz_a(ctx, mpc::concat<T>({&a, &b, &c}));
  }
  AShare<T> c0 = mpc::slice(cmp, 0, n, x.shape), c1 = mpc::slice(cmp, n, n, x.shape), c2 = mpc::slice(cmp, 2 * n, n, x.shape);

  std::vector<AShare<T>> pw = powers(ctx, x, 6, F);
  // PUMA's coefficients (arXiv:2307.12533).
  AShare<T> p3 = poly_raw<T>(ctx, pw, {-0.505403, -0.422266, -0.118076, -0.011034}, F, Fc, x.shape);
  AShare<T> p6 = poly_raw<T>(ctx, pw, {0.0085263, 0.5, 0.3603293, 0, -0.0376882, 0, 0.0018067}, F, Fc, x.shape);

  // Segment indicators: s1 = c1 − c0, s2 = 1 − c1 − c2, s3 = c2.
  AShare<T> s1 = mpc::sub_aa(c1, c0);
  AShare<T> s2 = mpc::add_ap(ctx, mpc::neg_a(mpc::add_aa(c1, c2)), std::vector<T>{T(1)});
  AShare<T> prod = mpc::mul_aa(ctx, mpc::concat<T>({&s1, &s2, &c2}), mpc::concat<T>({&p3, &p6, &x}));
  AShare<T> poly = mpc::add_aa(mpc::slice(prod, 0, n, x.shape), mpc::slice(prod, n, n, x.shape));
  return mpc::add_aa(mpc::trunc_a(ctx, poly, Fc), mpc::slice(prod, 2 * n, n, x.shape));
}

#define X(T) template AShare<T> f_gelu(Context&, const AShare<T>&);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
