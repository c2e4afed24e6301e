// GPT-2 (GPT2LMHeadModel) over any Backend, written once for the plaintext and MPC backends.
//
//   h = wte[ids] + wpe[positions]                                  (T,C)
//   per block:  h += c_proj(attn(ln_1(h)));  h += mlp(ln_2(h))     pre-LN
//     attn: q, k, v = split(c_attn(x)) (Conv1D, [C,3C]); per head softmax(q·kᵀ·s, causal)·v,
//           s = 1/sqrt(D) when scale_attn_weights, else 1
//     mlp:  c_proj(act(c_fc(x))), c_fc [C, n_inner], act from activation_function
//   logits = ln_f(h) · headᵀ,  head = lm_head.weight if the checkpoint has it, else wte (tied)
//
// Keys and values go to a KvCache, so a prefill over the prompt followed by one-token decode
// steps computes the same logits as a full pass over the whole sequence. A cache made with a KV
// policy (nn/kv_policy.h) routes each layer's attention through it.
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/model/hf_config.h"
#include "veil/nn/backend.h"
#include "veil/nn/kv_cache.h"
#include "veil/nn/kv_policy.h"

namespace veil::nn {

template <Backend B>
class Gpt2 {
 public:
  using Tensor = typename B::Tensor;
  using Tokens = typename B::Tokens;

  // Fetches every weight from the backend once.
  Gpt2(B& be, model::Gpt2Config config) : be_(be), config_(std::move(config)) {
    wte_ = be.weight("wte.weight");
    wpe_ = be.weight("wpe.weight");
    for (int64_t i = 0; i < config_.n_layer; ++i) blocks_.push_back(load_block("h." + std::to_string(i) + "."));
    lnf_w_ = be.weight("ln_f.weight");
    lnf_b_ = be.weight("ln_f.bias");
    head_ = be.has_weight("lm_head.weight") ? be.weight("lm_head.weight") : wte_;
  }

  const model::Gpt2Config& config() const { return config_; }
  KvCache<B> new_cache(std::shared_ptr<KvPolicy<B>> policy = {}) const {
    return KvCache<B>(config_.n_layer, std::move(policy));
  }

  // ids (T) at positions cache.next_position() .. + T − 1 -> ln_f output (T,C); appends the
  // tokens' keys and values to the cache.
  Tensor hidden(const Tokens& ids, KvCache<B>& cache) {
    const int64_t t = be_.length(ids), start = cache.next_position();
    if (t == 0) throw std::invalid_argument("GPT-2: no tokens to run");
    if (start + t > config_.n_positions)
      throw std::out_of_range("GPT-2: positions " + std::to_string(start) + ".." + std::to_string(start + t - 1) +
                              " exceed the model's context of n_positions = " +
                              std::to_string(config_.n_positions) + " tokens");
    Tensor h = be_.add(be_.embed(ids, wte_), be_.slice_rows(wpe_, start, t));  // (T,C)
    for (int64_t l = 0; l < config_.n_layer; ++l) {
      const Block& b = blocks_[size_t(l)];
      h = be_.add(h, attention(b, l, be_.layernorm(h, b.ln1_w, b.ln1_b, eps()), cache));
      h = be_.add(h, mlp(b, be_.layernorm(h, b.ln2_w, b.ln2_b, eps())));
    }
    cache.advance(t);
    if (KvPolicy<B>* policy = cache.policy()) policy->end_pass(be_, cache, t);
    return be_.layernorm(h, lnf_w_, lnf_b_, eps());
  }

  // h (R,C) -> logits (R,V).
  Tensor logits(const Tensor& h) { return be_.matmul_nt(h, head_); }

  // Prefill (the prompt) or decode step (one token): ids (T) -> logits of the last token (1,V).
  Tensor next_logits(const Tokens& ids, KvCache<B>& cache) {
    const Tensor h = hidden(ids, cache);
    return logits(be_.slice_rows(h, h.shape[0] - 1, 1));
  }

 private:
  struct Block {
    Tensor ln1_w, ln1_b;                // (C)
    Tensor attn_w, attn_b;              // (C,3C), (3C)
    Tensor attn_proj_w, attn_proj_b;    // (C,C), (C)
    Tensor ln2_w, ln2_b;                // (C)
    Tensor fc_w, fc_b;                  // (C,I), (I)
    Tensor mlp_proj_w, mlp_proj_b;      // (I,C), (C)
  };

  Block load_block(const std::string& p) {
    auto w = [&](const std::string& name) { return be_.weight(p + name); };
    return Block{w("ln_1.weight"),      w("ln_1.bias"),      w("attn.c_attn.weight"), w("attn.c_attn.bias"),
                 w("attn.c_proj.weight"), w("attn.c_proj.bias"), w("ln_2.weight"),  w("ln_2.bias"),
                 w("mlp.c_fc.weight"),  w("mlp.c_fc.bias"),  w("mlp.c_proj.weight"), w("mlp.c_proj.bias")};
  }

  double eps() const { return config_.layer_norm_epsilon; }

  // x (T,C) -> (T,C); the new keys and values join layer l's cache.
  Tensor attention(const Block& b, int64_t l, const Tensor& x, KvCache<B>& cache) {
    const int64_t c = config_.n_embd, heads = config_.n_head;
    const Tensor qkv = be_.add_bias(be_.matmul(x, b.attn_w), b.attn_b);  // (T,3C)
    const Tensor q = be_.split_heads(be_.slice_cols(qkv, 0, c), heads);  // (H,T,D)
    const KvLayer<B>& kv = cache.append(be_, l, be_.split_heads(be_.slice_cols(qkv, c, c), heads),
                                        be_.split_heads(be_.slice_cols(qkv, 2 * c, c), heads));  // (H,Tk,D)
    const double scale = config_.scale_attn_weights ? 1.0 / std::sqrt(double(config_.head_dim())) : 1.0;
    KvPolicy<B>* policy = cache.policy();
    const Tensor y = policy ? policy->attend(be_, l, q, cache, scale) : attend_all(be_, q, kv, scale);  // (H,T,D)
    return be_.add_bias(be_.matmul(be_.merge_heads(y), b.attn_proj_w), b.attn_proj_b);
  }

  // x (T,C) -> (T,C)
  Tensor mlp(const Block& b, const Tensor& x) {
    const Tensor u = be_.activation(be_.add_bias(be_.matmul(x, b.fc_w), b.fc_b), config_.activation);  // (T,I)
    return be_.add_bias(be_.matmul(u, b.mlp_proj_w), b.mlp_proj_b);
  }

  B& be_;
  model::Gpt2Config config_;
  Tensor wte_, wpe_;      // (V,C), (P,C)
  std::vector<Block> blocks_;
  Tensor lnf_w_, lnf_b_;  // (C)
  Tensor head_;           // (V,C)
};

}  // namespace veil::nn
