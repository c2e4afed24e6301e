#include "veil/nn/plain_backend.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>

// GCC 12 reports false -Wmaybe-uninitialized inside Eigen's AVX-512 transpose kernels.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>

namespace veil::nn {

namespace {

using Tensor = PlainBackend::Tensor;
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;

[[noreturn]] void fail(const std::string& op, const std::string& what) {
  throw std::invalid_argument("PlainBackend::" + op + ": " + what);
}

std::string shapes(const Tensor& a, const Tensor& b) {
  return shape_str(a.shape) + " and " + shape_str(b.shape);
}

// Leading axes folded into one: (..., R, C) -> R' = numel / C rows of C.
int64_t rows_of(const Tensor& x) { return x.shape.empty() ? 1 : int64_t(x.size()) / x.dim(-1); }

// Shared driver of matmul and matmul_nt. b_rows_k: b is (.., K, N) (true) or (.., N, K) (false).
Tensor batched_matmul(const std::string& op, const Tensor& a, const Tensor& b, bool b_rows_k) {
  const size_t ra = a.shape.size(), rb = b.shape.size();
  if ((ra != 2 && ra != 3) || (rb != 2 && rb != 3) || (rb == 3 && ra != 3) ||
      (rb == 3 && a.dim(0) != b.dim(0)))
    fail(op, "expects a (M,K) or (B,M,K) and b 2-D or (B,..) with the same B, got " + shapes(a, b));
  const int64_t k = a.dim(-1);
  const int64_t bk = b_rows_k ? b.dim(-2) : b.dim(-1);
  const int64_t n = b_rows_k ? b.dim(-1) : b.dim(-2);
  if (k != bk) fail(op, "inner sizes differ: " + shapes(a, b));
  // A 2-D b is shared by every batch: fold a's batch into its rows.
  const int64_t batches = rb == 3 ? a.dim(0) : 1;
  const int64_t m = rb == 3 ? a.dim(1) : rows_of(a);
  Shape out_shape = a.shape;
  out_shape.back() = n;
  Tensor out(out_shape);
  for (int64_t i = 0; i < batches; ++i) {
    ConstMatrixMap am(a.data.data() + i * m * k, m, k);
    MatrixMap om(out.data.data() + i * m * n, m, n);
    const float* bp = b.data.data() + (rb == 3 ? i * k * n : 0);
    if (b_rows_k)
      om.noalias() = am * ConstMatrixMap(bp, k, n);
    else
      om.noalias() = am * ConstMatrixMap(bp, n, k).transpose();
  }
  return out;
}

template <class F>
Tensor map(const Tensor& x, F f) {
  Tensor out(x.shape);
  std::transform(x.data.begin(), x.data.end(), out.data.begin(), f);
  return out;
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

}  // namespace

PlainBackend::PlainBackend(std::map<std::string, Tensor> weights) : weights_(std::move(weights)) {}

Tensor PlainBackend::weight(const std::string& name) const {
  const auto it = weights_.find(name);
  if (it == weights_.end()) fail("weight", "the checkpoint has no tensor '" + name + "'");
  return it->second;
}

Tensor PlainBackend::embed(const Tokens& ids, const Tensor& table) const {
  if (table.shape.size() != 2) fail("embed", "table must be (V,C), got " + shape_str(table.shape));
  const int64_t vocab = table.dim(0), c = table.dim(1);
  Tensor out({int64_t(ids.size()), c});
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || ids[t] >= vocab)
      fail("embed", "token id " + std::to_string(ids[t]) + " is outside the vocabulary 0.." +
                        std::to_string(vocab - 1));
    std::copy_n(table.data.begin() + ids[t] * c, c, out.data.begin() + int64_t(t) * c);
  }
  return out;
}

Tensor PlainBackend::matmul(const Tensor& a, const Tensor& b) const {
  return batched_matmul("matmul", a, b, true);
}

Tensor PlainBackend::matmul_nt(const Tensor& a, const Tensor& b) const {
  return batched_matmul("matmul_nt", a, b, false);
}

Tensor PlainBackend::add(const Tensor& a, const Tensor& b) const {
  if (a.shape != b.shape) fail("add", "shapes differ: " + shapes(a, b));
  Tensor out(a.shape);
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

Tensor PlainBackend::add_bias(const Tensor& x, const Tensor& bias) const {
  if (bias.shape.size() != 1 || x.shape.empty() || bias.dim(0) != x.dim(-1))
    fail("add_bias", "expects x (..., N) and bias (N), got " + shapes(x, bias));
  Tensor out = x;
  const size_t n = bias.size();
  for (size_t i = 0; i < out.size(); ++i) out[i] += bias[i % n];
  return out;
}

Tensor PlainBackend::scale(const Tensor& x, double c) const {
  return map(x, [c](float v) { return float(v * c); });
}

Tensor PlainBackend::layernorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) const {
  if (x.shape.empty() || gamma.shape != Shape{x.dim(-1)} || beta.shape != gamma.shape)
    fail("layernorm", "expects x (..., C), gamma (C), beta (C), got " + shape_str(x.shape) + ", " +
                          shape_str(gamma.shape) + ", " + shape_str(beta.shape));
  const int64_t c = x.dim(-1);
  Tensor out(x.shape);
  for (int64_t r = 0; r < rows_of(x); ++r) {
    const float* in = x.data.data() + r * c;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < c; ++j) mean += in[j];
    mean /= double(c);
    for (int64_t j = 0; j < c; ++j) var += (in[j] - mean) * (in[j] - mean);
    const double inv = 1.0 / std::sqrt(var / double(c) + eps);
    for (int64_t j = 0; j < c; ++j)
      out.data[size_t(r * c + j)] = float((in[j] - mean) * inv * gamma[size_t(j)] + beta[size_t(j)]);
  }
  return out;
}

Tensor PlainBackend::activation(const Tensor& x, model::Activation act) const {
  using model::Activation;
  switch (act) {
    case Activation::gelu_erf:
      return map(x, [](float v) { return 0.5f * v * (1.0f + std::erf(v * float(std::numbers::sqrt2 / 2))); });
    case Activation::gelu_tanh: {
      const float k = float(std::sqrt(2.0 / std::numbers::pi));
      return map(x, [k](float v) { return 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v))); });
    }
    case Activation::quick_gelu:
      return map(x, [](float v) { return v * sigmoid(1.702f * v); });
    case Activation::relu:
      return map(x, [](float v) { return std::max(v, 0.0f); });
    case Activation::silu:
      return map(x, [](float v) { return v * sigmoid(v); });
  }
  fail("activation", "unknown activation " + std::to_string(int(act)));
}

Tensor PlainBackend::tanh(const Tensor& x) const {
  return map(x, [](float v) { return std::tanh(v); });
}

Tensor PlainBackend::softmax(const Tensor& x, bool causal) const {
  if (x.shape.empty() || (causal && x.shape.size() < 2))
    fail("softmax", "expects x (..., N) (causal: (..., Tq, Tk)), got " + shape_str(x.shape));
  const int64_t n = x.dim(-1);
  const int64_t tq = causal ? x.dim(-2) : 1;
  if (causal && tq > n) fail("softmax", "more queries than keys: " + shape_str(x.shape));
  Tensor out(x.shape);
  for (int64_t r = 0; r < rows_of(x); ++r) {
    // Query r % tq sees keys 0 .. r % tq + (n − tq).
    const int64_t visible = causal ? r % tq + (n - tq) + 1 : n;
    const float* in = x.data.data() + r * n;
    float* o = out.data.data() + r * n;
    const float m = *std::max_element(in, in + visible);
    double sum = 0;
    for (int64_t j = 0; j < visible; ++j) sum += o[j] = std::exp(in[j] - m);
    const auto inv = float(1.0 / sum);
    for (int64_t j = 0; j < visible; ++j) o[j] *= inv;
  }
  return out;
}

Tensor PlainBackend::split_heads(const Tensor& x, int64_t heads) const {
  if (x.shape.size() != 2 || heads <= 0 || x.dim(1) % heads != 0)
    fail("split_heads", "expects (T, H·D) with H = " + std::to_string(heads) + ", got " + shape_str(x.shape));
  const int64_t t = x.dim(0), d = x.dim(1) / heads;
  Tensor out({heads, t, d});
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < t; ++i)
      std::copy_n(x.data.begin() + i * heads * d + h * d, d, out.data.begin() + (h * t + i) * d);
  return out;
}

Tensor PlainBackend::merge_heads(const Tensor& x) const {
  if (x.shape.size() != 3) fail("merge_heads", "expects (H,T,D), got " + shape_str(x.shape));
  const int64_t heads = x.dim(0), t = x.dim(1), d = x.dim(2);
  Tensor out({t, heads * d});
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < t; ++i)
      std::copy_n(x.data.begin() + (h * t + i) * d, d, out.data.begin() + i * heads * d + h * d);
  return out;
}

Tensor PlainBackend::slice_cols(const Tensor& x, int64_t begin, int64_t n) const {
  if (x.shape.size() != 2 || begin < 0 || n < 0 || begin + n > x.dim(1))
    fail("slice_cols", "columns [" + std::to_string(begin) + ", " + std::to_string(begin + n) +
                           ") of " + shape_str(x.shape));
  const int64_t t = x.dim(0), c = x.dim(1);
  Tensor out({t, n});
  for (int64_t i = 0; i < t; ++i) std::copy_n(x.data.begin() + i * c + begin, n, out.data.begin() + i * n);
  return out;
}

Tensor PlainBackend::slice_rows(const Tensor& x, int64_t begin, int64_t n) const {
  if (x.shape.size() < 2 || begin < 0 || n < 0 || begin + n > x.dim(-2))
    fail("slice_rows", "rows [" + std::to_string(begin) + ", " + std::to_string(begin + n) + ") of " +
                           shape_str(x.shape));
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), begin);
  return select_rows(x, rows);
}

Tensor PlainBackend::select_rows(const Tensor& x, const std::vector<int64_t>& rows) const {
  if (x.shape.size() < 2) fail("select_rows", "expects (..., T, C), got " + shape_str(x.shape));
  const int64_t t = x.dim(-2), c = x.dim(-1), outer = int64_t(x.size()) / (t * c);
  for (int64_t r : rows)
    if (r < 0 || r >= t) fail("select_rows", "row " + std::to_string(r) + " of " + shape_str(x.shape));
  Shape shape = x.shape;
  shape[shape.size() - 2] = int64_t(rows.size());
  Tensor out(shape);
  auto o = out.data.begin();
  for (int64_t b = 0; b < outer; ++b)
    for (int64_t r : rows) o = std::copy_n(x.data.begin() + (b * t + r) * c, c, o);
  return out;
}

Tensor PlainBackend::concat_rows(const Tensor& a, const Tensor& b) const {
  const size_t rank = a.shape.size();
  if (rank < 2 || b.shape.size() != rank || !std::equal(a.shape.begin(), a.shape.end() - 2, b.shape.begin()) ||
      a.dim(-1) != b.dim(-1))
    fail("concat_rows", "expects (..., T1, C) and (..., T2, C), got " + shapes(a, b));
  const int64_t ta = a.dim(-2), tb = b.dim(-2), c = a.dim(-1), outer = int64_t(a.size()) / (ta * c);
  Shape shape = a.shape;
  shape[rank - 2] = ta + tb;
  Tensor out(shape);
  auto o = out.data.begin();
  for (int64_t i = 0; i < outer; ++i) {
    o = std::copy_n(a.data.begin() + i * ta * c, ta * c, o);
    o = std::copy_n(b.data.begin() + i * tb * c, tb * c, o);
  }
  return out;
}

PlainBackend::Tokens PlainBackend::argmax(const Tensor& logits) const {
  if (logits.shape.size() != 2) fail("argmax", "expects logits (R,V), got " + shape_str(logits.shape));
  const int64_t v = logits.dim(1);
  Tokens out;
  for (int64_t r = 0; r < logits.dim(0); ++r) {
    const auto row = logits.data.begin() + r * v;
    out.push_back(int32_t(std::max_element(row, row + v) - row));
  }
  return out;
}

}  // namespace veil::nn
