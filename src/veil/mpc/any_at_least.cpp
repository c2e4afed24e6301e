#include "veil/mpc/any_at_least.h"

#include <stdexcept>
#include <string>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/bit_inject.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/carry_tree.h"
#include "veil/mpc/io.h"
#include "veil/mpc/narrow.h"

namespace veil::mpc {

namespace {
int64_t words_of(int64_t t) { return (t + 63) / 64; }
}  // namespace

AShare<uint64_t> any_at_least(Context& ctx, const AShare<uint64_t>& x, uint64_t threshold, int ell,
                              const std::vector<int64_t>& forced) {
  net::Link::Scope scope(ctx.link(), "any_at_least");
  if (x.shape.size() != 2) throw std::invalid_argument("any_at_least: expects x (W, T), got " + shape_str(x.shape));
  const int64_t w = x.shape[0], t = x.shape[1], words = words_of(t);
  if (w < 1 || t < 1) throw std::invalid_argument("any_at_least: empty votes " + shape_str(x.shape));

  // c = [x < threshold], packed: row i occupies words [i·words, (i + 1)·words).
  const BShare<uint64_t> c = ltz_window_b(ctx, add_ap(ctx, x, std::vector<uint64_t>{uint64_t(0) - threshold}), 0, ell);
  BShare<uint64_t> rows(Shape{w * words}, 64);
  for (int64_t i = 0; i < w; ++i) {
    const std::vector<uint64_t> r0(c.s0.begin() + i * t, c.s0.begin() + (i + 1) * t);
    const std::vector<uint64_t> r1(c.s1.begin() + i * t, c.s1.begin() + (i + 1) * t);
    const std::vector<uint64_t> p0 = to_planes(r0, 1), p1 = to_planes(r1, 1);
    std::copy(p0.begin(), p0.end(), rows.s0.begin() + i * words);
    std::copy(p1.begin(), p1.end(), rows.s1.begin() + i * words);
  }
  // AND over the rows: halves against halves, an odd row carried.
  for (int64_t live = w; live > 1;) {
    const int64_t half = live / 2, n = half * words;
    const BShare<uint64_t> a = slice_b(rows, 0, size_t(n), Shape{n});
    const BShare<uint64_t> b = slice_b(rows, size_t(n), size_t(n), Shape{n});
    BShare<uint64_t> both = and_bb(ctx, a, b);
    if (live % 2) {
      const BShare<uint64_t> odd = slice_b(rows, size_t(2 * n), size_t(words), Shape{words});
      both = concat_b<uint64_t>({&both, &odd});
    }
    rows = std::move(both);
    live = half + live % 2;
  }
  const BShare<uint64_t> any = not_b(ctx, rows);  // 1 where some row reached the threshold
  BShare<uint64_t> bits(Shape{t}, 1);
  bits.s0 = from_plane(any.s0.data(), size_t(t));
  bits.s1 = from_plane(any.s1.data(), size_t(t));
  AShare<uint64_t> flags = bit2a_dealt(ctx, bits);
  const AShare<uint64_t> one = add_ap(ctx, AShare<uint64_t>(Shape{1}), std::vector<uint64_t>{1});
  for (int64_t j : forced) {
    if (j < 0 || j >= t) throw std::invalid_argument("any_at_least: forced column " + std::to_string(j));
    flags.s0[size_t(j)] = one.s0[0], flags.s1[size_t(j)] = one.s1[0];
  }
  return flags;
}

Cost cost_any_at_least(int64_t w, int64_t t, int ell) {
  Cost c = cost_ltz_window_b(w * t, ell);
  for (int64_t live = w; live > 1; live = live / 2 + live % 2) c = c + cost_and_bb<uint64_t>(live / 2 * words_of(t));
  return c + cost_bit2a_dealt<uint64_t>(t);
}

}  // namespace veil::mpc
