#include "veil/nn/kv_quest.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace veil::nn {

QuestPolicy::QuestPolicy(const KvPolicyConfig& c, int64_t n_layer) : config_(c), layers_(size_t(n_layer)) {
  validate(c);
}

// Grows the summaries to `whole` pages. Layout: mins[(h·P + p)·D + j] with P the page capacity,
// rebuilt when it grows (cheap next to the attention itself).
void QuestPolicy::summarise(Layer& s, const PlainBackend::Tensor& k, int64_t whole) {
  if (whole <= s.pages) return;
  const int64_t heads = k.dim(0), tk = k.dim(1), d = k.dim(2), page = config_.page;
  std::vector<float> mins(static_cast<size_t>(heads * whole * d)), maxs(mins.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t p = 0; p < whole; ++p) {
      float* mn = mins.data() + (h * whole + p) * d;
      float* mx = maxs.data() + (h * whole + p) * d;
      if (p < s.pages) {
        std::copy_n(s.mins.data() + (h * s.pages + p) * d, d, mn);
        std::copy_n(s.maxs.data() + (h * s.pages + p) * d, d, mx);
        continue;
      }
      for (int64_t j = 0; j < d; ++j) mn[j] = INFINITY, mx[j] = -INFINITY;
      for (int64_t r = p * page; r < (p + 1) * page; ++r) {
        const float* kr = k.data.data() + (h * tk + r) * d;
        for (int64_t j = 0; j < d; ++j) mn[j] = std::min(mn[j], kr[j]), mx[j] = std::max(mx[j], kr[j]);
      }
    }
  s.mins = std::move(mins), s.maxs = std::move(maxs), s.pages = whole;
}

PlainBackend::Tensor QuestPolicy::attend(PlainBackend& be, int64_t l, const PlainBackend::Tensor& q,
                                         KvCache<PlainBackend>& cache, double scale) {
  const KvLayer<PlainBackend>& kv = cache.layer(l);
  Layer& s = layers_[size_t(l)];
  const int64_t rows = kv.k.dim(1), heads = q.dim(0), d = q.dim(2), page = config_.page;
  if (q.dim(1) > 1) return attend_all(be, q, kv, scale);
  const int64_t current = (rows - 1) / page;  // the page holding the newest row
  const int64_t allowed = budget_tokens(config_.budget, cache.next_position() + 1);
  const int64_t wanted = (allowed - (rows - current * page)) / page;
  if (wanted >= current) return attend_all(be, q, kv, scale);
  summarise(s, kv.k, current);
  std::vector<int64_t> all(static_cast<size_t>(current));
  std::iota(all.begin(), all.end(), 0);
  HeadRows rows_of(static_cast<size_t>(heads));
  s.last_pages.assign(size_t(heads), {});
  for (int64_t h = 0; h < heads; ++h) {
    std::vector<double> bound(static_cast<size_t>(current));
    const float* qh = q.data.data() + h * d;
    for (int64_t p = 0; p < current; ++p) {
      const float* mn = s.mins.data() + (h * s.pages + p) * d;
      const float* mx = s.maxs.data() + (h * s.pages + p) * d;
      double b = 0;
      for (int64_t j = 0; j < d; ++j) b += std::max(double(qh[j]) * mx[j], double(qh[j]) * mn[j]);
      bound[size_t(p)] = b;
    }
    s.last_pages[size_t(h)] = wanted > 0 ? top_rows(bound, all, wanted) : std::vector<int64_t>{};
    for (int64_t p : s.last_pages[size_t(h)])
      for (int64_t r = p * page; r < (p + 1) * page; ++r) rows_of[size_t(h)].push_back(r);
    for (int64_t r = current * page; r < rows; ++r) rows_of[size_t(h)].push_back(r);
  }
  return attend_head_rows(q, kv.k, kv.v, scale, rows_of);
}

}  // namespace veil::nn
