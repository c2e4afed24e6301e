#include "veil/mpc/carry_tree.h"

#include <stdexcept>

#include "veil/mpc/boolean.h"

namespace veil::mpc {

namespace {

// 64×64 bit-matrix transpose: afterwards bit i of a[j] is the former bit j of a[i].
void transpose64(uint64_t a[64]) {
  uint64_t m = 0x00000000FFFFFFFFULL;
  for (int j = 32; j != 0; j >>= 1, m ^= (m << j))
    for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
      const uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
      a[k] ^= t << j;
      a[k | j] ^= t;
    }
}

size_t words_for(size_t n) { return (n + 63) / 64; }

// One bit plane of a boolean sharing: this party's two components.
struct Plane {
  std::vector<uint64_t> s0, s1;
};
Plane xor_planes(const Plane& a, const Plane& b) {
  Plane c{a.s0, a.s1};
  for (size_t w = 0; w < c.s0.size(); ++w) c.s0[w] ^= b.s0[w], c.s1[w] ^= b.s1[w];
  return c;
}

// All ANDs lhs[i] & rhs[i] of one level in one and_bb round.
std::vector<Plane> and_planes(Context& ctx, const std::vector<const Plane*>& lhs, const std::vector<const Plane*>& rhs,
                              size_t W) {
  const size_t m = lhs.size();
  BShare<uint64_t> x({int64_t(m * W)}, 64), y({int64_t(m * W)}, 64);
  for (size_t i = 0; i < m; ++i) {
    std::copy(lhs[i]->s0.begin(), lhs[i]->s0.end(), x.s0.begin() + long(i * W));
    std::copy(lhs[i]->s1.begin(), lhs[i]->s1.end(), x.s1.begin() + long(i * W));
    std::copy(rhs[i]->s0.begin(), rhs[i]->s0.end(), y.s0.begin() + long(i * W));
    std::copy(rhs[i]->s1.begin(), rhs[i]->s1.end(), y.s1.begin() + long(i * W));
  }
  BShare<uint64_t> z = and_bb(ctx, x, y);
  std::vector<Plane> out(m);
  for (size_t i = 0; i < m; ++i) {
    out[i].s0.assign(z.s0.begin() + long(i * W), z.s0.begin() + long((i + 1) * W));
    out[i].s1.assign(z.s1.begin() + long(i * W), z.s1.begin() + long((i + 1) * W));
  }
  return out;
}

// The reduction tree over `count` (g, p) nodes ordered from the lowest bit up. Pairs form from
// the top, so an odd node out is always the lowest one; the lowest node's p is never needed
// (nothing below it can propagate a carry), so every pair that holds it skips its p AND.
// Returns the AND planes spent per level.
std::vector<int64_t> tree_ands(int64_t count) {
  std::vector<int64_t> per_level;
  while (count > 1) {
    const int64_t pairs = count / 2, odd = count % 2;
    per_level.push_back(2 * pairs - (odd ? 0 : 1));
    count = pairs + odd;
  }
  return per_level;
}

}  // namespace

std::vector<uint64_t> to_planes(const std::vector<uint64_t>& v, int nplanes) {
  const size_t n = v.size(), W = words_for(n);
  std::vector<uint64_t> planes(size_t(nplanes) * W);
  uint64_t block[64];
  for (size_t w = 0; w < W; ++w) {
    const size_t lo = 64 * w, m = std::min<size_t>(64, n - lo);
    for (size_t i = 0; i < 64; ++i) block[i] = i < m ? v[lo + i] : 0;
    transpose64(block);
    for (int j = 0; j < nplanes; ++j) planes[size_t(j) * W + w] = block[j];
  }
  return planes;
}

std::vector<uint64_t> from_plane(const uint64_t* plane, size_t n) {
  std::vector<uint64_t> v(n);
  for (size_t e = 0; e < n; ++e) v[e] = (plane[e / 64] >> (e % 64)) & 1;
  return v;
}

BShare<uint64_t> msb_of_sum(Context& ctx, const std::vector<uint64_t>& s0, const std::vector<uint64_t>& s1, int ell,
                            const Shape& shape) {
  if (ell < 2 || ell > 64) throw std::invalid_argument("msb_of_sum: width must be in [2, 64]");
  if (s0.size() != s1.size()) throw std::invalid_argument("msb_of_sum: component sizes differ");
  net::Link::Scope scope(ctx.link(), "msb_of_sum");
  const size_t n = s0.size(), W = words_for(n);
  const std::vector<uint64_t> p0 = to_planes(s0, ell), p1 = to_planes(s1, ell);
  const int id = ctx.id();
  // Plane j of the XOR of the components in `set` (bit c set: component c), itself a sharing:
  // this party holds component id as its first and component id + 1 as its second.
  auto comp = [&](int set, int j) {
    Plane pl{std::vector<uint64_t>(W), std::vector<uint64_t>(W)};
    if (set >> id & 1) std::copy(p0.begin() + long(size_t(j) * W), p0.begin() + long(size_t(j + 1) * W), pl.s0.begin());
    if (set >> ((id + 1) % 3) & 1)
      std::copy(p1.begin() + long(size_t(j) * W), p1.begin() + long(size_t(j + 1) * W), pl.s1.begin());
    return pl;
  };
  const int A = 1, B = 2, C = 4;

  // Carry-save: m = maj(a, b, c) = ((a ⊕ c) & (b ⊕ c)) ⊕ c on bits 0..ℓ−2.
  std::vector<Plane> ac(static_cast<size_t>(ell - 1)), bc(static_cast<size_t>(ell - 1));
  std::vector<const Plane*> lhs, rhs;
  for (int j = 0; j + 1 < ell; ++j) {
    ac[size_t(j)] = comp(A | C, j), bc[size_t(j)] = comp(B | C, j);
    lhs.push_back(&ac[size_t(j)]), rhs.push_back(&bc[size_t(j)]);
  }
  std::vector<Plane> maj = and_planes(ctx, lhs, rhs, W);
  for (int j = 0; j + 1 < ell; ++j) maj[size_t(j)] = xor_planes(maj[size_t(j)], comp(C, j));

  // top = s_(ℓ−1) ⊕ m_(ℓ−2); the carry into bit ℓ−1 of s + 2m comes from bits 1..ℓ−2:
  // g_i = s_i & m_(i−1), p_i = s_i ⊕ m_(i−1).
  Plane top = xor_planes(comp(A | B | C, ell - 1), maj[size_t(ell - 2)]);
  const int leaves = ell - 2;
  if (leaves > 0) {
    std::vector<Plane> s(static_cast<size_t>(leaves)), g, p(static_cast<size_t>(leaves));
    lhs.clear(), rhs.clear();
    for (int k = 0; k < leaves; ++k) {
      s[size_t(k)] = comp(A | B | C, k + 1);
      p[size_t(k)] = xor_planes(s[size_t(k)], maj[size_t(k)]);
      lhs.push_back(&s[size_t(k)]), rhs.push_back(&maj[size_t(k)]);
    }
    g = and_planes(ctx, lhs, rhs, W);
    // Tree: (G, P)_hi ∘ (G, P)_lo = (G_hi ⊕ P_hi & G_lo, P_hi & P_lo).
    while (g.size() > 1) {
      const size_t count = g.size(), pairs = count / 2, odd = count % 2;
      lhs.clear(), rhs.clear();
      for (size_t q = 0; q < pairs; ++q) {
        const size_t lo = odd + 2 * q, hi = lo + 1;
        lhs.push_back(&p[hi]), rhs.push_back(&g[lo]);
      }
      for (size_t q = 0; q < pairs; ++q) {
        const size_t lo = odd + 2 * q, hi = lo + 1;
        if (lo == 0) continue;  // the lowest node's P is never used
        lhs.push_back(&p[hi]), rhs.push_back(&p[lo]);
      }
      std::vector<Plane> prod = and_planes(ctx, lhs, rhs, W);
      std::vector<Plane> ng, np;
      if (odd) ng.push_back(std::move(g[0])), np.push_back(std::move(p[0]));
      size_t next_p = pairs;
      for (size_t q = 0; q < pairs; ++q) {
        const size_t lo = odd + 2 * q, hi = lo + 1;
        ng.push_back(xor_planes(g[hi], prod[q]));
        np.push_back(lo == 0 ? Plane{} : std::move(prod[next_p++]));
      }
      g = std::move(ng), p = std::move(np);
    }
    top = xor_planes(top, g[0]);
  }
  BShare<uint64_t> out(shape, 1);
  out.s0 = from_plane(top.s0.data(), n);
  out.s1 = from_plane(top.s1.data(), n);
  return out;
}

Cost cost_msb_of_sum(int64_t n, int ell) {
  const int64_t W = int64_t(words_for(size_t(n)));
  const int64_t leaves = ell - 2;
  Cost c = cost_and_bb<uint64_t>(W * (ell - 1));
  if (leaves > 0) {
    c = c + cost_and_bb<uint64_t>(W * leaves);
    for (int64_t planes : tree_ands(leaves)) c = c + cost_and_bb<uint64_t>(W * planes);
  }
  return c;
}

}  // namespace veil::mpc
