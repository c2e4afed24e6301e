#include "veil/mpc/shuffle.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/instantiate.h"
#include "veil/mpc/io.h"

namespace veil::mpc {

namespace {

// A permutation of 0..n−1 from a PRG stream (Fisher–Yates; the modulo bias of 64-bit draws is
// below n / 2^64). Both holders of the seed draw the same n words.
std::vector<int64_t> draw_permutation(Prg& prg, int64_t n) {
  const std::vector<uint64_t> r = prg.draw<uint64_t>(size_t(n));
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(r[size_t(i)] % uint64_t(i + 1))]);
  return perm;
}

// out row i = in row perm[i].
template <class T> std::vector<T> permute_rows(const std::vector<T>& in, const std::vector<int64_t>& perm, int64_t cols) {
  std::vector<T> out(in.size());
  for (size_t i = 0; i < perm.size(); ++i)
    std::copy_n(in.begin() + perm[i] * cols, cols, out.begin() + int64_t(i) * cols);
  return out;
}

// One pass with the pair (a, a + 1); the third party c = a + 2.
template <class T> AShare<T> shuffle_pass(Context& ctx, const AShare<T>& x, int a) {
  const int self = ctx.id(), b = (a + 1) % 3;
  const int64_t rows = x.shape.at(0), cols = x.shape.at(1);
  const size_t n = x.size();
  AShare<T> y(x.shape);
  if (self == a) {  // holds (x_a, x_b); new (x'_a, x'_b)
    std::vector<T> sum(n);
    for (size_t i = 0; i < n; ++i) sum[i] = x.s0[i] + x.s1[i];
    const std::vector<int64_t> perm = draw_permutation(ctx.prg_next(), rows);
    y.s0 = ctx.prg_prev().draw<T>(n);  // x'_a, shared with c
    std::vector<T> u = permute_rows(sum, perm, cols);
    for (size_t i = 0; i < n; ++i) u[i] -= y.s0[i];
    ctx.link().send(b, u);
    std::vector<T> v(n);
    ctx.link().recv(b, v);
    for (size_t i = 0; i < n; ++i) y.s1[i] = u[i] + v[i];
  } else if (self == b) {  // holds (x_b, x_c); new (x'_b, x'_c)
    const std::vector<int64_t> perm = draw_permutation(ctx.prg_prev(), rows);
    y.s1 = ctx.prg_next().draw<T>(n);  // x'_c, shared with c
    std::vector<T> v = permute_rows(x.s1, perm, cols);
    for (size_t i = 0; i < n; ++i) v[i] -= y.s1[i];
    ctx.link().send(a, v);
    std::vector<T> u(n);
    ctx.link().recv(a, u);
    for (size_t i = 0; i < n; ++i) y.s0[i] = u[i] + v[i];
  } else {  // c: new (x'_c, x'_a), both from its seeds
    y.s0 = ctx.prg_prev().draw<T>(n);  // x'_c, shared with b
    y.s1 = ctx.prg_next().draw<T>(n);  // x'_a, shared with a
  }
  return y;
}

}  // namespace

template <class T> AShare<T> shuffle_rows(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "shuffle_rows");
  if (x.shape.size() != 2) throw std::invalid_argument("shuffle_rows: expects (R, C), got " + shape_str(x.shape));
  AShare<T> y = x;
  for (int a = 0; a < 3; ++a) y = shuffle_pass(ctx, y, a);
  return y;
}

template <class T> Cost cost_shuffle_rows(int64_t rows, int64_t cols) {
  const int64_t n = rows * cols, e = sizeof(T);
  return {3, 2 * n * e, 6 * n * e};
}

std::vector<AShare<uint64_t>> compact_rows_reveal_count(Context& ctx, const AShare<uint64_t>& flags,
                                                        const std::vector<AShare<uint64_t>>& xs) {
  net::Link::Scope scope(ctx.link(), "compact_rows");
  const int64_t t = int64_t(flags.size());
  int64_t width = 1;
  for (const auto& x : xs) {
    if (x.shape.size() != 2 || x.shape[0] != t)
      throw std::invalid_argument("compact_rows_reveal_count: expects (T, C) rows with T = " + std::to_string(t) +
                                  ", got " + shape_str(x.shape));
    width += x.shape[1];
  }
  // Destinations: kept row i -> c_i − 1, dropped row i -> m + i − c_i (c: inclusive prefix count).
  AShare<uint64_t> prefix(Shape{t}), m(Shape{1});
  uint64_t p0 = 0, p1 = 0;
  for (int64_t i = 0; i < t; ++i) {
    p0 += flags.s0[size_t(i)], p1 += flags.s1[size_t(i)];
    prefix.s0[size_t(i)] = p0, prefix.s1[size_t(i)] = p1;
  }
  m.s0[0] = p0, m.s1[0] = p1;
  // dest = (m + i − c) + f·(2c − 1 − m − i)
  AShare<uint64_t> dropped(Shape{t}), slope(Shape{t});
  for (int64_t i = 0; i < t; ++i) {
    dropped.s0[size_t(i)] = m.s0[0] - prefix.s0[size_t(i)];
    dropped.s1[size_t(i)] = m.s1[0] - prefix.s1[size_t(i)];
    slope.s0[size_t(i)] = 2 * prefix.s0[size_t(i)] - m.s0[0];
    slope.s1[size_t(i)] = 2 * prefix.s1[size_t(i)] - m.s1[0];
  }
  std::vector<uint64_t> iota(static_cast<size_t>(t)), minus(static_cast<size_t>(t));
  for (int64_t i = 0; i < t; ++i) iota[size_t(i)] = uint64_t(i), minus[size_t(i)] = uint64_t(0) - uint64_t(i + 1);
  dropped = add_ap(ctx, dropped, iota);
  slope = add_ap(ctx, slope, minus);
  const AShare<uint64_t> dest = add_aa(dropped, mul_aa(ctx, flags, slope));
  const int64_t kept = int64_t(reveal_all(ctx, m).data.at(0));  // REVEAL: the count
  if (kept < 0 || kept > t) throw std::runtime_error("compact_rows_reveal_count: opened a count outside 0.." + std::to_string(t));

  // Rows [dest | xs...], shuffled; the shuffled destinations are opened.
  AShare<uint64_t> rows(Shape{t, width});
  for (int64_t i = 0; i < t; ++i) {
    size_t at = size_t(i * width);
    rows.s0[at] = dest.s0[size_t(i)], rows.s1[at] = dest.s1[size_t(i)];
    ++at;
    for (const auto& x : xs) {
      const int64_t c = x.shape[1];
      std::copy_n(x.s0.begin() + i * c, c, rows.s0.begin() + int64_t(at));
      std::copy_n(x.s1.begin() + i * c, c, rows.s1.begin() + int64_t(at));
      at += size_t(c);
    }
  }
  const AShare<uint64_t> shuffled = shuffle_rows(ctx, rows);
  AShare<uint64_t> dest_shuffled(Shape{t});
  for (int64_t i = 0; i < t; ++i)
    dest_shuffled.s0[size_t(i)] = shuffled.s0[size_t(i * width)], dest_shuffled.s1[size_t(i)] = shuffled.s1[size_t(i * width)];
  const Tensor<uint64_t> where = reveal_all(ctx, dest_shuffled);  // REVEAL: a uniformly random permutation
  std::vector<int64_t> source(size_t(kept), -1);  // output row r comes from shuffled row source[r]
  for (int64_t i = 0; i < t; ++i) {
    const uint64_t d = where.data[size_t(i)];
    if (d >= uint64_t(t)) throw std::runtime_error("compact_rows_reveal_count: opened destinations are not a permutation");
    if (d < uint64_t(kept)) source[size_t(d)] = i;
  }
  std::vector<AShare<uint64_t>> out;
  int64_t col = 1;
  for (const auto& x : xs) {
    const int64_t c = x.shape[1];
    AShare<uint64_t> y(Shape{kept, c});
    for (int64_t r = 0; r < kept; ++r) {
      if (source[size_t(r)] < 0) throw std::runtime_error("compact_rows_reveal_count: destination " + std::to_string(r) + " missing");
      const int64_t from = source[size_t(r)] * width + col;
      std::copy_n(shuffled.s0.begin() + from, c, y.s0.begin() + r * c);
      std::copy_n(shuffled.s1.begin() + from, c, y.s1.begin() + r * c);
    }
    out.push_back(std::move(y));
    col += c;
  }
  return out;
}

Cost cost_compact_rows_reveal_count(int64_t t, int64_t cols) {
  return cost_mul_aa<uint64_t>(t) + cost_reveal_all<uint64_t>(1) + cost_shuffle_rows<uint64_t>(t, 1 + cols) +
         cost_reveal_all<uint64_t>(t);
}

#define X(T)                                                          \
  template AShare<T> shuffle_rows(Context&, const AShare<T>&);        \
  template Cost cost_shuffle_rows<T>(int64_t, int64_t);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::mpc
