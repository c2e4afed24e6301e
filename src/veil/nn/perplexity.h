// Perplexity of GPT-2 on a token sequence: exp of the mean negative log-likelihood of each
// token given the tokens before it, over non-overlapping windows of `context` tokens (the first
// token of each window has no prefix and is not scored). The logits go to the client, which
// scores them.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/nn/backend.h"
#include "veil/nn/gpt2.h"

namespace veil::nn {

struct PerplexityResult {
  double nll_sum = 0;  // Σ −ln p(token | prefix), natural log
  int64_t scored = 0;  // tokens scored
  double perplexity() const { return std::exp(nll_sum / double(scored)); }
};

// The non-overlapping windows of `context` tokens the perplexity is taken over (the last may be
// shorter; one of a single token, which scores nothing, is left out). Throws std::invalid_argument
// for a context outside 2..n_positions or fewer than 2 tokens.
inline std::vector<std::vector<int32_t>> perplexity_windows(const std::vector<int32_t>& ids, int64_t context,
                                                            int64_t n_positions) {
  if (context < 2 || context > n_positions)
    throw std::invalid_argument("perplexity: the context must be 2.." + std::to_string(n_positions) + " tokens, got " +
                                std::to_string(context));
  if (ids.size() < 2) throw std::invalid_argument("perplexity: the text must have at least 2 tokens");
  std::vector<std::vector<int32_t>> out;
  for (size_t begin = 0; begin + 1 < ids.size(); begin += size_t(context)) {
    const size_t end = std::min(ids.size(), begin + size_t(context));
    out.emplace_back(ids.begin() + int64_t(begin), ids.begin() + int64_t(end));
  }
  return out;
}

// Adds −ln p(window[t+1]) under row t of `logits` (T,V) for every t < T − 1.
inline void score_window(const Tensor<float>& logits, const std::vector<int32_t>& window, PerplexityResult& r) {
  const int64_t v = logits.dim(1);
  for (size_t t = 0; t + 1 < window.size(); ++t) {
    const float* row = logits.data.data() + int64_t(t) * v;
    const double top = *std::max_element(row, row + v);
    double sum = 0;
    for (int64_t j = 0; j < v; ++j) sum += std::exp(double(row[j]) - top);
    r.nll_sum += top + std::log(sum) - double(row[window[t + 1]]);
    ++r.scored;
  }
}

template <Backend B>
PerplexityResult perplexity(B& be, Gpt2<B>& model, const std::vector<int32_t>& ids, int64_t context) {
  PerplexityResult r;
  for (const std::vector<int32_t>& window : perplexity_windows(ids, context, model.config().n_positions)) {
    auto cache = model.new_cache();
    score_window(be.reveal_to_client(model.logits(model.hidden(be.input_tokens(window), cache))), window, r);  // (T,V)
  }
  return r;
}

}  // namespace veil::nn
