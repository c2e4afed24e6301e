#include "veil/mpc/narrow.h"

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"

namespace veil::mpc {

AShare<uint32_t> low32_a(const AShare<uint64_t>& x) {
  AShare<uint32_t> y(x.shape);
  for (size_t i = 0; i < x.size(); ++i) y.s0[i] = uint32_t(x.s0[i]), y.s1[i] = uint32_t(x.s1[i]);
  return y;
}

BShare<uint64_t> widen_b(const BShare<uint32_t>& b) {
  BShare<uint64_t> w(b.shape, b.nbits);
  for (size_t i = 0; i < b.size(); ++i) w.s0[i] = b.s0[i], w.s1[i] = b.s1[i];
  return w;
}

AShare<uint64_t> ltz_a_via32(Context& ctx, const AShare<uint64_t>& x, int drop) {
  net::Link::Scope scope(ctx.link(), "ltz_a_via32");
  return bit2a(ctx, widen_b(msb_a(ctx, low32_a(drop > 0 ? trunc_a(ctx, x, drop) : x))));
}
Cost cost_ltz_a_via32(int64_t n, int drop) {
  return (drop > 0 ? cost_trunc_a<uint64_t>(n) : Cost{}) + cost_msb_a<uint32_t>(n) + cost_bit2a<uint64_t>(n);
}

AShare<uint64_t> eq_ap_via32(Context& ctx, const AShare<uint64_t>& x, const std::vector<uint64_t>& c) {
  net::Link::Scope scope(ctx.link(), "eq_ap_via32");
  std::vector<uint32_t> neg(c.size());
  for (size_t i = 0; i < c.size(); ++i) neg[i] = uint32_t(0) - uint32_t(c[i]);
  return bit2a(ctx, widen_b(eqz_b(ctx, add_ap(ctx, low32_a(x), neg))));
}
Cost cost_eq_ap_via32(int64_t n) {
  return cost_eqz_b<uint32_t>(n) + cost_bit2a<uint64_t>(n);
}

}  // namespace veil::mpc
