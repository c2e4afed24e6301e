// Per-head row subsets for the plaintext baselines (H2O, SnapKV, Quest), which choose their
// tokens head by head: every head attends to its own rows of the same cache. The cache keeps all
// rows; a head's evicted rows are simply never attended again.
#pragma once
#include <cstdint>
#include <vector>

#include "veil/core/tensor.h"

namespace veil::nn {

using HeadRows = std::vector<std::vector<int64_t>>;  // per head: increasing row indices

// One query per head: q (H,1,D), k and v (H,Tk,D), rows[h] -> (H,1,D): softmax(q·kᵀ·scale)·v
// over rows[h] only. `probs` (optional) receives each head's probabilities, in rows[h]'s order.
Tensor<float> attend_head_rows(const Tensor<float>& q, const Tensor<float>& k, const Tensor<float>& v, double scale,
                               const HeadRows& rows, std::vector<std::vector<float>>* probs = nullptr);

// Column sums of causal probabilities p (H,T,Tk) over the queries [first, T): (H, Tk).
std::vector<std::vector<double>> attention_received(const Tensor<float>& p, int64_t first = 0);

// The k largest entries of v among `candidates` (indices into v), ties to the lower index;
// returned increasing.
std::vector<int64_t> top_rows(const std::vector<double>& v, const std::vector<int64_t>& candidates, int64_t k);

}  // namespace veil::nn
