#include "veil/nn/kv_snapkv.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace veil::nn {

SnapKvPolicy::SnapKvPolicy(const KvPolicyConfig& c, int64_t n_layer) : config_(c), layers_(size_t(n_layer)) {
  validate(c);
}

std::vector<double> max_pool(const std::vector<double>& votes, int64_t n, int64_t pool) {
  std::vector<double> out(static_cast<size_t>(n));
  const int64_t half = pool / 2;
  for (int64_t j = 0; j < n; ++j) {
    double m = votes[size_t(j)];
    for (int64_t i = std::max<int64_t>(0, j - half); i <= std::min(n - 1, j + half); ++i) m = std::max(m, votes[size_t(i)]);
    out[size_t(j)] = m;
  }
  return out;
}

PlainBackend::Tensor SnapKvPolicy::attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q,
                                          KvCache<PlainBackend>& cache, double scale) {
  const KvLayer<PlainBackend>& kv = cache.layer(l);
  Layer& s = layers_[size_t(l)];
  const int64_t t = q.dim(1), rows = kv.k.dim(1), heads = q.dim(0);
  if (t > 1) {
    if (rows != t) throw std::logic_error("SnapKV: a multi-token pass after the prefill is not supported");
    auto [p, y] = attend_rows_with_probs(be, q, kv.k, kv.v, scale);
    const int64_t w = std::min(config_.snap_window, t);
    const int64_t keep = budget_tokens(config_.budget, t + 1) - 1;
    const std::vector<std::vector<double>> votes = attention_received(p, t - w);
    std::vector<int64_t> prefix(static_cast<size_t>(t - w));
    std::iota(prefix.begin(), prefix.end(), 0);
    s.alive.assign(size_t(heads), {});
    s.snapped.assign(size_t(heads), {});
    for (int64_t h = 0; h < heads; ++h) {
      std::vector<int64_t>& a = s.alive[size_t(h)];
      if (keep >= t) {
        a.resize(size_t(t));
        std::iota(a.begin(), a.end(), 0);
        continue;
      }
      const int64_t from_window = std::min(w, keep);
      s.snapped[size_t(h)] = top_rows(max_pool(votes[size_t(h)], t - w, config_.pool), prefix, keep - from_window);
      a = s.snapped[size_t(h)];
      for (int64_t j = t - from_window; j < t; ++j) a.push_back(j);
    }
    return y;
  }
  for (auto& a : s.alive) a.push_back(rows - 1);
  return attend_head_rows(q, kv.k, kv.v, scale, s.alive);
}

void SnapKvPolicy::end_pass(PlainBackend&, KvCache<PlainBackend>& cache, int64_t) {
  const int64_t keep = budget_tokens(config_.budget, cache.next_position() + 1) - 1;
  for (Layer& s : layers_)
    for (size_t h = 0; h < s.alive.size(); ++h) {
      std::vector<int64_t>& a = s.alive[h];
      if (int64_t(a.size()) <= keep) continue;
      const std::vector<int64_t>& snap = s.snapped[h];
      const int64_t n_snap = std::min<int64_t>(int64_t(snap.size()), keep);
      std::vector<int64_t> kept(snap.begin(), snap.begin() + n_snap);
      const int64_t recent = keep - n_snap;  // the newest rows that are not snapped
      std::vector<int64_t> rest;
      for (int64_t r : a)
        if (!std::binary_search(snap.begin(), snap.end(), r)) rest.push_back(r);
      kept.insert(kept.end(), rest.end() - std::min<int64_t>(recent, int64_t(rest.size())), rest.end());
      std::sort(kept.begin(), kept.end());
      a = std::move(kept);
    }
}

}  // namespace veil::nn
