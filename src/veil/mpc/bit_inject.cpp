#include "veil/mpc/bit_inject.h"

#include "veil/mpc/instantiate.h"

namespace veil::mpc {

namespace {
// Chunk j of n elements: [begin, end).
size_t chunk_begin(size_t n, int j) { return n * size_t(j) / 3; }
}  // namespace

template <class T> AShare<T> bit2a_dealt(Context& ctx, const BShare<T>& b) {
  net::Link::Scope scope(ctx.link(), "bit2a_dealt");
  const size_t n = b.size();
  const int p = ctx.id(), next = ctx.next(), prev = ctx.prev();
  // This party is D of chunk p, A of chunk prev (its dealer is prev), B of chunk next.
  const size_t d0 = chunk_begin(n, p), d1 = chunk_begin(n, p + 1);
  const size_t a0 = chunk_begin(n, prev), a1 = chunk_begin(n, prev + 1);
  const size_t b0 = chunk_begin(n, next), b1 = chunk_begin(n, next + 1);
  const size_t nd = d1 - d0, na = a1 - a0, nb = b1 - b0;
  // Seed with next (D–A of chunk p, then B–D of chunk next); seed with prev (D–A of chunk prev,
  // then B–D of chunk p): the same draws in the same order on both holders.
  const std::vector<T> r_d = ctx.prg_next().draw<T>(nd), xa_d = ctx.prg_next().draw<T>(nd);
  const std::vector<T> xd_b = ctx.prg_next().draw<T>(nb);
  const std::vector<T> r_a = ctx.prg_prev().draw<T>(na), xa_a = ctx.prg_prev().draw<T>(na);
  const std::vector<T> xd_d = ctx.prg_prev().draw<T>(nd);

  AShare<T> out(b.shape);
  // As D: m = u − r to B (prev); keep (x_D, x_A).
  std::vector<T> m(nd);
  for (size_t i = 0; i < nd; ++i) {
    const T u = T((b.s0[d0 + i] ^ b.s1[d0 + i]) & 1);
    m[i] = u - r_d[i];
    out.s0[d0 + i] = xd_d[i], out.s1[d0 + i] = xa_d[i];
  }
  // As A: y_A − x_A to B (next).
  std::vector<T> ya(na);
  for (size_t i = 0; i < na; ++i) {
    const T bb = T(b.s1[a0 + i] & 1), c = T(1) - T(2) * bb;
    ya[i] = r_a[i] * c + bb - xa_a[i];
  }
  ctx.link().send(prev, m);
  ctx.link().send(next, ya);
  // As B: receive m (from D = next) and y_A − x_A (from A = prev); send y_B − x_D to A.
  std::vector<T> m_in(nb), ya_in(nb);
  ctx.link().recv(next, m_in);
  ctx.link().recv(prev, ya_in);
  std::vector<T> yb(nb);
  for (size_t i = 0; i < nb; ++i) {
    const T bb = T(b.s0[b0 + i] & 1), c = T(1) - T(2) * bb;
    yb[i] = m_in[i] * c - xd_b[i];
    out.s0[b0 + i] = ya_in[i] + yb[i], out.s1[b0 + i] = xd_b[i];  // (x_B, x_D)
  }
  ctx.link().send(prev, yb);
  // As A: x_B = (y_A − x_A) + (y_B − x_D).
  std::vector<T> yb_in(na);
  ctx.link().recv(next, yb_in);
  for (size_t i = 0; i < na; ++i) out.s0[a0 + i] = xa_a[i], out.s1[a0 + i] = ya[i] + yb_in[i];  // (x_A, x_B)
  return out;
}

template <class T> Cost cost_bit2a_dealt(int64_t n) {
  const int64_t e = sizeof(T);
  return {2, n * e, 3 * n * e};
}

#define X(T)                                                       \
  template AShare<T> bit2a_dealt(Context&, const BShare<T>&);      \
  template Cost cost_bit2a_dealt<T>(int64_t);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::mpc
