#include "veil/mpc/boolean.h"

#include <stdexcept>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/carry_tree.h"
#include "veil/mpc/instantiate.h"

namespace veil::mpc {

namespace {
template <class T> constexpr int kbits = int(sizeof(T) * 8);
template <class T> T low_mask(int nbits) { return nbits >= kbits<T> ? T(~T(0)) : T((T(1) << nbits) - 1); }

// Concatenate / split helpers so that independent ANDs share one round.
template <class T> BShare<T> concat(const BShare<T>& a, const BShare<T>& b) {
  BShare<T> c({int64_t(a.size() + b.size())}, std::max(a.nbits, b.nbits));
  std::copy(a.s0.begin(), a.s0.end(), c.s0.begin());
  std::copy(b.s0.begin(), b.s0.end(), c.s0.begin() + long(a.size()));
  std::copy(a.s1.begin(), a.s1.end(), c.s1.begin());
  std::copy(b.s1.begin(), b.s1.end(), c.s1.begin() + long(a.size()));
  return c;
}
template <class T> BShare<T> slice(const BShare<T>& a, size_t lo, size_t n, const Shape& shape) {
  BShare<T> c(shape, a.nbits);
  std::copy(a.s0.begin() + long(lo), a.s0.begin() + long(lo + n), c.s0.begin());
  std::copy(a.s1.begin() + long(lo), a.s1.begin() + long(lo + n), c.s1.begin());
  return c;
}
// The arithmetic component x_j as a boolean sharing of its own (only component j non-zero).
template <class T> BShare<T> component_as_b(Context& ctx, const AShare<T>& x, int j) {
  BShare<T> b(x.shape, kbits<T>);
  if (ctx.id() == j) b.s0 = x.s0;
  if (ctx.id() == (j + 2) % 3) b.s1 = x.s1;  // party j−1 holds x_j as its second component
  return b;
}
}  // namespace

template <class T> BShare<T> xor_bb(const BShare<T>& x, const BShare<T>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("xor_bb: operand sizes differ");
  BShare<T> z(x.shape, std::max(x.nbits, y.nbits));
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] = x.s0[i] ^ y.s0[i], z.s1[i] = x.s1[i] ^ y.s1[i];
  return z;
}
template <class T> BShare<T> xor_bp(Context& ctx, const BShare<T>& x, T c) {
  BShare<T> z = x;  // the constant goes into component 0
  if (ctx.id() == 0) for (auto& v : z.s0) v ^= c;
  if (ctx.id() == 2) for (auto& v : z.s1) v ^= c;
  return z;
}
template <class T> BShare<T> not_b(Context& ctx, const BShare<T>& x) { return xor_bp(ctx, x, low_mask<T>(x.nbits)); }
template <class T> BShare<T> shr_b(const BShare<T>& x, int bits) {
  BShare<T> z(x.shape, std::max(0, x.nbits - bits));
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] = x.s0[i] >> bits, z.s1[i] = x.s1[i] >> bits;
  return z;
}
template <class T> BShare<T> shl_b(const BShare<T>& x, int bits) {
  BShare<T> z(x.shape, std::min(kbits<T>, x.nbits + bits));
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] = T(x.s0[i] << bits), z.s1[i] = T(x.s1[i] << bits);
  return z;
}
template <class T> BShare<T> and_bp(const BShare<T>& x, T mask) {
  BShare<T> z = x;
  for (size_t i = 0; i < x.size(); ++i) z.s0[i] &= mask, z.s1[i] &= mask;
  return z;
}

template <class T> BShare<T> concat_b(const std::vector<const BShare<T>*>& parts) {
  size_t total = 0;
  int nbits = 0;
  for (const auto* p : parts) total += p->size(), nbits = std::max(nbits, p->nbits);
  BShare<T> c({int64_t(total)}, nbits);
  size_t at = 0;
  for (const auto* p : parts) {
    std::copy(p->s0.begin(), p->s0.end(), c.s0.begin() + long(at));
    std::copy(p->s1.begin(), p->s1.end(), c.s1.begin() + long(at));
    at += p->size();
  }
  return c;
}
template <class T> BShare<T> slice_b(const BShare<T>& x, size_t off, size_t n, Shape shape) {
  if (off + n > x.size()) throw std::invalid_argument("slice_b: range out of bounds");
  if (numel(shape) != int64_t(n)) throw std::invalid_argument("slice_b: shape does not match the length");
  return slice(x, off, n, shape);
}

// z_i = x_i&y_i ^ x_i&y_{i+1} ^ x_{i+1}&y_i ^ α_i, α a PRF zero-sharing; z_i goes to party i−1.
template <class T> BShare<T> and_bb(Context& ctx, const BShare<T>& x, const BShare<T>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("and_bb: operand sizes differ");
  net::Link::Scope scope(ctx.link(), "and_bb");
  const size_t n = x.size();
  BShare<T> z(x.shape, std::max(x.nbits, y.nbits));
  ctx.prg_next().fill(z.s0.data(), n * sizeof(T));
  std::vector<T> b = ctx.prg_prev().draw<T>(n);
  for (size_t i = 0; i < n; ++i) z.s0[i] ^= (x.s0[i] & (y.s0[i] ^ y.s1[i])) ^ (x.s1[i] & y.s0[i]) ^ b[i];
  ctx.link().send(ctx.prev(), z.s0);
  ctx.link().recv(ctx.next(), z.s1);
  return z;
}
template <class T> Cost cost_and_bb(int64_t n) {
  const int64_t e = sizeof(T);
  return {1, n * e, 3 * n * e};
}

template <class T> BShare<T> a2b(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "a2b");
  const size_t n = x.size();
  const Shape flat{int64_t(n)};
  BShare<T> a = component_as_b(ctx, x, 0), b = component_as_b(ctx, x, 1), c = component_as_b(ctx, x, 2);
  // Carry-save layer: a + b + c = s + 2·maj(a, b, c), maj = ((a^c) & (b^c)) ^ c.
  BShare<T> s = xor_bb(xor_bb(a, b), c);
  BShare<T> carry = shl_b(xor_bb(and_bb(ctx, xor_bb(a, c), xor_bb(b, c)), c), 1);
  carry.nbits = kbits<T>;
  // Kogge–Stone prefix over (generate g, propagate p) of s + carry.
  BShare<T> p0 = xor_bb(s, carry);
  BShare<T> g = and_bb(ctx, s, carry), p = p0;
  constexpr int levels = ceil_log2(kbits<T>);
  for (int lv = 0; lv < levels; ++lv) {
    const int sh = 1 << lv;
    if (lv + 1 < levels) {  // g ^= p & (g << sh); p &= p << sh — one round for both
      BShare<T> both = and_bb(ctx, concat(p, p), concat(shl_b(g, sh), shl_b(p, sh)));
      g = xor_bb(g, slice(both, 0, n, flat));
      p = slice(both, n, n, flat);
    } else {
      g = xor_bb(g, and_bb(ctx, p, shl_b(g, sh)));
    }
  }
  BShare<T> sum = xor_bb(p0, shl_b(g, 1));
  sum.shape = x.shape;
  sum.nbits = kbits<T>;
  return sum;
}
template <class T> Cost cost_a2b(int64_t n) {
  const int64_t lg = ceil_log2(kbits<T>);
  return cost_and_bb<T>(n) * (2 * lg + 1) + Cost{2 + lg - (2 * lg + 1), 0, 0};
}

// Bit injection by three-party OT, for the bit in position 0 of each word.
// In one OT the sender S knows u = b_S ^ b_{S+1}; the other two (R1 = S+1, R2 = S+2) know
// v = b_{S+2}. Result components: ρ0 (seed S/R2), ρ1 (seed S/R1), and m_v = (u ^ v) − ρ0 − ρ1
// (held by R1 and R2). S sends both m_0, m_1 to R1 padded with pads it shares with R2 (R2 sends
// R1 the pad for j = v), and to R2 padded with pads it shares with R1 (R1 sends R2 its pad).
// The elements are split into three chunks and party c is the sender of chunk c, so each party
// sends 2 + 1 + 1 elements per 3 inputs; all chunks share one frame per peer: one round.
namespace {
inline std::array<size_t, 4> chunk_bounds(size_t n) {
  const size_t q = n / 3, r = n % 3;
  const size_t a = q + (r > 0), b = q + (r > 1);
  return {0, a, a + b, n};
}
}  // namespace

template <class T> static AShare<T> bit2a_flat(Context& ctx, const std::vector<T>& s0, const std::vector<T>& s1, const Shape& shape) {
  const size_t n = s0.size();
  const auto bounds = chunk_bounds(n);
  AShare<T> out(shape);
  net::Link& link = ctx.link();
  std::vector<T> to_next, to_prev;
  std::array<std::vector<T>, 3> rho_prev, rho_next, pads;  // per chunk
  for (int c = 0; c < 3; ++c) {
    const size_t lo = bounds[size_t(c)], m = bounds[size_t(c) + 1] - lo;
    const int rel = (ctx.id() - c + 3) % 3;
    if (rel == 0) {  // sender: ρ0 and pads for R1 from the seed shared with R2 (prev)
      rho_prev[size_t(c)] = ctx.prg_prev().draw<T>(m);
      std::vector<T> w = ctx.prg_prev().draw<T>(2 * m);
      rho_next[size_t(c)] = ctx.prg_next().draw<T>(m);
      std::vector<T> w2 = ctx.prg_next().draw<T>(2 * m);
      for (size_t i = 0; i < m; ++i) {
        const T u = (s0[lo + i] ^ s1[lo + i]) & 1;
        for (T j = 0; j < 2; ++j) {
          const T msg = (u ^ j) - rho_prev[size_t(c)][i] - rho_next[size_t(c)][i];
          to_next.push_back(msg + w[2 * i + j]);
          to_prev.push_back(msg + w2[2 * i + j]);
        }
      }
    } else if (rel == 1) {  // R1: v = s1; ρ1 and R2's pads from the seed shared with S (prev)
      rho_prev[size_t(c)] = ctx.prg_prev().draw<T>(m);
      std::vector<T> w2 = ctx.prg_prev().draw<T>(2 * m);
      for (size_t i = 0; i < m; ++i) to_next.push_back(w2[2 * i + (s1[lo + i] & 1)]);
    } else {  // R2: v = s0; ρ0 and R1's pads from the seed shared with S (next)
      rho_next[size_t(c)] = ctx.prg_next().draw<T>(m);
      std::vector<T> w = ctx.prg_next().draw<T>(2 * m);
      for (size_t i = 0; i < m; ++i) to_prev.push_back(w[2 * i + (s0[lo + i] & 1)]);
    }
  }
  link.send(ctx.next(), to_next);
  link.send(ctx.prev(), to_prev);
  // From prev: as R1 the sender's 2 messages per element, as R2 R1's pad.
  // From next: as R2 the sender's 2 messages per element, as R1 R2's pad.
  size_t from_prev_n = 0, from_next_n = 0;
  for (int c = 0; c < 3; ++c) {
    const size_t m = bounds[size_t(c) + 1] - bounds[size_t(c)];
    const int rel = (ctx.id() - c + 3) % 3;
    from_prev_n += rel == 1 ? 2 * m : rel == 2 ? m : 0;
    from_next_n += rel == 2 ? 2 * m : rel == 1 ? m : 0;
  }
  std::vector<T> from_prev(from_prev_n), from_next(from_next_n);
  link.recv(ctx.prev(), from_prev);
  link.recv(ctx.next(), from_next);
  size_t ip = 0, in = 0;
  for (int c = 0; c < 3; ++c) {
    const size_t lo = bounds[size_t(c)], m = bounds[size_t(c) + 1] - lo;
    const int rel = (ctx.id() - c + 3) % 3;
    for (size_t i = 0; i < m; ++i) {
      if (rel == 0) {
        out.s0[lo + i] = rho_prev[size_t(c)][i], out.s1[lo + i] = rho_next[size_t(c)][i];
      } else if (rel == 1) {
        const T v = s1[lo + i] & 1;
        out.s0[lo + i] = rho_prev[size_t(c)][i];
        out.s1[lo + i] = from_prev[ip + 2 * i + v] - from_next[in + i];
      } else {
        const T v = s0[lo + i] & 1;
        out.s1[lo + i] = rho_next[size_t(c)][i];
        out.s0[lo + i] = from_next[in + 2 * i + v] - from_prev[ip + i];
      }
    }
    ip += rel == 1 ? 2 * m : rel == 2 ? m : 0;
    in += rel == 2 ? 2 * m : rel == 1 ? m : 0;
  }
  return out;
}

template <class T> AShare<T> bit2a(Context& ctx, const BShare<T>& b) {
  net::Link::Scope scope(ctx.link(), "bit2a");
  return bit2a_flat<T>(ctx, b.s0, b.s1, b.shape);
}
template <class T> Cost cost_bit2a(int64_t n) {
  const int64_t e = sizeof(T), largest_chunk = (n + 2) / 3;  // chunk 0 is the largest
  return {1, (n + 3 * largest_chunk) * e, 6 * n * e};
}

template <class T> std::vector<AShare<T>> bits2a(Context& ctx, const BShare<T>& b, int lo, int hi) {
  if (lo < 0 || hi > kbits<T> || lo > hi) throw std::invalid_argument("bits2a: bad bit range");
  net::Link::Scope scope(ctx.link(), "bit2a");
  const size_t n = b.size(), nb = size_t(hi - lo);
  std::vector<T> s0(n * nb), s1(n * nb);
  for (size_t j = 0; j < nb; ++j)
    for (size_t i = 0; i < n; ++i) s0[j * n + i] = b.s0[i] >> (lo + int(j)), s1[j * n + i] = b.s1[i] >> (lo + int(j));
  AShare<T> all = bit2a_flat<T>(ctx, s0, s1, {int64_t(n * nb)});
  std::vector<AShare<T>> out(nb, AShare<T>(b.shape));
  for (size_t j = 0; j < nb; ++j)
    for (size_t i = 0; i < n; ++i) out[j].s0[i] = all.s0[j * n + i], out[j].s1[i] = all.s1[j * n + i];
  return out;
}

template <class T> AShare<T> b2a(Context& ctx, const BShare<T>& b) {
  net::Link::Scope scope(ctx.link(), "b2a");
  std::vector<AShare<T>> bits = bits2a(ctx, b, 0, b.nbits);
  AShare<T> out(b.shape);
  for (int j = 0; j < b.nbits; ++j)
    for (size_t i = 0; i < out.size(); ++i)
      out.s0[i] += T(bits[size_t(j)].s0[i] << j), out.s1[i] += T(bits[size_t(j)].s1[i] << j);
  return out;
}
template <class T> Cost cost_b2a(int64_t n, int nbits) { return cost_bit2a<T>(n * nbits); }

template <class T> BShare<T> msb_a(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "msb_a");
  const std::vector<uint64_t> s0(x.s0.begin(), x.s0.end()), s1(x.s1.begin(), x.s1.end());
  BShare<uint64_t> m = msb_of_sum(ctx, s0, s1, kbits<T>, x.shape);
  BShare<T> out(x.shape, 1);
  for (size_t i = 0; i < out.size(); ++i) out.s0[i] = T(m.s0[i]), out.s1[i] = T(m.s1[i]);
  return out;
}
template <class T> Cost cost_msb_a(int64_t n) { return cost_msb_of_sum(n, kbits<T>); }

template <class T> AShare<T> ltz_a(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "ltz_a");
  return bit2a(ctx, msb_a(ctx, x));
}
template <class T> Cost cost_ltz_a(int64_t n) { return cost_msb_a<T>(n) + cost_bit2a<T>(n); }

template <class T> AShare<T> lt_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y) {
  return ltz_a(ctx, sub_aa(x, y));
}
template <class T> Cost cost_lt_aa(int64_t n) { return cost_ltz_a<T>(n); }

template <class T> BShare<T> eqz_b(Context& ctx, const AShare<T>& z) {
  const size_t n = z.size();
  net::Link& link = ctx.link();
  // P0 boolean-shares a = z0 + z1: components 0 (s_2) and 1 (s_0) from PRGs, component 2 sent.
  // b = −z2 is component 2 of a free sharing (P1: s1, P2: s0).
  BShare<T> t(z.shape, kbits<T>);
  if (ctx.id() == 0) {
    t.s0 = ctx.prg_prev().draw<T>(n);
    t.s1 = ctx.prg_next().draw<T>(n);
    std::vector<T> c2(n);
    for (size_t i = 0; i < n; ++i) c2[i] = (z.s0[i] + z.s1[i]) ^ t.s0[i] ^ t.s1[i];
    link.send(1, c2);
    link.send(2, c2);
  } else if (ctx.id() == 1) {
    t.s0 = ctx.prg_prev().draw<T>(n);
    std::vector<T> c2(n);
    link.recv(0, c2);
    for (size_t i = 0; i < n; ++i) t.s1[i] = c2[i] ^ T(T(0) - z.s1[i]);
  } else {
    t.s1 = ctx.prg_next().draw<T>(n);
    std::vector<T> c2(n);
    link.recv(0, c2);
    for (size_t i = 0; i < n; ++i) t.s0[i] = c2[i] ^ T(T(0) - z.s0[i]);
  }
  // t = a ^ b is zero iff z == 0: AND-reduce the complement's bits into bit 0.
  BShare<T> e = not_b(ctx, t);
  for (int sh = kbits<T> / 2; sh >= 1; sh /= 2) e = and_bb(ctx, e, shr_b(e, sh));
  return and_bp(e, T(1));
}

template <class T> AShare<T> eq_aa(Context& ctx, const AShare<T>& x, const AShare<T>& y) {
  net::Link::Scope scope(ctx.link(), "eq_aa");
  return bit2a(ctx, eqz_b(ctx, sub_aa(x, y)));
}
template <class T> AShare<T> eq_ap(Context& ctx, const AShare<T>& x, const std::vector<T>& c) {
  net::Link::Scope scope(ctx.link(), "eq_aa");
  std::vector<T> neg(c.size());
  for (size_t i = 0; i < c.size(); ++i) neg[i] = T(0) - c[i];
  return bit2a(ctx, eqz_b(ctx, add_ap(ctx, x, neg)));
}
template <class T> Cost cost_eqz_b(int64_t n) {
  const int64_t e = sizeof(T), lg = ceil_log2(kbits<T>);
  return Cost{1, 2 * n * e, 2 * n * e} + cost_and_bb<T>(n) * lg;
}
template <class T> Cost cost_eq_aa(int64_t n) { return cost_eqz_b<T>(n) + cost_bit2a<T>(n); }

template <class T> AShare<T> select_a(Context& ctx, const AShare<T>& b, const AShare<T>& x, const AShare<T>& y) {
  net::Link::Scope scope(ctx.link(), "select_a");
  return add_aa(y, mul_aa(ctx, b, sub_aa(x, y)));
}
template <class T> Cost cost_select_a(int64_t n) { return cost_mul_aa<T>(n); }

#define INST(T)                                                                               \
  template BShare<T> xor_bb(const BShare<T>&, const BShare<T>&);                              \
  template BShare<T> xor_bp(Context&, const BShare<T>&, T);                                   \
  template BShare<T> not_b(Context&, const BShare<T>&);                                       \
  template BShare<T> shr_b(const BShare<T>&, int);                                            \
  template BShare<T> shl_b(const BShare<T>&, int);                                            \
  template BShare<T> and_bp(const BShare<T>&, T);                                             \
  template BShare<T> slice_b(const BShare<T>&, size_t, size_t, Shape);                        \
  template BShare<T> concat_b(const std::vector<const BShare<T>*>&);                          \
  template BShare<T> and_bb(Context&, const BShare<T>&, const BShare<T>&);                    \
  template Cost cost_and_bb<T>(int64_t);                                                      \
  template BShare<T> a2b(Context&, const AShare<T>&);                                         \
  template Cost cost_a2b<T>(int64_t);                                                         \
  template AShare<T> bit2a(Context&, const BShare<T>&);                                       \
  template Cost cost_bit2a<T>(int64_t);                                                       \
  template std::vector<AShare<T>> bits2a(Context&, const BShare<T>&, int, int);               \
  template AShare<T> b2a(Context&, const BShare<T>&);                                         \
  template Cost cost_b2a<T>(int64_t, int);                                                    \
  template BShare<T> msb_a(Context&, const AShare<T>&);                                       \
  template Cost cost_msb_a<T>(int64_t);                                                       \
  template AShare<T> ltz_a(Context&, const AShare<T>&);                                       \
  template Cost cost_ltz_a<T>(int64_t);                                                       \
  template AShare<T> lt_aa(Context&, const AShare<T>&, const AShare<T>&);                     \
  template Cost cost_lt_aa<T>(int64_t);                                                       \
  template AShare<T> eq_aa(Context&, const AShare<T>&, const AShare<T>&);                     \
  template AShare<T> eq_ap(Context&, const AShare<T>&, const std::vector<T>&);                \
  template Cost cost_eq_aa<T>(int64_t);                                                       \
  template BShare<T> eqz_b(Context&, const AShare<T>&);                                       \
  template Cost cost_eqz_b<T>(int64_t);                                                       \
  template AShare<T> select_a(Context&, const AShare<T>&, const AShare<T>&, const AShare<T>&); \
  template Cost cost_select_a<T>(int64_t);
VEIL_FOR_RINGS(INST)
#undef INST

}  // namespace veil::mpc
