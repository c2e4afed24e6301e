#include "veil/mpc/dealt.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "veil/mpc/bit_message.h"
#include "veil/mpc/instantiate.h"

namespace veil::mpc {

namespace {

template <class T> constexpr int kbits = int(sizeof(T) * 8);
template <class T> constexpr T mask_of(int bits) { return bits >= kbits<T> ? T(~T(0)) : T((T(1) << bits) - 1); }

enum Role { kDealer = 0, kA = 1, kB = 2 };

// Chunk c of n elements has dealer (c + 2) % 3, so with one chunk P2 deals to P0 and P1.
struct Part {
  size_t lo, n;
  int role;  // of this party
};
std::array<Part, 3> parts_of(size_t n, int self) {
  const size_t q = n / 3, r = n % 3;
  const size_t sz[3] = {q + (r > 0), q + (r > 1), q};
  std::array<Part, 3> p{};
  size_t lo = 0;
  for (int c = 0; c < 3; ++c) {
    p[size_t(c)] = {lo, sz[c], (self - (c + 2) + 6) % 3};
    lo += sz[c];
  }
  return p;
}

// What each message carries: ring elements and field bits, per phase and direction.
struct Shape3 {
  bool own;
  int terms, d, k;
  bool open_a_first() const { return d > 0 && terms == 0; }         // A's opening rides phase 1
  bool open_b_first() const { return d > 0 && terms == 0 && !own; }  // so does B's
  bool phase1() const { return own || terms > 0 || d > 0; }
  bool phase2() const { return d > 0 && !(open_a_first() && open_b_first()); }
};
struct Size {
  int64_t elts = 0, bits = 0;
  Size& operator+=(const Size& o) { elts += o.elts, bits += o.bits; return *this; }
  int64_t bytes(int64_t e) const { return elts * e + (bits + 7) / 8; }
};
enum Link3 { kDtoA, kDtoB, kAtoB, kBtoA };
Size content(const Shape3& s, int phase, Link3 l, int64_t m) {
  Size z;
  const int64_t open_bits = int64_t(s.k - s.d) * m;
  if (phase == 1) {
    if (l == kDtoA) z.bits = s.terms * m;
    if (l == kDtoB) z.elts = (s.own ? m : 0) + 2 * s.terms * m, z.bits = s.terms * m + (s.d > 0 ? 2 * (s.d + 1) * m : 0);
    if (l == kAtoB && s.open_a_first()) z.bits = open_bits;
    if (l == kBtoA && s.open_b_first()) z.bits = open_bits;
  } else if (phase == 2) {
    if (l == kAtoB && !s.open_a_first()) z.bits = open_bits;
    if (l == kBtoA && !s.open_b_first()) z.bits = open_bits;
  } else {
    if (l == kAtoB || l == kBtoA) z.elts = m;
  }
  return z;
}
// Message sizes from party `self`'s point of view: to next (as D → A, A → B), to prev (D → B,
// B → A), from prev (as A ← D, B ← A), from next (as B ← D, A ← B).
struct Sizes {
  Size to_next, to_prev, from_prev, from_next;
};
Sizes sizes_of(const Shape3& s, int phase, size_t n, int self) {
  Sizes z;
  for (const Part& p : parts_of(n, self)) {
    const int64_t m = int64_t(p.n);
    if (p.role == kDealer) z.to_next += content(s, phase, kDtoA, m), z.to_prev += content(s, phase, kDtoB, m);
    if (p.role == kA) z.to_next += content(s, phase, kAtoB, m), z.from_prev += content(s, phase, kDtoA, m),
                      z.from_next += content(s, phase, kBtoA, m);
    if (p.role == kB) z.to_prev += content(s, phase, kBtoA, m), z.from_prev += content(s, phase, kAtoB, m),
                      z.from_next += content(s, phase, kDtoB, m);
  }
  return z;
}

template <class T> std::vector<uint8_t> exchange(Context& ctx, MsgOut& to_next, MsgOut& to_prev,
                                                 const Sizes& sz, std::vector<uint8_t>* from_next) {
  net::Link& link = ctx.link();
  const std::vector<uint8_t> a = to_next.bytes(), b = to_prev.bytes();
  link.send(ctx.next(), a);
  link.send(ctx.prev(), b);
  // 16 bytes of slack after each message let MsgIn read whole words at the end.
  const size_t np = size_t(sz.from_prev.bytes(sizeof(T))), nn = size_t(sz.from_next.bytes(sizeof(T)));
  std::vector<uint8_t> fp(np + 16), fn(nn + 16);
  link.recv(ctx.prev(), fp.data(), np);
  link.recv(ctx.next(), fn.data(), nn);
  *from_next = std::move(fn);
  return fp;
}

// Per-chunk state of this party.
template <class T> struct ChunkState {
  std::vector<std::vector<T>> ra, mu;  // per term: D and A: ra0, μ; B: ra1, e′ (received)
  std::vector<std::vector<T>> coin;    // D: private coins per term
  std::vector<std::vector<T>> c;       // A, B: the opened b ⊕ r per term
  std::vector<T> r_own, m_share, h_share, y_mask, v, y, post;
  std::vector<T> r_b, y_d;  // the dealer's: r_B and y_D (seed of B and D)
};

}  // namespace

template <class T> AShare<T> dealt_sum(Context& ctx, const DealtInput<T>& in, size_t n, const Shape& shape) {
  constexpr int k = kbits<T>;
  const int d = in.d;
  std::vector<std::pair<const BShare<T>*, const AShare<T>*>> all = in.terms;
  all.insert(all.end(), in.post.begin(), in.post.end());
  const int J = int(all.size()), J_pre = int(in.terms.size());
  if (d < 0 || d > k - 2) throw std::invalid_argument("dealt_sum: truncation out of range");
  if (in.addend && in.addend->size() != n) throw std::invalid_argument("dealt_sum: addend size differs");
  if (in.own_term && in.own_term->size() != n) throw std::invalid_argument("dealt_sum: term size differs");
  for (const auto& [b, z] : all)
    if (b->size() != n || z->size() != n) throw std::invalid_argument("dealt_sum: bit/value sizes differ");
  const Shape3 s{in.own_term != nullptr, J, d, k};
  const auto parts = parts_of(n, ctx.id());
  std::array<ChunkState<T>, 3> st;

  // Randomness, in chunk order; each stream is drawn in the same order by both of its holders.
  for (int c = 0; c < 3; ++c) {
    const Part& p = parts[size_t(c)];
    ChunkState<T>& cs = st[size_t(c)];
    const size_t m = p.n;
    if (p.role == kDealer || p.role == kA) {
      Prg& g = p.role == kDealer ? ctx.prg_next() : ctx.prg_prev();  // seed of D and A
      for (int j = 0; j < J; ++j) cs.ra.push_back(g.draw<T>(m)), cs.mu.push_back(g.draw<T>(m));
      if (d > 0) {
        cs.r_own = g.draw<T>(m), cs.m_share = g.draw<T>(m), cs.h_share = g.draw<T>(m);
        for (auto& v : cs.r_own) v &= T(~mask_of<T>(d));  // r_A: low d bits zero (see below)
      }
      cs.y_mask = g.draw<T>(m);
    }
    if (p.role == kDealer) {
      for (int j = 0; j < J; ++j) {
        std::vector<T> coin = ctx.prg_own().draw<T>(m);
        for (auto& v : coin) v &= 1;
        cs.coin.push_back(std::move(coin));
      }
    }
    if (p.role == kDealer || p.role == kB) {
      Prg& g = p.role == kDealer ? ctx.prg_prev() : ctx.prg_next();  // seed of B and D
      if (d > 0) {
        std::vector<T> rb = g.draw<T>(m);
        for (auto& v : rb) v &= T(~mask_of<T>(d));
        (p.role == kB ? cs.r_own : cs.r_b) = std::move(rb);
      }
      std::vector<T> yd = g.draw<T>(m);
      (p.role == kB ? cs.y_mask : cs.y_d) = std::move(yd);
    }
  }

  const T low_mask = mask_of<T>(k - 1);
  // Phase 1: the dealer's messages (and openings that need nothing from it).
  auto open_field = [&](const ChunkState<T>& cs, size_t i) { return uint64_t(cs.v[i] >> d); };
  auto prepare_v = [&](int role, const Part& p, ChunkState<T>& cs) {  // A or B: v before bit terms
    cs.v.assign(p.n, T(0));
    for (size_t i = 0; i < p.n; ++i) {
      const size_t e = p.lo + i;
      T v = 0;
      if (in.addend) v += role == kA ? T(in.addend->s0[e] + in.addend->s1[e]) : in.addend->s1[e];
      if (in.own_term) v += (*in.own_term)[e];
      cs.v[i] = v;
    }
  };
  auto masked_for_open = [&](int role, ChunkState<T>& cs) {  // c_A = v + 2^(k−2) + r_A, c_B = v + r_B
    for (size_t i = 0; i < cs.v.size(); ++i) cs.v[i] += cs.r_own[i] + (role == kA ? T(T(1) << (k - 2)) : T(0));
  };
  for (int c = 0; c < 3; ++c)
    if (parts[size_t(c)].role != kDealer) prepare_v(parts[size_t(c)].role, parts[size_t(c)], st[size_t(c)]);

  if (s.phase1()) {
    const Sizes sz = sizes_of(s, 1, n, ctx.id());
    MsgOut to_next(sz.to_next.elts * int64_t(sizeof(T)), sz.to_next.bits),
        to_prev(sz.to_prev.elts * int64_t(sizeof(T)), sz.to_prev.bits);
    for (int c = 0; c < 3; ++c) {
      const Part& p = parts[size_t(c)];
      ChunkState<T>& cs = st[size_t(c)];
      if (p.role == kDealer) {
        if (in.own_term) to_prev.put_all<T>(in.own_term->data() + p.lo, p.n);
        for (int j = 0; j < J; ++j) {
          const AShare<T>& z = *all[size_t(j)].second;
          std::vector<T> pairs(2 * p.n);
          for (size_t i = 0; i < p.n; ++i) {
            const size_t e = p.lo + i;
            const T r = cs.coin[size_t(j)][i];
            pairs[2 * i] = T(r - cs.ra[size_t(j)][i]);                         // r − ra0
            pairs[2 * i + 1] = T(r * T(z.s0[e] + z.s1[e]) - cs.mu[size_t(j)][i]);  // r·(z_D + z_A) − μ
          }
          to_prev.put_all<T>(pairs.data(), pairs.size());
        }
        for (int j = 0; j < J; ++j) {
          const BShare<T>& b = *all[size_t(j)].first;
          for (size_t i = 0; i < p.n; ++i) {
            to_next.field(uint64_t((b.s0[p.lo + i] ^ cs.coin[size_t(j)][i]) & 1), 1);  // b_D ⊕ r to A
            to_prev.field(uint64_t((b.s1[p.lo + i] ^ cs.coin[size_t(j)][i]) & 1), 1);  // b_A ⊕ r to B
          }
        }
        if (d > 0)
          for (size_t i = 0; i < p.n; ++i) {
            const T ra = cs.r_own[i], rb = cs.r_b[i];
            const T r = ra + rb;
            const T h = T(((ra & low_mask) + (rb & low_mask)) >> (k - 1));
            to_prev.field(uint64_t(T(r >> (k - 1)) - cs.m_share[i]), d + 1);
            to_prev.field(uint64_t(T(h - cs.h_share[i])), d + 1);
          }
      } else if (d > 0 && (p.role == kA ? s.open_a_first() : s.open_b_first())) {
        masked_for_open(p.role, cs);
        MsgOut& out = p.role == kA ? to_next : to_prev;
        for (size_t i = 0; i < p.n; ++i) out.field(open_field(cs, i), k - d);
      }
    }
    std::vector<uint8_t> fn;
    std::vector<uint8_t> fp = exchange<T>(ctx, to_next, to_prev, sz, &fn);
    MsgIn from_prev(std::move(fp), size_t(sz.from_prev.elts) * sizeof(T)),
        from_next(std::move(fn), size_t(sz.from_next.elts) * sizeof(T));
    for (int c = 0; c < 3; ++c) {
      const Part& p = parts[size_t(c)];
      ChunkState<T>& cs = st[size_t(c)];
      if (p.role == kDealer) continue;
      const bool a = p.role == kA;
      MsgIn& from_d = a ? from_prev : from_next;
      if (!a) {
        if (in.own_term) for (size_t i = 0; i < p.n; ++i) cs.v[i] += from_d.get<T>();  // the dealer's term
        cs.ra.assign(size_t(J), std::vector<T>(p.n));
        cs.mu.assign(size_t(J), std::vector<T>(p.n));
        for (int j = 0; j < J; ++j)
          for (size_t i = 0; i < p.n; ++i) cs.ra[size_t(j)][i] = from_d.get<T>(), cs.mu[size_t(j)][i] = from_d.get<T>();
      }
      cs.c.assign(size_t(J), std::vector<T>(p.n));
      for (int j = 0; j < J; ++j) {
        const BShare<T>& b = *all[size_t(j)].first;
        for (size_t i = 0; i < p.n; ++i)
          cs.c[size_t(j)][i] = T((from_d.field(1) ^ b.s0[p.lo + i] ^ b.s1[p.lo + i]) & 1);
      }
      if (d > 0 && !a) {
        cs.m_share.resize(p.n), cs.h_share.resize(p.n);
        for (size_t i = 0; i < p.n; ++i) cs.m_share[i] = T(from_d.field(d + 1)), cs.h_share[i] = T(from_d.field(d + 1));
      }
      // v += Σ_j c·z_2of2 + (1 − 2c)·(r·z)_2of2 (post terms into `post`)
      if (J > J_pre) cs.post.assign(p.n, T(0));
      for (int j = 0; j < J; ++j) {
        const AShare<T>& z = *all[size_t(j)].second;
        for (size_t i = 0; i < p.n; ++i) {
          const size_t e = p.lo + i;
          const T cj = cs.c[size_t(j)][i];
          const T zz = a ? T(z.s0[e] + z.s1[e]) : z.s1[e];  // A: z_A + z_B; B: z_D
          const T zb = a ? z.s1[e] : z.s0[e];               // z_B
          const T rz = cs.ra[size_t(j)][i] * zb + cs.mu[size_t(j)][i];
          (j < J_pre ? cs.v[i] : cs.post[i]) += cj * zz + (T(1) - T(2) * cj) * rz;
        }
      }
      // The peer's opening, when it came with phase 1.
      if (d > 0 && (a ? s.open_b_first() : s.open_a_first())) {
        MsgIn& from_peer = a ? from_next : from_prev;
        cs.y.resize(p.n);
        for (size_t i = 0; i < p.n; ++i) cs.y[i] = T(from_peer.field(k - d));
      }
    }
  }

  if (s.phase2()) {
    const Sizes sz = sizes_of(s, 2, n, ctx.id());
    MsgOut to_next(sz.to_next.elts * int64_t(sizeof(T)), sz.to_next.bits),
        to_prev(sz.to_prev.elts * int64_t(sizeof(T)), sz.to_prev.bits);
    for (int c = 0; c < 3; ++c) {
      const Part& p = parts[size_t(c)];
      ChunkState<T>& cs = st[size_t(c)];
      if (p.role == kDealer) continue;
      const bool a = p.role == kA;
      if (a ? s.open_a_first() : s.open_b_first()) continue;
      masked_for_open(p.role, cs);
      MsgOut& out = a ? to_next : to_prev;
      for (size_t i = 0; i < p.n; ++i) out.field(open_field(cs, i), k - d);
    }
    std::vector<uint8_t> fn;
    std::vector<uint8_t> fp = exchange<T>(ctx, to_next, to_prev, sz, &fn);
    MsgIn from_prev(std::move(fp), 0), from_next(std::move(fn), 0);
    for (int c = 0; c < 3; ++c) {
      const Part& p = parts[size_t(c)];
      ChunkState<T>& cs = st[size_t(c)];
      if (p.role == kDealer) continue;
      const bool a = p.role == kA;
      if (a ? s.open_b_first() : s.open_a_first()) continue;  // the peer opened in phase 1
      MsgIn& from_peer = a ? from_next : from_prev;
      cs.y.resize(p.n);
      for (size_t i = 0; i < p.n; ++i) cs.y[i] = T(from_peer.field(k - d));
    }
  }

  // The result's 2-of-2 parts after a truncation (see trunc_a in arithmetic.h). With c = v +
  // 2^(k−2) + r opened as the sum t of the two shares' top k − d bits, t·2^d = c − ρ where
  // ρ = (c_A mod 2^d) + (c_B mod 2^d) < 2^(d+1). Because r_A and r_B have zero low bits,
  // ⌊r mod 2^(k−1) / 2^d⌋ = Q_A + Q_B − 2^(k−1−d)·h exactly (h: carry of r_A + r_B into bit
  // k − 1), and x″ = v + 2^(k−2) − ρ ∈ [0, 2^(k−1)) truncates exactly: ⌊x″/2^d⌋ =
  // (t mod 2^(k−1−d)) − Q + 2^(k−1−d)·(t_msb ⊕ r_msb). As ρ = (v + 2^(k−2)) mod 2^d + β·2^d with
  // β ∈ {0, 1}, the result is ⌊v/2^d⌋ − β; adding one gives ⌊v/2^d⌋ + {0, 1}.
  for (int c = 0; c < 3; ++c) {
    const Part& p = parts[size_t(c)];
    ChunkState<T>& cs = st[size_t(c)];
    if (p.role == kDealer) continue;
    if (d == 0) {
      cs.y = cs.v;
      for (size_t i = 0; i < p.n; ++i) cs.y[i] += cs.post.empty() ? T(0) : cs.post[i];
      continue;
    }
    const bool a = p.role == kA;
    const T t_mask = mask_of<T>(k - d), q_mask = mask_of<T>(k - 1 - d);
    for (size_t i = 0; i < p.n; ++i) {
      const T t = T(T(T(cs.v[i] >> d) + cs.y[i]) & t_mask);  // ⌊c/2^d⌋ − β, β ∈ {0, 1}
      const T c_msb = T(t >> (k - 1 - d)) & 1, cq = t & q_mask;
      const T q = T(cs.r_own[i] & low_mask) >> d;
      const T wrap = (a ? cs.h_share[i] + c_msb : cs.h_share[i]) + (T(1) - T(2) * c_msb) * cs.m_share[i];
      T y = T(wrap << (k - 1 - d)) - q;
      if (a) y += cq - (T(1) << (k - 2 - d)) + 1;
      cs.y[i] = y + (cs.post.empty() ? T(0) : cs.post[i]);
    }
  }

  // Phase 3: re-share. y_A (seed D/A) and y_D (seed B/D) are masks; y_B = (y_A′ − y_A) + (y_B′ − y_D).
  AShare<T> out(shape);
  {
    const Sizes sz = sizes_of(s, 3, n, ctx.id());
    MsgOut to_next(sz.to_next.elts * int64_t(sizeof(T)), sz.to_next.bits),
        to_prev(sz.to_prev.elts * int64_t(sizeof(T)), sz.to_prev.bits);
    for (int c = 0; c < 3; ++c) {
      const Part& p = parts[size_t(c)];
      ChunkState<T>& cs = st[size_t(c)];
      if (p.role == kDealer) continue;
      MsgOut& o = p.role == kA ? to_next : to_prev;
      for (size_t i = 0; i < p.n; ++i) cs.y[i] -= cs.y_mask[i];
      o.put_all<T>(cs.y.data(), p.n);
    }
    std::vector<uint8_t> fn;
    std::vector<uint8_t> fp = exchange<T>(ctx, to_next, to_prev, sz, &fn);
    MsgIn from_prev(std::move(fp), 0), from_next(std::move(fn), 0);
    for (int c = 0; c < 3; ++c) {
      const Part& p = parts[size_t(c)];
      ChunkState<T>& cs = st[size_t(c)];
      for (size_t i = 0; i < p.n; ++i) {
        const size_t e = p.lo + i;
        if (p.role == kDealer) {
          out.s0[e] = cs.y_d[i], out.s1[e] = cs.y_mask[i];  // (y_D, y_A)
        } else if (p.role == kA) {
          out.s0[e] = cs.y_mask[i], out.s1[e] = T(cs.y[i] + from_next.get<T>());  // (y_A, y_B)
        } else {
          out.s0[e] = T(cs.y[i] + from_prev.get<T>()), out.s1[e] = cs.y_mask[i];  // (y_B, y_D)
        }
      }
    }
  }
  return out;
}

template <class T> Cost cost_dealt_sum(int64_t n, bool own_term, int terms, int d, int post) {
  const Shape3 s{own_term, terms + post, d, kbits<T>};
  Cost c;
  for (int phase = 1; phase <= 3; ++phase) {
    if ((phase == 1 && !s.phase1()) || (phase == 2 && !s.phase2())) continue;
    c.rounds += 1;
    for (int p = 0; p < 3; ++p) {
      const Sizes z = sizes_of(s, phase, size_t(n), p);
      const int64_t b = z.to_next.bytes(sizeof(T)) + z.to_prev.bytes(sizeof(T));
      c.bytes_total += b;
    }
  }
  // The busiest party over the whole kernel.
  int64_t best = 0;
  for (int p = 0; p < 3; ++p) {
    int64_t b = 0;
    for (int phase = 1; phase <= 3; ++phase) {
      if ((phase == 1 && !s.phase1()) || (phase == 2 && !s.phase2())) continue;
      const Sizes z = sizes_of(s, phase, size_t(n), p);
      b += z.to_next.bytes(sizeof(T)) + z.to_prev.bytes(sizeof(T));
    }
    best = std::max(best, b);
  }
  c.bytes_max = best;
  return c;
}

template <class T>
AShare<T> mac_ba(Context& ctx, const AShare<T>* a, const BitTerms<T>& terms, int d, const BitTerms<T>& post) {
  if (terms.empty() && post.empty() && !a) throw std::invalid_argument("mac_ba: nothing to sum");
  net::Link::Scope scope(ctx.link(), "mac_ba");
  const AShare<T>& first = a ? *a : !terms.empty() ? *terms[0].second : *post[0].second;
  DealtInput<T> in;
  in.addend = a, in.terms = terms, in.d = d, in.post = post;
  return dealt_sum(ctx, in, first.size(), first.shape);
}
template <class T> Cost cost_mac_ba(int64_t n, int terms, int d, int post) {
  return cost_dealt_sum<T>(n, false, terms, d, post);
}

template <class T> AShare<T> mul_ba(Context& ctx, const BShare<T>& b, const AShare<T>& z) {
  return mac_ba<T>(ctx, nullptr, {{&b, &z}}, 0);
}
template <class T> Cost cost_mul_ba(int64_t n) { return cost_mac_ba<T>(n, 1, 0); }

template <class T> AShare<T> mul_aa_trunc(Context& ctx, const AShare<T>& x, const AShare<T>& y, int d) {
  if (x.size() != y.size()) throw std::invalid_argument("mul_aa_trunc: operand sizes differ");
  net::Link::Scope scope(ctx.link(), "mul_aa_trunc");
  const size_t n = x.size();
  // 3-out-of-3 share of x·y: the cross terms plus a PRF zero-sharing (as in mul_aa).
  std::vector<T> z = ctx.prg_next().draw<T>(n);
  std::vector<T> b = ctx.prg_prev().draw<T>(n);
  for (size_t i = 0; i < n; ++i) z[i] += x.s0[i] * (y.s0[i] + y.s1[i]) + x.s1[i] * y.s0[i] - b[i];
  DealtInput<T> in;
  in.own_term = &z, in.d = d;
  return dealt_sum(ctx, in, n, x.shape);
}
template <class T> Cost cost_mul_aa_trunc(int64_t n, int d) { return cost_dealt_sum<T>(n, true, 0, d); }

template <class T>
AShare<T> dot_runs_aa_trunc(Context& ctx, const AShare<T>& x, const AShare<T>& y, const std::vector<int64_t>& runs, int d) {
  if (x.size() != y.size()) throw std::invalid_argument("dot_runs_aa_trunc: operand sizes differ");
  int64_t total = 0;
  for (int64_t r : runs) {
    if (r < 1) throw std::invalid_argument("dot_runs_aa_trunc: a run of " + std::to_string(r) + " products");
    total += r;
  }
  if (total != int64_t(x.size()))
    throw std::invalid_argument("dot_runs_aa_trunc: runs cover " + std::to_string(total) + " of " + std::to_string(x.size()) + " products");
  net::Link::Scope scope(ctx.link(), "dot_runs_aa_trunc");
  const size_t m = runs.size();
  // 3-out-of-3 share of each run's sum: the cross terms plus a PRF zero-sharing (as in mul_aa).
  std::vector<T> z = ctx.prg_next().draw<T>(m);
  const std::vector<T> b = ctx.prg_prev().draw<T>(m);
  size_t j = 0;
  for (size_t i = 0; i < m; ++i) {
    T acc = T(z[i] - b[i]);
    for (int64_t k = 0; k < runs[i]; ++k, ++j) acc += x.s0[j] * (y.s0[j] + y.s1[j]) + x.s1[j] * y.s0[j];
    z[i] = acc;
  }
  DealtInput<T> in;
  in.own_term = &z, in.d = d;
  return dealt_sum(ctx, in, m, Shape{int64_t(m)});
}
template <class T> Cost cost_dot_runs_aa_trunc(int64_t runs, int d) { return cost_dealt_sum<T>(runs, true, 0, d); }

#define INST(T)                                                                                                   \
  template AShare<T> dealt_sum(Context&, const DealtInput<T>&, size_t, const Shape&);                            \
  template Cost cost_dealt_sum<T>(int64_t, bool, int, int, int);                                                 \
  template AShare<T> mac_ba(Context&, const AShare<T>*, const BitTerms<T>&, int, const BitTerms<T>&);          \
  template Cost cost_mac_ba<T>(int64_t, int, int, int);                                                               \
  template AShare<T> mul_ba(Context&, const BShare<T>&, const AShare<T>&);                                      \
  template Cost cost_mul_ba<T>(int64_t);                                                                         \
  template AShare<T> mul_aa_trunc(Context&, const AShare<T>&, const AShare<T>&, int);                           \
  template Cost cost_mul_aa_trunc<T>(int64_t, int);                                                              \
  template AShare<T> dot_runs_aa_trunc(Context&, const AShare<T>&, const AShare<T>&, const std::vector<int64_t>&, int); \
  template Cost cost_dot_runs_aa_trunc<T>(int64_t, int);
VEIL_FOR_RINGS(INST)
#undef INST

}  // namespace veil::mpc
