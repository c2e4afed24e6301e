// The plaintext float32 backend: the reference the MPC backend is measured against, and fast
// enough (Eigen GEMM) to evaluate perplexity over thousands of tokens. Every operation of the
// Backend concept (nn/backend.h) computed in the clear; nothing is secret, so `reveal_to_client` and
// `reveal_tokens` are plain copies.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "veil/core/tensor.h"
#include "veil/model/hf_config.h"

namespace veil::nn {

class PlainBackend {
 public:
  using Tensor = veil::Tensor<float>;
  using Tokens = std::vector<int32_t>;

  // `weights`: canonical name -> tensor (nn/checkpoint.h loads them from a model folder).
  explicit PlainBackend(std::map<std::string, Tensor> weights);

  bool has_weight(const std::string& name) const { return weights_.count(name) != 0; }
  Tensor weight(const std::string& name) const;
  Tokens input_tokens(const std::vector<int32_t>& ids) const { return ids; }
  int64_t length(const Tokens& ids) const { return int64_t(ids.size()); }
  Tensor embed(const Tokens& ids, const Tensor& table) const;

  Tensor matmul(const Tensor& a, const Tensor& b) const;
  Tensor matmul_nt(const Tensor& a, const Tensor& b) const;
  Tensor add(const Tensor& a, const Tensor& b) const;
  Tensor add_bias(const Tensor& x, const Tensor& bias) const;
  Tensor scale(const Tensor& x, double c) const;

  Tensor layernorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) const;
  Tensor activation(const Tensor& x, model::Activation act) const;
  Tensor tanh(const Tensor& x) const;
  Tensor softmax(const Tensor& x, bool causal) const;

  Tensor split_heads(const Tensor& x, int64_t heads) const;
  Tensor merge_heads(const Tensor& x) const;
  Tensor slice_cols(const Tensor& x, int64_t begin, int64_t n) const;
  Tensor slice_rows(const Tensor& x, int64_t begin, int64_t n) const;
  Tensor select_rows(const Tensor& x, const std::vector<int64_t>& rows) const;
  Tensor concat_rows(const Tensor& a, const Tensor& b) const;

  Tokens argmax(const Tensor& logits) const;
  std::vector<int32_t> reveal_tokens(const Tokens& ids) const { return ids; }
  Tokens feed_back(const Tokens& chosen) const { return chosen; }
  veil::Tensor<float> reveal_to_client(const Tensor& x) const { return x; }

  // KV-cache selection (the KvBackend concept of nn/backend.h), in plain_backend_kv.cpp.
  Tensor reshape(const Tensor& x, const Shape& shape) const;
  Tensor slice_last(const Tensor& x, int64_t begin, int64_t n) const;
  Tensor concat_last(const Tensor& a, const Tensor& b) const;
  Tensor sum_heads(const Tensor& x) const;
  Tensor matmul_nt_wide(const Tensor& a, const Tensor& b) const { return matmul_nt(a, b); }
  Tensor narrow(const Tensor& x) const { return x; }
  Tensor max_groups(const Tensor& x, int64_t g) const;
  Tensor min_groups(const Tensor& x, int64_t g) const;
  Tensor cluster_scores(const Tensor& q, const Tensor& summaries) const;
  Tensor topk_onehot(const Tensor& scores, int64_t k) const;
  Tensor onehot_gather(const Tensor& onehot, const Tensor& x) const;
  Tensor onehot_scatter(const Tensor& onehot, const Tensor& y) const;
  Tensor kept_flags(const Tensor& votes, double threshold, const std::vector<int64_t>& forced) const;
  Tensor union_flags(const Tensor& a, const Tensor& b) const;
  std::vector<int64_t> reveal_kept_rows(const Tensor& flags) const;
  std::vector<Tensor> compact_kept_rows(const Tensor& flags, const std::vector<Tensor>& xs) const;

 private:
  std::map<std::string, Tensor> weights_;
};

}  // namespace veil::nn
