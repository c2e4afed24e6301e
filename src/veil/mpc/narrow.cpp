#include "veil/mpc/narrow.h"

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/carry_tree.h"

#include <stdexcept>

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

AShare<uint32_t> window32_a(const AShare<uint64_t>& x, int drop) {
  if (drop < 0 || drop > 32) throw std::invalid_argument("window32_a: drop must be in [0, 32]");
  AShare<uint32_t> y(x.shape);
  for (size_t i = 0; i < x.size(); ++i) y.s0[i] = uint32_t(x.s0[i] >> drop), y.s1[i] = uint32_t(x.s1[i] >> drop);
  return y;
}

BShare<uint64_t> ltz_window_b(Context& ctx, const AShare<uint64_t>& x, int drop, int ell) {
  if (drop < 0 || ell < 2 || drop + ell > 64) throw std::invalid_argument("ltz_window_b: window out of range");
  net::Link::Scope scope(ctx.link(), "ltz_window_b");
  // The dropped carries e ∈ {0, 1, 2} make x ∈ [0, 2^(drop+1)) read negative; the offset 2^drop
  // centres that band on zero.
  const AShare<uint64_t> y = drop > 0 ? add_ap(ctx, x, std::vector<uint64_t>{uint64_t(1) << drop}) : x;
  const uint64_t mask = ell == 64 ? ~uint64_t(0) : (uint64_t(1) << ell) - 1;
  std::vector<uint64_t> s0(y.size()), s1(y.size());
  for (size_t i = 0; i < y.size(); ++i) s0[i] = (y.s0[i] >> drop) & mask, s1[i] = (y.s1[i] >> drop) & mask;
  return msb_of_sum(ctx, s0, s1, ell, x.shape);
}
Cost cost_ltz_window_b(int64_t n, int ell) { return cost_msb_of_sum(n, ell); }

BShare<uint32_t> ltz_window_b(Context& ctx, const AShare<uint32_t>& x, int drop) {
  if (drop < 1 || drop > 30) throw std::invalid_argument("ltz_window_b: drop must be in [1, 30] on FM32");
  net::Link::Scope scope(ctx.link(), "ltz_window_b");
  // As on FM64: the wraps of the components fall above bit 31, outside the window.
  const AShare<uint32_t> y = add_ap(ctx, x, std::vector<uint32_t>{uint32_t(1) << drop});
  std::vector<uint64_t> s0(y.size()), s1(y.size());
  for (size_t i = 0; i < y.size(); ++i) s0[i] = y.s0[i] >> drop, s1[i] = y.s1[i] >> drop;
  const BShare<uint64_t> b = msb_of_sum(ctx, s0, s1, 32 - drop, x.shape);
  BShare<uint32_t> out(b.shape, b.nbits);
  for (size_t i = 0; i < b.size(); ++i) out.s0[i] = uint32_t(b.s0[i]), out.s1[i] = uint32_t(b.s1[i]);
  return out;
}
Cost cost_ltz_window32_b(int64_t n, int drop) { return cost_msb_of_sum(n, 32 - drop); }

AShare<uint64_t> ltz_a_via32(Context& ctx, const AShare<uint64_t>& x, int drop) {
  net::Link::Scope scope(ctx.link(), "ltz_a_via32");
  return bit2a(ctx, ltz_window_b(ctx, x, drop, 32));
}
Cost cost_ltz_a_via32(int64_t n, int drop) { return cost_ltz_window_b(n, 32) + cost_bit2a<uint64_t>(n); }

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
