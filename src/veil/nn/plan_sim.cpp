#include "veil/nn/plan_sim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

#include "veil/fxp/quad_gelu.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/plan_weights.h"

namespace veil::nn {

namespace {

int ring_bits(Ring r) { return r == Ring::FM32 ? 32 : 64; }

double gelu_exact(double x, model::Activation act) {
  if (act == model::Activation::gelu_tanh)
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
}

SimTensor like(const SimTensor& x, Shape shape, int frac_bits) {
  SimTensor y;
  y.shape = std::move(shape);
  y.ring = x.ring;
  y.frac_bits = frac_bits;
  y.v.assign(size_t(numel(y.shape)), 0.0);
  return y;
}

}  // namespace

PlanSimBackend::PlanSimBackend(const Weights& weights, PrecisionPlan plan, int output_frac_bits)
    : plan_(std::move(plan)), output_frac_bits_(output_frac_bits) {
  std::vector<std::string> names;
  for (const auto& [name, _] : weights) names.push_back(name);
  check_plan_for_model(plan_, names, std::numeric_limits<int64_t>::max());
  const bool tied = !weights.count("lm_head.weight");
  for (const auto& [name, w] : weights)
    for (const WeightEncoding& e : weight_encodings(plan_, name, tied)) {
      SimTensor t;
      t.shape = w.shape, t.ring = e.ring, t.frac_bits = e.frac_bits, t.weight = name;
      t.v.resize(w.size());
      for (size_t i = 0; i < w.size(); ++i) t.v[i] = std::ldexp(double(encode_weight(double(w.data[i]), e)), -e.frac_bits);
      weights_[name].push_back(std::move(t));
    }
}

SimTensor PlanSimBackend::weight(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) throw std::out_of_range("plan simulation: no weight '" + name + "'");
  return it->second.front();
}

SimTensor PlanSimBackend::weight_on(const SimTensor& w, Ring r) const {
  if (w.ring == r || w.weight.empty()) return w;
  auto it = weights_.find(w.weight);
  if (it != weights_.end())
    for (const SimTensor& e : it->second)
      if (e.ring == r && e.shape == w.shape) return e;
  return w;
}

void PlanSimBackend::check_range(const SimTensor& x, const char* where) {
  const double lim = std::ldexp(1.0, x.ring == Ring::FM32 ? 30 : 62);
  for (double v : x.v)
    if (std::abs(std::ldexp(v, x.frac_bits)) > lim) {
      if (violations_++ == 0)
        first_violation_ = std::string(where) + ": " + std::to_string(v) + " on " + std::string(ring_name(x.ring)) +
                           " with " + std::to_string(x.frac_bits) + " fraction bits" +
                           (layer_ ? " (layer " + std::to_string(*layer_) + ")" : std::string());
      return;
    }
}

SimTensor PlanSimBackend::to(const SimTensor& x, Ring r, int f) {
  if (x.ring == r && x.frac_bits == f) {
    SimTensor y = x;
    y.weight.clear();
    return y;
  }
  if (x.ring == Ring::FM32 || x.frac_bits > f) check_range(x, "cast input");
  SimTensor y = x;
  y.weight.clear();
  y.ring = r, y.frac_bits = f;
  const double lim = std::ldexp(1.0, ring_bits(r) - 1);
  for (double& v : y.v) v = std::ldexp(std::clamp(std::nearbyint(std::ldexp(v, f)), -lim, lim - 1), -f);
  check_range(y, "cast output");
  return y;
}

SimTensor PlanSimBackend::rounded(SimTensor x, const OpFormat& f) {
  x.ring = f.ring, x.frac_bits = f.frac_bits;
  const double lim = std::ldexp(1.0, ring_bits(f.ring) - 1);
  for (double& v : x.v) v = std::ldexp(std::clamp(std::nearbyint(std::ldexp(v, f.frac_bits)), -lim, lim - 1), -f.frac_bits);
  return x;
}

SimTensor PlanSimBackend::gather(const SimTensor& x, const IndexMap& m) const {
  SimTensor y;
  y.shape = m.shape, y.ring = x.ring, y.frac_bits = x.frac_bits, y.weight = x.weight;
  y.v = apply_map(x.v, m);
  return y;
}

SimTensor PlanSimBackend::embed(const Tokens& ids, const SimTensor& table) {
  layer_.reset();
  const OpFormat& fmt = format(PlanOp::embedding);
  SimTensor w = weight_on(table, fmt.ring);
  const int64_t c = w.shape.at(1);
  SimTensor z = like(w, {int64_t(ids.size()), c}, w.frac_bits);
  z.ring = fmt.ring;
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t j = 0; j < c; ++j) z.v[t * size_t(c) + size_t(j)] = w.v.at(size_t(ids[t]) * size_t(c) + size_t(j));
  return to(z, fmt.ring, fmt.frac_bits);
}

SimTensor PlanSimBackend::product(const SimTensor& a, const SimTensor& b, bool tr) {
  const bool weighted = !b.weight.empty();
  PlanOp op = PlanOp::attention;
  if (weighted) {
    op = is_head_weight(b.weight) ? PlanOp::lm_head : PlanOp::linear;
    layer_ = layer_of(b.weight);
  }
  const OpFormat& fmt = format(op);
  // As DittoBackend: q·kᵀ of operands on the linear layers' grid runs on FM32, exactly.
  const int f_lin = format(PlanOp::linear).frac_bits;
  const bool scores_on_fm32 = !weighted && attention_above_linear_ring() && a.ring == Ring::FM64 &&
                              b.ring == Ring::FM64 && a.frac_bits <= f_lin && b.frac_bits <= f_lin &&
                              a.frac_bits + b.frac_bits <= kMaxFm32ScoreFracBits;
  SimTensor x = scores_on_fm32 ? a : to(a, fmt.ring, fmt.frac_bits);
  SimTensor y = scores_on_fm32 ? b : weighted ? weight_on(b, fmt.ring) : to(b, fmt.ring, fmt.frac_bits);
  if (scores_on_fm32) x.ring = y.ring = Ring::FM32;
  if (y.ring != x.ring) y = to(y, x.ring, std::min(y.frac_bits, ring_bits(x.ring) - 2));
  const bool batched = y.shape.size() == 3;
  const int64_t batches = batched ? x.shape[0] : 1;
  const int64_t k = x.shape.back(), m = numel(x.shape) / (k * batches);
  const int64_t n = tr ? y.shape[y.shape.size() - 2] : y.shape.back();
  const int64_t yk = tr ? y.shape.back() : y.shape[y.shape.size() - 2];
  if (yk != k) throw std::invalid_argument("plan simulation: cannot multiply " + shape_str(x.shape) + " by " + shape_str(y.shape));
  Shape out = x.shape;
  out.back() = n;
  SimTensor z = like(x, out, x.frac_bits + y.frac_bits);
  for (int64_t bi = 0; bi < batches; ++bi) {
    const double* xb = x.v.data() + bi * m * k;
    const double* yb = y.v.data() + (batched ? bi * k * n : 0);
    double* zb = z.v.data() + bi * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < k; ++p) {
        const double xv = xb[i * k + p];
        for (int64_t j = 0; j < n; ++j) zb[i * n + j] += xv * (tr ? yb[j * k + p] : yb[p * n + j]);
      }
  }
  if (scores_on_fm32) check_range(z, "q·kᵀ on FM32");
  return z;
}

bool PlanSimBackend::attention_above_linear_ring() const {
  return format(PlanOp::attention).ring == Ring::FM64 && format(PlanOp::linear).ring == Ring::FM32;
}

SimTensor PlanSimBackend::matmul(const SimTensor& a, const SimTensor& b) { return product(a, b, false); }
SimTensor PlanSimBackend::matmul_nt(const SimTensor& a, const SimTensor& b) { return product(a, b, true); }

SimTensor PlanSimBackend::add(const SimTensor& a, const SimTensor& b) {
  const OpFormat& emb = format(PlanOp::embedding);
  auto lookup = [&](const SimTensor& t) { return t.weight.empty() ? t : to(t, emb.ring, emb.frac_bits); };
  const OpFormat& fmt = format(PlanOp::residual);
  SimTensor x = to(lookup(a), fmt.ring, fmt.frac_bits);
  const SimTensor y = to(lookup(b), fmt.ring, fmt.frac_bits);
  for (size_t i = 0; i < x.v.size(); ++i) x.v[i] += y.v.at(i);
  return x;
}

SimTensor PlanSimBackend::add_bias(const SimTensor& x, const SimTensor& bias) {
  if (!bias.weight.empty()) layer_ = layer_of(bias.weight);
  const SimTensor b = to(weight_on(bias, x.ring), x.ring, x.frac_bits);
  const int64_t n = b.shape.at(0);
  SimTensor y = x;
  y.weight.clear();
  for (size_t i = 0; i < y.v.size(); ++i) y.v[i] += b.v[i % size_t(n)];
  return y;
}

SimTensor PlanSimBackend::scale(const SimTensor& x, double c) {
  int e = 0;
  const double m = std::frexp(std::abs(c), &e);
  SimTensor y = x;
  y.weight.clear();
  if (c != 0 && m == 0.5) {
    for (double& v : y.v) v *= c;
    y.frac_bits += std::max(1 - e, 0);
    return y;
  }
  const OpFormat& fmt = format(PlanOp::attention);
  y = to(y, fmt.ring, std::min(y.frac_bits, fmt.frac_bits));
  const double ce = std::ldexp(std::nearbyint(std::ldexp(c, fmt.frac_bits)), -fmt.frac_bits);
  for (double& v : y.v) v *= ce;
  y.frac_bits += fmt.frac_bits;
  return y;
}

SimTensor PlanSimBackend::layernorm(const SimTensor& x, const SimTensor& gamma, const SimTensor& beta, double eps) {
  if (!gamma.weight.empty()) layer_ = layer_of(gamma.weight);
  const OpFormat& fmt = format(PlanOp::layernorm);
  SimTensor y = to(x, fmt.ring, fmt.frac_bits);
  const SimTensor g = to(weight_on(gamma, fmt.ring), fmt.ring, fmt.frac_bits);
  const SimTensor b = to(weight_on(beta, fmt.ring), fmt.ring, fmt.frac_bits);
  const size_t c = size_t(y.shape.back());
  for (size_t r = 0; r < y.v.size() / c; ++r) {
    double* row = y.v.data() + r * c;
    double mean = 0, var = 0;
    for (size_t j = 0; j < c; ++j) mean += row[j] / double(c);
    for (size_t j = 0; j < c; ++j) var += (row[j] - mean) * (row[j] - mean) / double(c);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (size_t j = 0; j < c; ++j) row[j] = (row[j] - mean) * inv * g.v[j] + b.v[j];
  }
  return rounded(std::move(y), fmt);
}

SimTensor PlanSimBackend::activation(const SimTensor& x, model::Activation act) {
  if (act != model::Activation::gelu_erf && act != model::Activation::gelu_tanh)
    throw std::invalid_argument("plan simulation: a precision plan covers GeLU activations only");
  const OpFormat& fmt = format(PlanOp::gelu);
  SimTensor y = to(x, fmt.ring, fmt.frac_bits);
  if (fmt.approx == GeluApprox::quad) {
    for (double& v : y.v) v = fxp::quad_gelu_ref(v, fmt.frac_bits);
    return y;
  }
  for (double& v : y.v) v = gelu_exact(v, act);
  return rounded(std::move(y), fmt);
}

SimTensor PlanSimBackend::tanh(const SimTensor& x) {
  const OpFormat& fmt = format(PlanOp::tanh);
  SimTensor y = to(x, fmt.ring, fmt.frac_bits);
  for (double& v : y.v) v = std::tanh(v);
  return rounded(std::move(y), fmt);
}

SimTensor PlanSimBackend::softmax(const SimTensor& x, bool causal) {
  const OpFormat& fmt = format(PlanOp::softmax);
  SimTensor y = to(x, fmt.ring, fmt.frac_bits);
  const size_t tk = size_t(y.shape.back()), tq = y.shape.size() >= 2 ? size_t(y.shape[y.shape.size() - 2]) : 1;
  for (size_t r = 0; r < y.v.size() / tk; ++r) {
    double* row = y.v.data() + r * tk;
    const size_t q = r % tq, last = causal ? q + (tk - tq) : tk - 1;  // keys 0..last are visible
    double mx = row[0], sum = 0;
    for (size_t j = 0; j <= last; ++j) mx = std::max(mx, row[j]);
    for (size_t j = 0; j < tk; ++j) sum += j <= last ? std::exp(row[j] - mx) : 0.0;
    for (size_t j = 0; j < tk; ++j) row[j] = j <= last ? std::exp(row[j] - mx) / sum : 0.0;
  }
  return rounded(std::move(y), fmt);
}

// As DittoBackend::attend: with N > D, e = exp(x − max) and r = 1/Σe on the softmax's grid,
// then (e·v)·r on the attention's grid.
SimTensor PlanSimBackend::attend(const SimTensor& scores, const SimTensor& v, bool causal) {
  const OpFormat& fmt = format(PlanOp::softmax);
  const size_t tk = size_t(scores.shape.back()), d = size_t(v.shape.back());
  if (tk <= d || fmt.ring != Ring::FM64 || format(PlanOp::attention).ring != Ring::FM64) return matmul(softmax(scores, causal), v);
  SimTensor e = to(scores, fmt.ring, fmt.frac_bits);
  const size_t tq = e.shape.size() >= 2 ? size_t(e.shape[e.shape.size() - 2]) : 1;
  auto on_grid = [&](double x) { return std::ldexp(std::nearbyint(std::ldexp(x, fmt.frac_bits)), -fmt.frac_bits); };
  std::vector<double> r(e.v.size() / tk);
  for (size_t row = 0; row < r.size(); ++row) {
    double* x = e.v.data() + row * tk;
    const size_t q = row % tq, last = causal ? q + (tk - tq) : tk - 1;  // keys 0..last are visible
    double mx = x[0], sum = 0;
    for (size_t j = 0; j <= last; ++j) mx = std::max(mx, x[j]);
    for (size_t j = 0; j < tk; ++j) sum += x[j] = j <= last ? on_grid(std::exp(x[j] - mx)) : 0.0;
    r[row] = on_grid(1.0 / sum);
  }
  SimTensor y = product(e, v, false);
  for (size_t i = 0; i < y.v.size(); ++i) y.v[i] *= r[i / d];
  y.frac_bits += fmt.frac_bits;
  return rounded(std::move(y), format(PlanOp::attention));  // the fused truncation
}

SimTensor PlanSimBackend::split_heads(const SimTensor& x, int64_t heads) {
  const OpFormat& fmt = format(PlanOp::attention);
  const int f = attention_above_linear_ring() ? std::min(fmt.frac_bits, format(PlanOp::linear).frac_bits) : fmt.frac_bits;
  const SimTensor y = to(x, fmt.ring, f);
  return gather(y, split_heads_map(y.shape, heads));
}
SimTensor PlanSimBackend::merge_heads(const SimTensor& x) { return gather(x, merge_heads_map(x.shape)); }
SimTensor PlanSimBackend::slice_cols(const SimTensor& x, int64_t begin, int64_t n) {
  return gather(x, slice_cols_map(x.shape, begin, n));
}
SimTensor PlanSimBackend::slice_rows(const SimTensor& x, int64_t begin, int64_t n) {
  std::vector<int64_t> rows(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = begin + i;
  return select_rows(x, rows);
}
SimTensor PlanSimBackend::select_rows(const SimTensor& x, const std::vector<int64_t>& rows) {
  return gather(x, select_rows_map(x.shape, rows));
}
SimTensor PlanSimBackend::concat_rows(const SimTensor& a, const SimTensor& b) {
  const SimTensor bb = to(b, a.ring, a.frac_bits);
  std::vector<double> both = a.v;
  both.insert(both.end(), bb.v.begin(), bb.v.end());
  SimTensor y;
  const IndexMap m = concat_rows_map(a.shape, b.shape);
  y.shape = m.shape, y.ring = a.ring, y.frac_bits = a.frac_bits, y.v = apply_map(both, m);
  return y;
}

PlanSimBackend::Tokens PlanSimBackend::argmax(const SimTensor& logits) const {
  const size_t n = size_t(logits.shape.back());
  Tokens out;
  for (size_t r = 0; r < logits.v.size() / n; ++r) {
    const auto row = logits.v.begin() + std::ptrdiff_t(r * n);
    out.push_back(int32_t(std::max_element(row, row + std::ptrdiff_t(n)) - row));
  }
  return out;
}

veil::Tensor<float> PlanSimBackend::reveal_to_client(const SimTensor& x) {
  const SimTensor y = to(x, Ring::FM64, output_frac_bits_);
  veil::Tensor<float> out(y.shape);
  for (size_t i = 0; i < y.v.size(); ++i) out.data[i] = float(y.v[i]);
  return out;
}

}  // namespace veil::nn
