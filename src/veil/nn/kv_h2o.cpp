#include "veil/nn/kv_h2o.h"

#include <numeric>
#include <stdexcept>

namespace veil::nn {

H2oPolicy::H2oPolicy(const KvPolicyConfig& c, int64_t n_layer) : config_(c), layers_(size_t(n_layer)) { validate(c); }

PlainBackend::Tensor H2oPolicy::attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q,
                                       KvCache<PlainBackend>& cache, double scale) {
  const KvLayer<PlainBackend>& kv = cache.layer(l);
  Layer& s = layers_[size_t(l)];
  const int64_t t = q.dim(1), rows = kv.k.dim(1), heads = q.dim(0);
  if (t > 1) {
    if (rows != t) throw std::logic_error("H2O: a multi-token pass after the prefill is not supported");
    auto [p, y] = attend_rows_with_probs(be, q, kv.k, kv.v, scale);
    s.acc = attention_received(p);
    s.alive.assign(size_t(heads), std::vector<int64_t>(size_t(rows)));
    for (auto& a : s.alive) std::iota(a.begin(), a.end(), 0);
    return y;
  }
  std::vector<std::vector<float>> probs;
  for (auto& a : s.alive) a.push_back(rows - 1);
  PlainBackend::Tensor y = attend_head_rows(q, kv.k, kv.v, scale, s.alive, &probs);
  for (int64_t h = 0; h < heads; ++h) {
    s.acc[size_t(h)].resize(size_t(rows), 0.0);
    const auto& a = s.alive[size_t(h)];
    for (size_t i = 0; i < a.size(); ++i) s.acc[size_t(h)][size_t(a[i])] += probs[size_t(h)][i];
  }
  return y;
}

void H2oPolicy::end_pass(PlainBackend&, KvCache<PlainBackend>& cache, int64_t) {
  const int64_t keep = budget_tokens(config_.budget, cache.next_position() + 1) - 1;
  for (Layer& s : layers_)
    for (size_t h = 0; h < s.alive.size(); ++h) {
      std::vector<int64_t>& a = s.alive[h];
      if (int64_t(a.size()) <= keep) continue;
      const int64_t recent = keep / 2;
      const std::vector<int64_t> older(a.begin(), a.end() - recent);
      std::vector<int64_t> kept = top_rows(s.acc[h], older, keep - recent);
      kept.insert(kept.end(), a.end() - recent, a.end());
      a = std::move(kept);
    }
}

}  // namespace veil::nn
