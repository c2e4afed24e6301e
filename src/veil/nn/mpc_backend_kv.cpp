// The KvBackend operations (nn/backend.h) of the MPC backend: MPCache's selection on shares.
// Layout ops are local index maps; the rest map to mpc/ kernels:
//   max_groups / min_groups  fxp::max_last (comparison tree, fuzzy low bits)      kv_summary
//   cluster_scores           matmul_aa_nt, kept wide (2F fraction bits)            kv_similarity
//   topk_onehot              mpc::topk_onehot on wide scores (ranks, mask, slots)  kv_topk
//   onehot_gather / scatter  matmul_aa of an integer one-hot: no truncation       kv_gather
//   matmul_nt_wide, narrow   matmul_aa_nt without / trunc_a alone                  linear
//   kept_flags, union_flags  mpc::any_at_least, mul_aa                             kv_static
//   reveal_kept_rows         REVEAL reveal_all of the flags (positions)            kv_static
//   compact_kept_rows        REVEAL mpc::compact_rows_reveal_count (the count)     kv_static
#include <stdexcept>

#include "veil/core/fixed_point.h"
#include "veil/fxp/max.h"
#include "veil/mpc/any_at_least.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/io.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/shuffle.h"
#include "veil/mpc/topk_onehot.h"
#include "veil/nn/mpc_backend.h"

namespace veil::nn {

using Share = MpcBackend::Tensor;

namespace {

// Comparisons of cluster scores read them at 2^−8 on a 22-bit window (mpc/topk_onehot.h): scores
// that differ by less than 3/256 may rank either way, differences below 8191 compare exactly
// (cluster scores are q·summary, unscaled: GPT-2's attention logits ·√64). At 3·2^−6 (20 bits,
// two fewer per comparison) the tiny fixture's MPC selections agreed with the plaintext ones
// visibly less often (KvMpcTest, four runs of both settings: 96.5% against 98.7% of 96); at
// 3·2^−10 (24 bits) no better (98.6%).
constexpr int kTopkKeepFracBits = 8, kTopkWindowBits = 22;
// Cluster maxima may be off by a few units of 2^−12 (fxp/max.h fuzzy comparisons).
constexpr int kSummaryFuzzyBelowFrac = 12;
// Static-eviction votes (head sums of probabilities, at most the head count) on a 32-bit window.
constexpr int kVoteWindowBits = 32;

int64_t lead(const Shape& s) { return s.size() < 2 ? 1 : numel(Shape(s.begin(), s.end() - 1)); }

// "[begin, begin + n) of (shape)", built by appending (GCC 12 warns falsely on "[" + string).
std::string range_of(int64_t begin, int64_t n, const Shape& shape) {
  std::string s(1, '[');
  s += std::to_string(begin);
  s += ", ";
  s += std::to_string(begin + n);
  s += ") of ";
  s += shape_str(shape);
  return s;
}

[[noreturn]] void fail(const std::string& op, const std::string& what) {
  throw std::invalid_argument("MpcBackend::" + op + ": " + what);
}

// (B, R, C) -> (B, C, R)
Share transpose_last2(const Share& x) {
  const int64_t b = x.shape.at(0), r = x.shape.at(1), c = x.shape.at(2);
  std::vector<int64_t> idx(static_cast<size_t>(b * r * c));
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < r; ++k) idx[size_t((i * c + j) * r + k)] = (i * r + k) * c + j;
  return mpc::gather(x, idx, {b, c, r});
}

// (..., T, C) -> (T, rest·C) and back: rows of every leading block side by side.
Share rows_first(const Share& x) {
  const size_t n = x.shape.size();
  const int64_t t = x.shape[n - 2], c = x.shape[n - 1], outer = numel(x.shape) / (t * c);
  std::vector<int64_t> idx(x.size());
  for (int64_t r = 0; r < t; ++r)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < c; ++j) idx[size_t((r * outer + o) * c + j)] = (o * t + r) * c + j;
  return mpc::gather(x, idx, {t, outer * c});
}
Share rows_back(const Share& y, Shape shape) {
  const size_t n = shape.size();
  const int64_t t = y.shape.at(0), c = shape[n - 1], outer = numel(shape) / (shape[n - 2] * c);
  shape[n - 2] = t;
  std::vector<int64_t> idx(static_cast<size_t>(t * outer * c));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t r = 0; r < t; ++r)
      for (int64_t j = 0; j < c; ++j) idx[size_t((o * t + r) * c + j)] = (r * outer + o) * c + j;
  return mpc::gather(y, idx, shape);
}

}  // namespace

Share MpcBackend::reshape(const Share& x, const Shape& shape) {
  if (numel(shape) != int64_t(x.size())) fail("reshape", shape_str(x.shape) + " to " + shape_str(shape));
  return mpc::reshape(x, shape);
}

Share MpcBackend::slice_last(const Share& x, int64_t begin, int64_t n) {
  const int64_t c = x.shape.empty() ? 0 : x.shape.back();
  if (begin < 0 || n < 0 || begin + n > c)
    fail("slice_last", range_of(begin, n, x.shape));
  const int64_t rows = lead(x.shape);
  std::vector<int64_t> idx(static_cast<size_t>(rows * n));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) idx[size_t(r * n + j)] = r * c + begin + j;
  Shape out = x.shape;
  out.back() = n;
  return mpc::gather(x, idx, out);
}

Share MpcBackend::concat_last(const Share& a, const Share& b) {
  if (a.shape.empty() || a.shape.size() != b.shape.size() || !std::equal(a.shape.begin(), a.shape.end() - 1, b.shape.begin()))
    fail("concat_last", "expects (..., N1) and (..., N2), got " + shape_str(a.shape) + " and " + shape_str(b.shape));
  const int64_t na = a.shape.back(), nb = b.shape.back(), rows = lead(a.shape), off = int64_t(a.size());
  const Share both = mpc::concat<uint64_t>({&a, &b});
  std::vector<int64_t> idx(static_cast<size_t>(rows * (na + nb)));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < na; ++j) idx[size_t(r * (na + nb) + j)] = r * na + j;
    for (int64_t j = 0; j < nb; ++j) idx[size_t(r * (na + nb) + na + j)] = off + r * nb + j;
  }
  Shape out = a.shape;
  out.back() = na + nb;
  return mpc::gather(both, idx, out);
}

Share MpcBackend::sum_heads(const Share& x) {
  if (x.shape.size() != 3) fail("sum_heads", "expects (H,T,C), got " + shape_str(x.shape));
  const int64_t h = x.shape[0], n = x.shape[1] * x.shape[2];
  Share out(Shape{x.shape[1], x.shape[2]});
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < n; ++j) out.s0[size_t(j)] += x.s0[size_t(i * n + j)], out.s1[size_t(j)] += x.s1[size_t(i * n + j)];
  return out;
}

// a · bᵀ with 2F fraction bits (no truncation): a (B,M,K), b (B,N,K) -> (B,M,N).
Share MpcBackend::matmul_nt_wide(const Share& a, const Share& b) {
  net::Link::Scope scope(ctx_.link(), "linear");
  return mpc::matmul_aa_nt(ctx_, a, b);
}

Share MpcBackend::narrow(const Share& x) {
  net::Link::Scope scope(ctx_.link(), "linear");
  return mpc::trunc_a(ctx_, x, frac_bits());
}

// (..., G·g, C) -> (..., G, C): each column's group laid out last, then a max tree.
Share MpcBackend::max_groups(const Share& x, int64_t g) {
  net::Link::Scope scope(ctx_.link(), "kv_summary");
  const size_t n = x.shape.size();
  if (n < 2 || g < 1 || x.shape[n - 2] % g != 0)
    fail("max_groups", "expects (..., G·g, C) with g = " + std::to_string(g) + ", got " + shape_str(x.shape));
  const int64_t rows = x.shape[n - 2], c = x.shape[n - 1], outer = numel(x.shape) / (rows * c), groups = rows / g;
  std::vector<int64_t> idx(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t gi = 0; gi < groups; ++gi)
      for (int64_t j = 0; j < c; ++j)
        for (int64_t r = 0; r < g; ++r) idx[size_t(((o * groups + gi) * c + j) * g + r)] = (o * rows + gi * g + r) * c + j;
  Shape out = x.shape;
  out[n - 2] = groups;
  Shape grouped = out;
  grouped.push_back(g);
  if (g == 1) return mpc::reshape(x, out);
  const int fuzzy = std::max(0, frac_bits() - kSummaryFuzzyBelowFrac);
  return mpc::reshape(fxp::max_last(ctx_, mpc::gather(x, idx, grouped), fuzzy), out);
}

Share MpcBackend::min_groups(const Share& x, int64_t g) { return mpc::neg_a(max_groups(mpc::neg_a(x), g)); }

// Kept wide (2F fraction bits, no truncation): the scores only feed topk_onehot, which reads them
// at its own resolution.
Share MpcBackend::cluster_scores(const Share& q, const Share& summaries) {
  net::Link::Scope scope(ctx_.link(), "kv_similarity");
  return mpc::matmul_aa_nt(ctx_, q, summaries);
}

// scores (B,1,N), wide as cluster_scores gives them (2F fraction bits) -> (B,k,N)
Share MpcBackend::topk_onehot(const Share& scores, int64_t k) {
  net::Link::Scope scope(ctx_.link(), "kv_topk");
  if (scores.shape.size() != 3 || scores.shape[1] != 1)
    fail("topk_onehot", "expects scores (B,1,N), got " + shape_str(scores.shape));
  const int64_t b = scores.shape[0], n = scores.shape[2];
  return mpc::reshape(mpc::topk_onehot(ctx_, mpc::reshape(scores, {b, n}), k,
                                       std::max(0, 2 * frac_bits() - kTopkKeepFracBits), kTopkWindowBits),
                      {b, k, n});
}

Share MpcBackend::onehot_gather(const Share& onehot, const Share& x) {
  net::Link::Scope scope(ctx_.link(), "kv_gather");
  if (onehot.shape.size() != 3 || x.shape.size() != 3)
    fail("onehot_gather", "expects one-hot (B,k,N) and x (B,N,C), got " + shape_str(onehot.shape) + " and " + shape_str(x.shape));
  return mpc::matmul_aa(ctx_, onehot, x);  // integer 0/1 times fixed point: no truncation
}

Share MpcBackend::onehot_scatter(const Share& onehot, const Share& y) {
  net::Link::Scope scope(ctx_.link(), "kv_gather");
  if (onehot.shape.size() != 3 || y.shape.size() != 3 || onehot.shape[0] != y.shape[0] || onehot.shape[1] != y.shape[1])
    fail("onehot_scatter", "expects one-hot (B,k,N) and y (B,k,C), got " + shape_str(onehot.shape) + " and " + shape_str(y.shape));
  return mpc::matmul_aa(ctx_, transpose_last2(onehot), y);
}

Share MpcBackend::kept_flags(const Share& votes, double threshold, const std::vector<int64_t>& forced) {
  net::Link::Scope scope(ctx_.link(), "kv_static");
  if (votes.shape.size() != 2) fail("kept_flags", "expects votes (W,T), got " + shape_str(votes.shape));
  return mpc::any_at_least(ctx_, votes, fxp_encode<uint64_t>(threshold, frac_bits()), kVoteWindowBits, forced);
}

Share MpcBackend::union_flags(const Share& a, const Share& b) {
  net::Link::Scope scope(ctx_.link(), "kv_static");
  return mpc::sub_aa(mpc::add_aa(a, b), mpc::mul_aa(ctx_, a, b));
}

std::vector<int64_t> MpcBackend::reveal_kept_rows(const Share& flags) {
  net::Link::Scope scope(ctx_.link(), "kv_static");
  const veil::Tensor<uint64_t> open = mpc::reveal_all(ctx_, flags);  // REVEAL: the kept positions
  std::vector<int64_t> rows;
  for (size_t i = 0; i < open.size(); ++i) {
    if (open.data[i] > 1) throw std::runtime_error("MpcBackend::reveal_kept_rows: opened a flag that is not 0/1");
    if (open.data[i] == 1) rows.push_back(int64_t(i));
  }
  return rows;
}

std::vector<Share> MpcBackend::compact_kept_rows(const Share& flags, const std::vector<Share>& xs) {
  net::Link::Scope scope(ctx_.link(), "kv_static");
  std::vector<Share> rows;
  for (const Share& x : xs) {
    if (x.shape.size() < 2 || x.shape[x.shape.size() - 2] != int64_t(flags.size()))
      fail("compact_kept_rows", "expects (..., T, C) with T = " + std::to_string(flags.size()) + ", got " + shape_str(x.shape));
    rows.push_back(rows_first(x));
  }
  std::vector<Share> kept = mpc::compact_rows_reveal_count(ctx_, flags, rows);  // REVEAL: the count
  for (size_t i = 0; i < kept.size(); ++i) kept[i] = rows_back(kept[i], xs[i].shape);
  return kept;
}

}  // namespace veil::nn
