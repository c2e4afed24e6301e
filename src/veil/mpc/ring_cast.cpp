#include "veil/mpc/ring_cast.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/bit_message.h"
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

// ---- upcast_a and upcast_trunc_a
//
// Per element, with dealer D, A = D + 1, B = D + 2. Party i holds components (x_i, x_{i+1}): D holds
// (x_D, x_A), A holds (x_A, x_B), B holds (x_B, x_D). A and B add the public κ = 2^30 + ρ to x_B
// (ρ = 2^(d−1) when truncating by d, else 0), so the components X_A = x_A, X_B = x_B + κ, X_D = x_D
// (in [0, 2^32)) sum to x″ = x + κ ∈ [0, 2^31) modulo 2^32 (the range assumption) and to
// x″ + 2^32·W over the integers, W ∈ {0, 1, 2}. W is all the parties lack:
//   W = w1 + w2 with w1 = ⌊(X_A + X_B)/2^32⌋ (A knows it) and, for u = (X_A + X_B) mod 2^32,
//   w2 = ⌊(u + X_D)/2^32⌋ = a ∨ b, a = u's top bit (A), b = X_D's top bit (B and D): two top bits
//   always carry, and one carries exactly when the sum's top bit is clear, which x″ < 2^31 makes it.
// a ∨ b = a + b − a·b, and a·b with D's help: D and A draw a bit α and a word m; A sends B
// e = a ⊕ α; D, who knows b, sends B t = α·b − m; then a·b = e·b + (1 − 2e)·α·b = (1 − 2e)·m + [e·b +
// (1 − 2e)·t] (A's part + B's part). So W = P_A + P_B, P_A = w1 + a − (1 − 2e)·m (A, after drawing),
// P_B = b − e·b − (1 − 2e)·t (B, after round 1).
// The result: y = (X_A + X_B + X_D − 2^32·W − 2^30)·2^shift, exact; or, truncating,
// y = ⌊X_A/2^d⌋ + ⌊X_B/2^d⌋ + ⌊X_D/2^d⌋ − 2^(32−d)·W − 2^(30−d) + 1 = ⌊(x + 2^(d−1))/2^d⌋ + 1 − e, where
// e ∈ {0, 1, 2} counts the carries the local floors drop (as in downcast_local_a: unbiased over
// the sharing's randomness). −W enters the components' high parts: ω_A (D and A draw it), ω_D (B and
// D draw it) and ω_B = q_A + q_B, q_A = −P_A − ω_A (A → B with e, round 1), q_B = −P_B − ω_D (B → A,
// round 2). Only W modulo 2^ℓ reaches y, ℓ = 32 − shift (32 + d when truncating): every word is ℓ bits.
// Views: B sees e, q_A (masked by α, ω_A) and t (by m); A sees q_B (by ω_D); D receives nothing.

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

// One chunk's randomness and words, from this party's point of view (ℓ-bit words in uint64_t).
struct UpcastChunk {
  std::vector<uint64_t> alpha, m, omega_a;  // D and A
  std::vector<uint64_t> omega_d;            // D and B
  std::vector<uint64_t> q_a;                // A: what it sent B
  std::vector<uint64_t> omega_b;            // A and B
};

int high_bits(int shift) { return 32 - shift; }  // ℓ for a shift in [−30, 32] (negative: truncation)

// y = x·2^shift for shift ≥ 0 (exact), ≈ x/2^−shift for shift < 0 (header comment above).
AShare<uint64_t> upcast(Context& ctx, const AShare<uint32_t>& x, int shift) {
  AShare<uint64_t> y(x.shape);
  const size_t n = x.size();
  if (n == 0) return y;
  const int d = shift < 0 ? -shift : 0, ell = high_bits(shift);
  const uint64_t mask = ell >= 64 ? ~uint64_t(0) : (uint64_t(1) << ell) - 1;
  const uint32_t kappa = (uint32_t(1) << 30) + (d > 0 ? uint32_t(1) << (d - 1) : 0u);
  // The local part of a component, and the constant on Y_B.
  auto low = [shift, d](uint32_t v) { return shift >= 0 ? uint64_t(v) << shift : uint64_t(v) >> d; };
  auto high = [ell](uint64_t w) { return ell == 0 ? uint64_t(0) : w << (64 - ell); };
  const uint64_t y_b_const = shift >= 0 ? uint64_t(0) - (uint64_t(1) << (30 + shift))
                                        : uint64_t(1) - (uint64_t(1) << (30 - d));
  const std::array<Chunk, 3> chunks = chunks_of(n, ctx.id());
  std::array<UpcastChunk, 3> st;

  if (ell > 0) {
    // Randomness, chunk by chunk: each stream is drawn in the same order by both of its holders.
    for (size_t c = 0; c < 3; ++c) {
      const Chunk& ch = chunks[c];
      UpcastChunk& s = st[c];
      if (ch.n == 0) continue;  // nothing to draw (both holders skip it)
      if (ch.role == kDealer || ch.role == kA) {
        Prg& g = ch.role == kDealer ? ctx.prg_next() : ctx.prg_prev();  // the D/A seed
        s.alpha = g.draw<uint64_t>(ch.n), s.m = g.draw<uint64_t>(ch.n), s.omega_a = g.draw<uint64_t>(ch.n);
        for (size_t i = 0; i < ch.n; ++i) s.alpha[i] &= 1, s.m[i] &= mask, s.omega_a[i] &= mask;
      }
      if (ch.role == kDealer || ch.role == kB) {
        Prg& g = ch.role == kDealer ? ctx.prg_prev() : ctx.prg_next();  // the D/B seed
        s.omega_d = g.draw<uint64_t>(ch.n);
        for (uint64_t& v : s.omega_d) v &= mask;
      }
    }

    // Round 1: A → B (e, q_A); D → B t.
    MsgOut to_next, to_prev;
    size_t from_prev_bits = 0, from_next_bits = 0;
    for (size_t c = 0; c < 3; ++c) {
      const Chunk& ch = chunks[c];
      UpcastChunk& s = st[c];
      for (size_t i = 0; i < ch.n; ++i) {
        const size_t at = ch.lo + i;
        if (ch.role == kA) {
          const uint64_t sum = uint64_t(x.s0[at]) + uint32_t(x.s1[at] + kappa);
          const uint64_t w1 = sum >> 32, a = (sum >> 31) & 1, e = a ^ s.alpha[i];
          const uint64_t p_a = w1 + a - (1 - 2 * e) * s.m[i];
          s.q_a.push_back((0 - p_a - s.omega_a[i]) & mask);
          to_next.field(e, 1);
          to_next.field(s.q_a.back(), ell);
        } else if (ch.role == kDealer) {
          const uint64_t b = x.s0[at] >> 31;
          to_prev.field((s.alpha[i] * b - s.m[i]) & mask, ell);
        }
      }
      if (ch.role == kB) from_prev_bits += ch.n * size_t(1 + ell), from_next_bits += ch.n * size_t(ell);
    }
    net::Link& link = ctx.link();
    // A received message with the slack MsgIn reads past its end.
    auto receive = [&link](int from, size_t bits) {
      std::vector<uint8_t> in((bits + 7) / 8 + 16);
      link.recv(from, in.data(), (bits + 7) / 8);
      return MsgIn(std::move(in), 0);
    };
    link.send(ctx.next(), to_next.bytes());
    link.send(ctx.prev(), to_prev.bytes());
    MsgIn from_a = receive(ctx.prev(), from_prev_bits), from_d = receive(ctx.next(), from_next_bits);

    // Round 2: B → A q_B.
    MsgOut q_b_out;
    size_t q_b_bits = 0;
    for (size_t c = 0; c < 3; ++c) {
      const Chunk& ch = chunks[c];
      UpcastChunk& s = st[c];
      if (ch.role == kA) q_b_bits += ch.n * size_t(ell);
      if (ch.role != kB) continue;
      s.omega_b.resize(ch.n);
      for (size_t i = 0; i < ch.n; ++i) {
        const uint64_t e = from_a.field(1), q_a = from_a.field(ell), t = from_d.field(ell);
        const uint64_t b = x.s1[ch.lo + i] >> 31;
        const uint64_t p_b = b - e * b - (1 - 2 * e) * t;
        const uint64_t q_b = (0 - p_b - s.omega_d[i]) & mask;
        q_b_out.field(q_b, ell);
        s.omega_b[i] = (q_a + q_b) & mask;
      }
    }
    link.send(ctx.prev(), q_b_out.bytes());
    MsgIn from_b = receive(ctx.next(), q_b_bits);
    for (size_t c = 0; c < 3; ++c) {
      const Chunk& ch = chunks[c];
      UpcastChunk& s = st[c];
      if (ch.role != kA) continue;
      s.omega_b.resize(ch.n);
      for (size_t i = 0; i < ch.n; ++i) s.omega_b[i] = (s.q_a[i] + from_b.field(ell)) & mask;
    }
  }

  // The components: (Y_D, Y_A) on D, (Y_A, Y_B) on A, (Y_B, Y_D) on B.
  for (size_t c = 0; c < 3; ++c) {
    const Chunk& ch = chunks[c];
    const UpcastChunk& s = st[c];
    for (size_t i = 0; i < ch.n; ++i) {
      const size_t at = ch.lo + i;
      const uint64_t w_a = ell > 0 && ch.role != kB ? s.omega_a[i] : 0, w_d = ell > 0 && ch.role != kA ? s.omega_d[i] : 0;
      const uint64_t w_b = ell > 0 && ch.role != kDealer ? s.omega_b[i] : 0;
      if (ch.role == kDealer) {
        y.s0[at] = low(x.s0[at]) + high(w_d);
        y.s1[at] = low(x.s1[at]) + high(w_a);
      } else if (ch.role == kA) {
        y.s0[at] = low(x.s0[at]) + high(w_a);
        y.s1[at] = low(uint32_t(x.s1[at] + kappa)) + high(w_b) + y_b_const;
      } else {
        y.s0[at] = low(uint32_t(x.s0[at] + kappa)) + high(w_b) + y_b_const;
        y.s1[at] = low(x.s1[at]) + high(w_d);
      }
    }
  }
  return y;
}

Cost upcast_cost(int64_t n, int shift) {
  const int ell = high_bits(shift);
  if (n == 0 || ell == 0) return {};
  Cost c;
  c.rounds = 2;
  for (int p = 0; p < 3; ++p) {
    int64_t bytes = 0;
    for (const Chunk& ch : chunks_of(size_t(n), p)) {
      const int64_t m = int64_t(ch.n);
      if (ch.role == kA) bytes += (m * (1 + ell) + 7) / 8;  // round 1 to B
      else bytes += (m * ell + 7) / 8;                     // D: round 1 to B; B: round 2 to A
    }
    c.bytes_total += bytes, c.bytes_max = std::max(c.bytes_max, bytes);
  }
  return c;
}

}  // namespace

AShare<uint64_t> upcast_a(Context& ctx, const AShare<uint32_t>& x, int shift) {
  if (shift < 0 || shift > 32) throw std::invalid_argument("upcast_a: shift " + std::to_string(shift) + " outside [0, 32]");
  net::Link::Scope scope(ctx.link(), "upcast_a");
  return upcast(ctx, x, shift);
}
Cost cost_upcast_a(int64_t n, int shift) { return upcast_cost(n, shift); }

AShare<uint64_t> upcast_trunc_a(Context& ctx, const AShare<uint32_t>& x, int d) {
  if (d < 1 || d > 30) throw std::invalid_argument("upcast_trunc_a: shift " + std::to_string(d) + " outside [1, 30]");
  net::Link::Scope scope(ctx.link(), "upcast_trunc_a");
  return upcast(ctx, x, -d);
}
Cost cost_upcast_trunc_a(int64_t n, int d) { return upcast_cost(n, -d); }

}  // namespace veil::mpc
