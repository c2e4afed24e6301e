#include "veil/fxp/max.h"

#include <stdexcept>

#include "veil/mpc/layout.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/narrow.h"
#include "veil/mpc/instantiate.h"

namespace veil::fxp {
namespace {

struct Level {
  int64_t width = 0, pairs = 0;  // entries per row at this level, pairs compared
};

template <class T> struct Tree {
  AShare<T> value;                   // (rows)
  AShare<T> index;                   // (rows), when tracked
  std::vector<Level> levels;         // bottom-up
  std::vector<AShare<T>> bits;       // per level: [a < b] for each pair, (rows · pairs), 0/1
};

// [a < b] = [a − b < 0] as a boolean bit: exact on the whole ring, or (fuzzy_bits > 0) on the
// window above the low fuzzy_bits bits: 32 bits of it on FM64, the rest of the word on FM32.
template <class T> mpc::BShare<T> less_bits(Context& ctx, const AShare<T>& a, const AShare<T>& b, int fuzzy_bits) {
  if (fuzzy_bits > 0) {
    if constexpr (sizeof(T) == 8) return mpc::ltz_window_b(ctx, mpc::sub_aa(a, b), fuzzy_bits, 32);
    else return mpc::ltz_window_b(ctx, mpc::sub_aa(a, b), fuzzy_bits);
  }
  return mpc::msb_a(ctx, mpc::sub_aa(a, b));
}

// The tournament over rows of `n` entries. `track_index` carries indices along with the values
// (argmax); `keep_bits` keeps each level's comparison bits (top-k).
template <class T>
Tree<T> tournament(Context& ctx, const AShare<T>& x, int64_t rows, int64_t n, bool track_index, bool keep_bits,
                   int fuzzy_bits = 0) {
  Tree<T> t;
  AShare<T> cur = mpc::reshape(x, {rows * n});
  AShare<T> idx;
  if (track_index) {  // public 0..n−1 per row
    std::vector<T> iota(size_t(rows * n));
    for (size_t i = 0; i < iota.size(); ++i) iota[i] = T(int64_t(i) % n);
    idx = mpc::add_ap(ctx, AShare<T>(Shape{rows * n}), iota);
  }
  int64_t w = n;
  while (w > 1) {
    const int64_t pairs = w / 2, odd = w % 2, nw = pairs + odd;
    std::vector<int64_t> ia, ib, carry, order;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < pairs; ++i) ia.push_back(r * w + 2 * i), ib.push_back(r * w + 2 * i + 1);
      if (odd) carry.push_back(r * w + w - 1);
    }
    for (int64_t r = 0; r < rows; ++r) {  // next level, per row: pair winners then the carried one
      for (int64_t i = 0; i < pairs; ++i) order.push_back(r * pairs + i);
      if (odd) order.push_back(rows * pairs + r);
    }
    const Shape ps{rows * pairs};
    AShare<T> a = mpc::gather(cur, ia, ps), b = mpc::gather(cur, ib, ps);
    mpc::BShare<T> c = less_bits(ctx, a, b, fuzzy_bits);  // [a < b], boolean
    AShare<T> d = mpc::sub_aa(b, a);
    auto next = [&](const AShare<T>& winners, const AShare<T>& from) {
      if (!odd) return winners;
      AShare<T> carried = mpc::gather(from, carry, {rows});
      return mpc::gather(mpc::concat<T>({&winners, &carried}), order, {rows * nw});
    };
    if (track_index) {
      AShare<T> ai = mpc::gather(idx, ia, ps), bi = mpc::gather(idx, ib, ps);
      AShare<T> di = mpc::sub_aa(bi, ai);
      // winner = a + c·(b − a) for the value and the index in one mac_ba
      const AShare<T> both = mpc::concat<T>({&a, &ai}), diffs = mpc::concat<T>({&d, &di});
      const mpc::BShare<T> cc = mpc::concat_b<T>({&c, &c});
      AShare<T> sel = mpc::mac_ba<T>(ctx, &both, {{&cc, &diffs}}, 0);
      AShare<T> win = mpc::slice(sel, 0, a.size(), ps);
      AShare<T> win_idx = mpc::slice(sel, a.size(), a.size(), ps);
      AShare<T> nxt = next(win, cur);
      idx = next(win_idx, idx);
      cur = std::move(nxt);
    } else if (keep_bits) {  // top-k reuses the bits: inject them once (1 round, as mul_ba's extra one)
      AShare<T> ca = mpc::bit2a(ctx, c);
      cur = next(mpc::add_aa(a, mpc::mul_aa(ctx, ca, d)), cur);
      t.bits.push_back(std::move(ca));
    } else {
      cur = next(mpc::mac_ba<T>(ctx, &a, {{&c, &d}}, 0), cur);
    }
    t.levels.push_back({w, pairs});
    w = nw;
  }
  t.value = std::move(cur);
  if (track_index) t.index = std::move(idx);
  return t;
}

// One-hot (rows · n) of each row's tournament winner, top-down from the kept comparison bits:
// one mul_aa per level.
template <class T> AShare<T> winner_onehot(Context& ctx, const Tree<T>& t, int64_t rows) {
  AShare<T> flag = mpc::add_ap(ctx, AShare<T>(Shape{rows}), std::vector<T>{T(1)});
  for (size_t l = t.levels.size(); l-- > 0;) {
    const int64_t w = t.levels[l].width, pairs = t.levels[l].pairs, nw = (w + 1) / 2;
    std::vector<int64_t> parent_of_pair, order;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < pairs; ++i) parent_of_pair.push_back(r * nw + i);
    AShare<T> pp = mpc::gather(flag, parent_of_pair, {rows * pairs});
    AShare<T> right = mpc::mul_aa(ctx, pp, t.bits[l]);  // parent · [a < b]
    AShare<T> left = mpc::sub_aa(pp, right);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t i = j / 2;
        if (i < pairs) order.push_back((j % 2 ? rows * pairs : 0) + r * pairs + i);
        else order.push_back(2 * rows * pairs + r * nw + i);  // the carried element
      }
    flag = mpc::gather(mpc::concat<T>({&left, &right, &flag}), order, {rows * w});
  }
  return flag;
}

int64_t rows_of(const Shape& s, size_t size) {
  if (s.empty() || s.back() <= 0) throw std::invalid_argument("fxp: reduction along an empty last axis");
  return int64_t(size) / s.back();
}

}  // namespace

template <class T> AShare<T> max_last(Context& ctx, const AShare<T>& x, int fuzzy_bits) {
  net::Link::Scope scope(ctx.link(), "max_last");
  const int64_t rows = rows_of(x.shape, x.size()), n = mpc::last_dim(x.shape);
  return mpc::reshape(tournament(ctx, x, rows, n, false, false, fuzzy_bits).value, mpc::drop_last(x.shape));
}

template <class T> std::pair<AShare<T>, AShare<T>> argmax_last(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "argmax_last");
  const int64_t rows = rows_of(x.shape, x.size()), n = mpc::last_dim(x.shape);
  Tree<T> t = tournament(ctx, x, rows, n, true, false);
  return {mpc::reshape(std::move(t.value), mpc::drop_last(x.shape)), mpc::reshape(std::move(t.index), mpc::drop_last(x.shape))};
}

template <class T> std::pair<AShare<T>, AShare<T>> topk_last(Context& ctx, const AShare<T>& x, int k) {
  net::Link::Scope scope(ctx.link(), "topk_last");
  const int64_t rows = rows_of(x.shape, x.size()), n = mpc::last_dim(x.shape);
  if (k < 1 || k > n)
    throw std::invalid_argument("topk_last: k = " + std::to_string(k) + " is not in [1, " + std::to_string(n) + "]");
  const T neg_low = T(1) << (ring_bits<T> - 3);  // −L
  std::vector<T> col(size_t(rows * n));
  for (size_t i = 0; i < col.size(); ++i) col[i] = T(int64_t(i) % n);
  AShare<T> cur = mpc::reshape(x, {rows * n});
  std::vector<AShare<T>> vals, idxs;
  for (int j = 0; j < k; ++j) {
    Tree<T> t = tournament(ctx, cur, rows, n, false, true);
    AShare<T> oh = winner_onehot(ctx, t, rows);
    vals.push_back(std::move(t.value));
    idxs.push_back(mpc::sum_rows(mpc::mul_ap(oh, col), n));
    if (j + 1 < k) {  // knock the winner out: x ← x − onehot·(x − L)
      AShare<T> gap = mpc::add_ap(ctx, cur, std::vector<T>{neg_low});
      cur = mpc::sub_aa(cur, mpc::mul_aa(ctx, oh, gap));
    }
  }
  std::vector<const AShare<T>*> vp, ip;
  for (int j = 0; j < k; ++j) vp.push_back(&vals[size_t(j)]), ip.push_back(&idxs[size_t(j)]);
  std::vector<int64_t> order;  // (k, rows) -> (rows, k)
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < k; ++j) order.push_back(j * rows + r);
  Shape out = mpc::drop_last(x.shape);
  out.push_back(k);
  return {mpc::gather(mpc::concat(vp), order, out), mpc::gather(mpc::concat(ip), order, out)};
}

#define X(T)                                                                        \
  template AShare<T> max_last(Context&, const AShare<T>&, int);                     \
  template std::pair<AShare<T>, AShare<T>> argmax_last(Context&, const AShare<T>&); \
  template std::pair<AShare<T>, AShare<T>> topk_last(Context&, const AShare<T>&, int);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
