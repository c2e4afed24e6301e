#include "veil/mpc/ring_cast.h"

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/narrow.h"

namespace veil::mpc {

AShare<uint32_t> downcast_a(Context& ctx, const AShare<uint64_t>& x, int d) {
  if (d < 0 || d > 62) throw std::invalid_argument("downcast_a: shift " + std::to_string(d) + " outside [0, 62]");
  net::Link::Scope scope(ctx.link(), "downcast_a");
  return low32_a(trunc_a(ctx, x, d));
}
Cost cost_downcast_a(int64_t n, int d) { return cost_trunc_a<uint64_t>(n, d); }

AShare<uint32_t> downcast_local_a(Context& ctx, const AShare<uint64_t>& x, int d) {
  if (d < 0 || d > 32) throw std::invalid_argument("downcast_local_a: shift " + std::to_string(d) + " outside [0, 32]");
  if (d == 0) return low32_a(x);
  const AShare<uint64_t> half_up = add_ap(ctx, x, std::vector<uint64_t>{uint64_t(1) << (d - 1)});
  return add_ap(ctx, window32_a(half_up, d), std::vector<uint32_t>{1u});
}

// ---- upcast_a
//
// Per element, with dealer D, A = D + 1, B = D + 2. Party i holds components (x_i, x_{i+1}), so
// A holds (x_A, x_B) and B holds (x_B, x_D): v_A = x_A + x_B and v_B = x_D are a 2-of-2 sharing.
//
// D and A draw r_A, a, m_A, g from their PRG stream; D and B draw r_B, b from theirs (all 32-bit).
// D knows r = r_A + r_B mod 2^32, its top bit r_msb and the carry h = ⌊(r_A + r_B)/2^32⌋, and sends
// B m_B = r_msb − m_A and h_B = h − a − g (mod 2^32).
// Phase 1: A sends B c_A = v_A + 2^30 + r_A, B sends A c_B = v_B + r_B; both know
// c = x′ + r mod 2^32 with x′ = x + 2^30 ∈ [0, 2^31] (uniform: r masks it).
// Wrap: x′ + r ≥ 2^32 iff r_msb = 1 and c_msb = 0 (x′ ≤ 2^31: without r's top bit the sum stays
// below 2^32; with it, a sum that wraps lands below x′ ≤ 2^31, one that does not stays ≥ r ≥ 2^31).
// So over the integers x′ = c − r + 2^32·w with w = r_msb·(1 − c_msb), and with r = r_A + r_B − 2^32·h:
//   x = (c − 2^30) − r_A − r_B + 2^32·(h + w)   (mod 2^64).
// Phase 2: A sends B p_A = (1 − c_msb)·m_A + g, B sends A p_B = (1 − c_msb)·m_B + h_B − b; then
// p_A + p_B = w + h − a − b (mod 2^32) and the components of y are
//   y_A = −r_A + 2^32·a (D, A),   y_D = −r_B + 2^32·b (B, D),   y_B = c − 2^30 + 2^32·(p_A + p_B) (A, B),
// each shifted left by `shift`. A sees c_B and p_B, masked by r_B and b; B sees c_A, m_B, h_B and
// p_A, masked by r_A, m_A, a; D receives nothing.

namespace {

enum Role { kDealer = 0, kA = 1, kB = 2 };

// Chunk c of the n elements has dealer (c + 2) % 3 (the convention of mpc/dealt.cpp: with one
// chunk, P2 deals to P0 and P1); each party is the dealer, A and B of one chunk each.
struct Chunk {
  size_t lo, n;
  Role role;  // of this party
};
std::array<Chunk, 3> chunks_of(size_t n, int self) {
  const size_t q = n / 3, r = n % 3;
  std::array<Chunk, 3> out{};
  size_t lo = 0;
  for (int c = 0; c < 3; ++c) {
    const size_t m = q + (size_t(c) < r ? 1 : 0);
    out[size_t(c)] = {lo, m, Role((self - (c + 2) + 6) % 3)};
    lo += m;
  }
  return out;
}

// One chunk's randomness and intermediate words, from this party's point of view.
struct UpcastChunk {
  std::vector<uint32_t> r_a, a, m_a, g;  // D and A
  std::vector<uint32_t> r_b, b;          // D and B
  std::vector<uint32_t> m_b, h_b;        // B (received from D)
  std::vector<uint32_t> c;               // A and B: the opened x′ + r
};

}  // namespace

AShare<uint64_t> upcast_a(Context& ctx, const AShare<uint32_t>& x, int shift) {
  if (shift < 0 || shift > 32) throw std::invalid_argument("upcast_a: shift " + std::to_string(shift) + " outside [0, 32]");
  net::Link::Scope scope(ctx.link(), "upcast_a");
  AShare<uint64_t> y(x.shape);
  const size_t n = x.size();
  if (n == 0) return y;
  const std::array<Chunk, 3> chunks = chunks_of(n, ctx.id());
  std::array<UpcastChunk, 3> st;
  constexpr uint32_t kOffset = uint32_t(1) << 30;

  // Randomness, chunk by chunk: each stream is drawn in the same order by both of its holders.
  for (size_t c = 0; c < 3; ++c) {
    const Chunk& ch = chunks[c];
    UpcastChunk& s = st[c];
    if (ch.n == 0) continue;  // nothing to draw (both holders skip it)
    if (ch.role == kDealer || ch.role == kA) {
      Prg& g = ch.role == kDealer ? ctx.prg_next() : ctx.prg_prev();  // the D/A seed
      s.r_a = g.draw<uint32_t>(ch.n), s.a = g.draw<uint32_t>(ch.n), s.m_a = g.draw<uint32_t>(ch.n),
      s.g = g.draw<uint32_t>(ch.n);
    }
    if (ch.role == kDealer || ch.role == kB) {
      Prg& g = ch.role == kDealer ? ctx.prg_prev() : ctx.prg_next();  // the D/B seed
      s.r_b = g.draw<uint32_t>(ch.n), s.b = g.draw<uint32_t>(ch.n);
    }
  }

  // Phase 1: A → B c_A; B → A c_B; D → B (m_B, h_B).
  std::vector<uint32_t> to_next, to_prev;
  size_t from_prev_words = 0, from_next_words = 0;
  for (size_t c = 0; c < 3; ++c) {
    const Chunk& ch = chunks[c];
    UpcastChunk& s = st[c];
    if (ch.role == kA) {
      for (size_t i = 0; i < ch.n; ++i) {
        const size_t e = ch.lo + i;
        to_next.push_back(uint32_t(x.s0[e] + x.s1[e] + kOffset + s.r_a[i]));
      }
      from_next_words += ch.n;
    } else if (ch.role == kB) {
      for (size_t i = 0; i < ch.n; ++i) to_prev.push_back(uint32_t(x.s1[ch.lo + i] + s.r_b[i]));
      from_prev_words += ch.n;
      from_next_words += 2 * ch.n;
    } else {
      for (size_t i = 0; i < ch.n; ++i) {
        const uint32_t r = s.r_a[i] + s.r_b[i];
        const uint32_t h = uint32_t((uint64_t(s.r_a[i]) + s.r_b[i]) >> 32);
        to_prev.push_back(uint32_t((r >> 31) - s.m_a[i]));
        to_prev.push_back(uint32_t(h - s.a[i] - s.g[i]));
      }
    }
  }
  net::Link& link = ctx.link();
  std::vector<uint32_t> from_prev(from_prev_words), from_next(from_next_words);
  link.send(ctx.next(), to_next);
  link.send(ctx.prev(), to_prev);
  link.recv(ctx.prev(), from_prev);
  link.recv(ctx.next(), from_next);
  size_t at_prev = 0, at_next = 0;
  for (size_t c = 0; c < 3; ++c) {
    const Chunk& ch = chunks[c];
    UpcastChunk& s = st[c];
    if (ch.role == kA) {
      s.c.resize(ch.n);
      for (size_t i = 0; i < ch.n; ++i) {
        const size_t e = ch.lo + i;
        s.c[i] = uint32_t(x.s0[e] + x.s1[e] + kOffset + s.r_a[i] + from_next[at_next++]);
      }
    } else if (ch.role == kB) {
      s.m_b.resize(ch.n), s.h_b.resize(ch.n), s.c.resize(ch.n);
      for (size_t i = 0; i < ch.n; ++i) s.m_b[i] = from_next[at_next++], s.h_b[i] = from_next[at_next++];
      for (size_t i = 0; i < ch.n; ++i) s.c[i] = uint32_t(x.s1[ch.lo + i] + s.r_b[i] + from_prev[at_prev++]);
    }
  }

  // Phase 2: the 2-of-2 parts of the high half, A ↔ B.
  to_next.clear(), to_prev.clear();
  from_prev_words = from_next_words = 0;
  for (size_t c = 0; c < 3; ++c) {
    const Chunk& ch = chunks[c];
    const UpcastChunk& s = st[c];
    if (ch.role == kA) {
      for (size_t i = 0; i < ch.n; ++i) to_next.push_back(uint32_t((1 - (s.c[i] >> 31)) * s.m_a[i] + s.g[i]));
      from_next_words += ch.n;
    } else if (ch.role == kB) {
      for (size_t i = 0; i < ch.n; ++i) to_prev.push_back(uint32_t((1 - (s.c[i] >> 31)) * s.m_b[i] + s.h_b[i] - s.b[i]));
      from_prev_words += ch.n;
    }
  }
  std::vector<uint32_t> p_from_prev(from_prev_words), p_from_next(from_next_words);
  link.send(ctx.next(), to_next);
  link.send(ctx.prev(), to_prev);
  link.recv(ctx.prev(), p_from_prev);
  link.recv(ctx.next(), p_from_next);

  // The components, each shifted left by `shift`.
  auto lift = [shift](uint32_t low_negated, uint32_t high) {  // −low + 2^32·high, then · 2^shift
    return uint64_t((uint64_t(high) << 32) - uint64_t(low_negated)) << shift;
  };
  at_prev = at_next = 0;
  for (size_t c = 0; c < 3; ++c) {
    const Chunk& ch = chunks[c];
    const UpcastChunk& s = st[c];
    for (size_t i = 0; i < ch.n; ++i) {
      const size_t e = ch.lo + i;
      if (ch.role == kDealer) {  // (y_D, y_A)
        y.s0[e] = lift(s.r_b[i], s.b[i]);
        y.s1[e] = lift(s.r_a[i], s.a[i]);
        continue;
      }
      const uint32_t own = ch.role == kA ? uint32_t((1 - (s.c[i] >> 31)) * s.m_a[i] + s.g[i])
                                         : uint32_t((1 - (s.c[i] >> 31)) * s.m_b[i] + s.h_b[i] - s.b[i]);
      const uint32_t peer = ch.role == kA ? p_from_next[at_next++] : p_from_prev[at_prev++];
      const uint64_t y_b = (((uint64_t(uint32_t(own + peer)) << 32) + uint64_t(s.c[i])) - uint64_t(kOffset)) << shift;
      if (ch.role == kA) {  // (y_A, y_B)
        y.s0[e] = lift(s.r_a[i], s.a[i]);
        y.s1[e] = y_b;
      } else {  // (y_B, y_D)
        y.s0[e] = y_b;
        y.s1[e] = lift(s.r_b[i], s.b[i]);
      }
    }
  }
  return y;
}

Cost cost_upcast_a(int64_t n) {
  if (n == 0) return {};
  return {2, 8 * n, 24 * n};
}

}  // namespace veil::mpc
