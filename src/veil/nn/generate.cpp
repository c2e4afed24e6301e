#include "veil/nn/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace veil::nn {

int32_t sample_token(std::span<const float> logits, const SamplingOptions& opt, std::mt19937_64& rng) {
  if (logits.empty()) throw std::invalid_argument("sample_token: no logits");
  if (opt.temperature < 0 || opt.top_k < 0)
    throw std::invalid_argument("sample_token: temperature and top_k must be >= 0");
  if (opt.temperature == 0) return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());

  // Candidates by decreasing logit (stable: lower index first on ties), cut to top_k.
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
  if (opt.top_k > 0 && opt.top_k < int64_t(ids.size())) ids.resize(size_t(opt.top_k));

  std::vector<double> cumulative(ids.size());
  const double top = logits[size_t(ids[0])];
  double sum = 0;
  for (size_t i = 0; i < ids.size(); ++i)
    cumulative[i] = sum += std::exp((double(logits[size_t(ids[i])]) - top) / opt.temperature);
  // u uniform in [0, sum): 53 random bits, so a seed gives the same draw on every platform.
  const double u = double(rng() >> 11) * 0x1.0p-53 * sum;
  const size_t pick = size_t(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
  return ids[std::min(pick, ids.size() - 1)];
}

}  // namespace veil::nn
