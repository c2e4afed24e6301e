// The KvBackend operations (nn/backend.h) of the plaintext backend: the reference of the MPC
// ones in nn/mpc_backend_kv.cpp. Flags and one-hot rows are floats 0/1.
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "veil/nn/plain_backend.h"

namespace veil::nn {

namespace {

using Tensor = PlainBackend::Tensor;

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
  throw std::invalid_argument("PlainBackend::" + op + ": " + what);
}

// (..., G·g, C) -> (..., G, C) by `pick` over each column of g consecutive rows.
template <class Pick>
Tensor reduce_groups(const std::string& op, const Tensor& x, int64_t g, Pick pick) {
  if (x.shape.size() < 2 || g < 1 || x.dim(-2) % g != 0)
    fail(op, "expects (..., G·g, C) with g = " + std::to_string(g) + ", got " + shape_str(x.shape));
  const int64_t rows = x.dim(-2), c = x.dim(-1), outer = int64_t(x.size()) / (rows * c), groups = rows / g;
  Shape shape = x.shape;
  shape[shape.size() - 2] = groups;
  Tensor out(shape);
  for (int64_t b = 0; b < outer; ++b)
    for (int64_t gi = 0; gi < groups; ++gi)
      for (int64_t j = 0; j < c; ++j) {
        float v = x.data[size_t((b * rows + gi * g) * c + j)];
        for (int64_t r = 1; r < g; ++r) v = pick(v, x.data[size_t((b * rows + gi * g + r) * c + j)]);
        out.data[size_t((b * groups + gi) * c + j)] = v;
      }
  return out;
}

}  // namespace

Tensor PlainBackend::reshape(const Tensor& x, const Shape& shape) const {
  if (numel(shape) != int64_t(x.size())) fail("reshape", shape_str(x.shape) + " to " + shape_str(shape));
  Tensor out = x;
  out.shape = shape;
  return out;
}

Tensor PlainBackend::slice_last(const Tensor& x, int64_t begin, int64_t n) const {
  if (x.shape.empty() || begin < 0 || n < 0 || begin + n > x.dim(-1))
    fail("slice_last", range_of(begin, n, x.shape));
  const int64_t c = x.dim(-1), rows = int64_t(x.size()) / c;
  Shape shape = x.shape;
  shape.back() = n;
  Tensor out(shape);
  for (int64_t r = 0; r < rows; ++r) std::copy_n(x.data.begin() + r * c + begin, n, out.data.begin() + r * n);
  return out;
}

Tensor PlainBackend::concat_last(const Tensor& a, const Tensor& b) const {
  if (a.shape.empty() || b.shape.size() != a.shape.size() || !std::equal(a.shape.begin(), a.shape.end() - 1, b.shape.begin()))
    fail("concat_last", "expects (..., N1) and (..., N2), got " + shape_str(a.shape) + " and " + shape_str(b.shape));
  const int64_t na = a.dim(-1), nb = b.dim(-1), rows = numel(Shape(a.shape.begin(), a.shape.end() - 1));
  Shape shape = a.shape;
  shape.back() = na + nb;
  Tensor out(shape);
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(a.data.begin() + r * na, na, out.data.begin() + r * (na + nb));
    std::copy_n(b.data.begin() + r * nb, nb, out.data.begin() + r * (na + nb) + na);
  }
  return out;
}

Tensor PlainBackend::sum_heads(const Tensor& x) const {
  if (x.shape.size() != 3) fail("sum_heads", "expects (H,T,C), got " + shape_str(x.shape));
  const int64_t h = x.dim(0), n = x.dim(1) * x.dim(2);
  Tensor out({x.dim(1), x.dim(2)});
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < n; ++j) out.data[size_t(j)] += x.data[size_t(i * n + j)];
  return out;
}

Tensor PlainBackend::max_groups(const Tensor& x, int64_t g) const {
  return reduce_groups("max_groups", x, g, [](float a, float b) { return std::max(a, b); });
}

Tensor PlainBackend::min_groups(const Tensor& x, int64_t g) const {
  return reduce_groups("min_groups", x, g, [](float a, float b) { return std::min(a, b); });
}

Tensor PlainBackend::cluster_scores(const Tensor& q, const Tensor& summaries) const { return matmul_nt(q, summaries); }

Tensor PlainBackend::topk_onehot(const Tensor& scores, int64_t k) const {
  if (scores.shape.size() != 3 || scores.dim(1) != 1 || k < 1 || k > scores.dim(2))
    fail("topk_onehot", "expects scores (B,1,N) and k in [1, N], got " + shape_str(scores.shape) + " and k = " +
                            std::to_string(k));
  const int64_t batches = scores.dim(0), n = scores.dim(2);
  Tensor out({batches, k, n});
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t b = 0; b < batches; ++b) {
    const float* s = scores.data.data() + b * n;
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [s](int64_t i, int64_t j) { return s[i] > s[j]; });
    std::sort(order.begin(), order.begin() + k);  // the k largest, by position
    for (int64_t r = 0; r < k; ++r) out.data[size_t((b * k + r) * n + order[size_t(r)])] = 1.0f;
  }
  return out;
}

Tensor PlainBackend::onehot_gather(const Tensor& onehot, const Tensor& x) const {
  if (onehot.shape.size() != 3 || x.shape.size() != 3)
    fail("onehot_gather", "expects one-hot (B,k,N) and x (B,N,C), got " + shape_str(onehot.shape) + " and " +
                              shape_str(x.shape));
  return matmul(onehot, x);
}

Tensor PlainBackend::onehot_scatter(const Tensor& onehot, const Tensor& y) const {
  if (onehot.shape.size() != 3 || y.shape.size() != 3 || onehot.dim(0) != y.dim(0) || onehot.dim(1) != y.dim(1))
    fail("onehot_scatter", "expects one-hot (B,k,N) and y (B,k,C), got " + shape_str(onehot.shape) + " and " +
                               shape_str(y.shape));
  const int64_t b = onehot.dim(0), k = onehot.dim(1), n = onehot.dim(2);
  Tensor t({b, n, k});  // one-hotᵀ
  for (int64_t i = 0; i < b; ++i)
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < n; ++j) t.data[size_t((i * n + j) * k + r)] = onehot.data[size_t((i * k + r) * n + j)];
  return matmul(t, y);
}

Tensor PlainBackend::kept_flags(const Tensor& votes, double threshold, const std::vector<int64_t>& forced) const {
  if (votes.shape.size() != 2) fail("kept_flags", "expects votes (W,T), got " + shape_str(votes.shape));
  const int64_t w = votes.dim(0), t = votes.dim(1);
  Tensor out({t});
  for (int64_t i = 0; i < w; ++i)
    for (int64_t j = 0; j < t; ++j)
      if (double(votes.data[size_t(i * t + j)]) >= threshold) out.data[size_t(j)] = 1.0f;
  for (int64_t j : forced) {
    if (j < 0 || j >= t) fail("kept_flags", "forced row " + std::to_string(j) + " outside 0.." + std::to_string(t - 1));
    out.data[size_t(j)] = 1.0f;
  }
  return out;
}

Tensor PlainBackend::union_flags(const Tensor& a, const Tensor& b) const {
  if (a.shape != b.shape) fail("union_flags", "shapes differ: " + shape_str(a.shape) + " and " + shape_str(b.shape));
  Tensor out(a.shape);
  for (size_t i = 0; i < a.size(); ++i) out.data[i] = std::max(a.data[i], b.data[i]);
  return out;
}

std::vector<int64_t> PlainBackend::reveal_kept_rows(const Tensor& flags) const {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < flags.size(); ++i)
    if (flags.data[i] > 0.5f) rows.push_back(int64_t(i));
  return rows;
}

std::vector<Tensor> PlainBackend::compact_kept_rows(const Tensor& flags, const std::vector<Tensor>& xs) const {
  const std::vector<int64_t> rows = reveal_kept_rows(flags);
  std::vector<Tensor> out;
  for (const Tensor& x : xs) {
    if (x.shape.size() < 2 || x.dim(-2) != int64_t(flags.size()))
      fail("compact_kept_rows", "expects (..., T, C) with T = " + std::to_string(flags.size()) + ", got " +
                                    shape_str(x.shape));
    out.push_back(select_rows(x, rows));
  }
  return out;
}

}  // namespace veil::nn
