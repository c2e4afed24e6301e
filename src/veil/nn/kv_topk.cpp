#include "veil/nn/kv_topk.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace veil::nn {

TopKPolicy::TopKPolicy(const KvPolicyConfig& c) : config_(c) { validate(c); }

PlainBackend::Tensor TopKPolicy::attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q,
                                        KvCache<PlainBackend>& cache, double scale) {
  const KvLayer<PlainBackend>& kv = cache.layer(l);
  const int64_t rows = kv.k.dim(1), heads = q.dim(0), d = q.dim(2);
  if (q.dim(1) > 1) return attend_all(be, q, kv, scale);
  const int64_t allowed = budget_tokens(config_.budget, cache.next_position() + 1);
  if (allowed >= rows) return attend_all(be, q, kv, scale);
  std::vector<int64_t> all(static_cast<size_t>(rows));
  std::iota(all.begin(), all.end(), 0);
  last_rows_.assign(size_t(heads), {});
  std::vector<double> score(static_cast<size_t>(rows));
  for (int64_t h = 0; h < heads; ++h) {
    const float* qh = q.data.data() + h * d;
    for (int64_t r = 0; r < rows; ++r) {
      const float* kr = kv.k.data.data() + (h * rows + r) * d;
      double dot = 0;
      for (int64_t j = 0; j < d; ++j) dot += double(qh[j]) * kr[j];
      score[size_t(r)] = dot * scale;
    }
    last_rows_[size_t(h)] = top_rows(score, all, allowed);
    const double top = *std::max_element(score.begin(), score.end());
    double total = 0, chosen = 0;
    for (double x : score) total += std::exp(x - top);
    for (int64_t r : last_rows_[size_t(h)]) chosen += std::exp(score[size_t(r)] - top);
    mass_ += chosen / total, ++choices_;
  }
  return attend_head_rows(q, kv.k, kv.v, scale, last_rows_);
}

}  // namespace veil::nn
