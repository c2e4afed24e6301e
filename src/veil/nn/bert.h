// BERT (BertModel, BertForSequenceClassification) over any Backend.
//
//   h = LayerNorm(word[ids] + position[0..T) + token_type[types])           (T,H)
//   per layer (post-LN):
//     a = LayerNorm(h + dense(attn(h)))   attn: per head softmax(q·kᵀ/sqrt(D))·v, no mask
//     h = LayerNorm(a + output(act(intermediate(a))))
//   pooled = tanh(pooler(h[0]))  (the [CLS] row);  logits = classifier(pooled)    (1, labels)
// Linear weights are [out, in]: y = x · Wᵀ + b (matmul_nt).
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/model/hf_config.h"
#include "veil/nn/backend.h"

namespace veil::nn {

template <Backend B>
class Bert {
 public:
  using Tensor = typename B::Tensor;
  using Tokens = typename B::Tokens;

  // Fetches every weight from the backend once; the pooler and classifier when present.
  Bert(B& be, model::BertConfig config) : be_(be), config_(std::move(config)) {
    word_ = be.weight("embeddings.word_embeddings.weight");
    position_ = be.weight("embeddings.position_embeddings.weight");
    token_type_ = be.weight("embeddings.token_type_embeddings.weight");
    emb_ln_ = norm("embeddings.LayerNorm.");
    for (int64_t i = 0; i < config_.num_hidden_layers; ++i)
      layers_.push_back(load_layer("encoder.layer." + std::to_string(i) + "."));
    has_classifier_ = be.has_weight("pooler.dense.weight") && be.has_weight("classifier.weight");
    if (has_classifier_) {
      pooler_ = linear("pooler.dense.");
      classifier_ = linear("classifier.");
    }
  }

  const model::BertConfig& config() const { return config_; }

  // ids (T), token_types (T) -> last hidden states (T,H).
  Tensor encode(const Tokens& ids, const Tokens& token_types) {
    const int64_t t = be_.length(ids);
    if (t == 0) throw std::invalid_argument("BERT: no tokens to run");
    if (t > config_.max_position_embeddings)
      throw std::out_of_range("BERT: " + std::to_string(t) + " tokens exceed max_position_embeddings = " +
                              std::to_string(config_.max_position_embeddings));
    if (be_.length(token_types) != t)
      throw std::invalid_argument("BERT: " + std::to_string(be_.length(token_types)) + " token types for " +
                                  std::to_string(t) + " tokens");
    Tensor h = be_.add(be_.add(be_.embed(ids, word_), be_.slice_rows(position_, 0, t)),
                       be_.embed(token_types, token_type_));
    h = layernorm(h, emb_ln_);
    for (const Layer& l : layers_) {
      const Tensor a = layernorm(be_.add(h, apply(l.attn_out, attention(l, h))), l.attn_ln);
      const Tensor u = be_.activation(apply(l.intermediate, a), config_.activation);  // (T,I)
      h = layernorm(be_.add(a, apply(l.output, u)), l.output_ln);
    }
    return h;
  }

  // ids (T), token_types (T) -> classification logits (1, num_labels). Needs the pooler and
  // classifier (BertForSequenceClassification).
  Tensor classify(const Tokens& ids, const Tokens& token_types) {
    if (!has_classifier_)
      throw std::invalid_argument("BERT: the checkpoint has no pooler.dense and classifier weights "
                                  "(a BertForSequenceClassification checkpoint is needed)");
    const Tensor h = encode(ids, token_types);
    const Tensor pooled = be_.tanh(apply(pooler_, be_.slice_rows(h, 0, 1)));  // (1,H)
    return apply(classifier_, pooled);
  }

 private:
  struct Linear {
    Tensor w, b;  // (out,in), (out)
  };
  struct Norm {
    Tensor w, b;  // (H)
  };
  struct Layer {
    Linear query, key, value, attn_out;
    Norm attn_ln;
    Linear intermediate, output;
    Norm output_ln;
  };

  Linear linear(const std::string& p) { return {be_.weight(p + "weight"), be_.weight(p + "bias")}; }
  Norm norm(const std::string& p) { return {be_.weight(p + "weight"), be_.weight(p + "bias")}; }

  Layer load_layer(const std::string& p) {
    return Layer{linear(p + "attention.self.query."),  linear(p + "attention.self.key."),
                 linear(p + "attention.self.value."),  linear(p + "attention.output.dense."),
                 norm(p + "attention.output.LayerNorm."), linear(p + "intermediate.dense."),
                 linear(p + "output.dense."),          norm(p + "output.LayerNorm.")};
  }

  // x (T,in) -> (T,out)
  Tensor apply(const Linear& f, const Tensor& x) { return be_.add_bias(be_.matmul_nt(x, f.w), f.b); }
  Tensor layernorm(const Tensor& x, const Norm& n) { return be_.layernorm(x, n.w, n.b, config_.layer_norm_eps); }

  // x (T,H) -> (T,H), before the output dense.
  Tensor attention(const Layer& l, const Tensor& x) {
    const int64_t heads = config_.num_attention_heads;
    const Tensor q = be_.split_heads(apply(l.query, x), heads);  // (A,T,D)
    const Tensor k = be_.split_heads(apply(l.key, x), heads);
    const Tensor v = be_.split_heads(apply(l.value, x), heads);
    const Tensor scores = be_.scale(be_.matmul_nt(q, k), 1.0 / std::sqrt(double(config_.head_dim())));  // (A,T,T)
    return be_.merge_heads(softmax_matmul(be_, scores, v, false));
  }

  B& be_;
  model::BertConfig config_;
  Tensor word_, position_, token_type_;  // (V,H), (P,H), (types,H)
  Norm emb_ln_;
  std::vector<Layer> layers_;
  bool has_classifier_ = false;
  Linear pooler_, classifier_;  // (H,H), (labels,H)
};

}  // namespace veil::nn
