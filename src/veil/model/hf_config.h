// Hugging Face config.json for GPT-2 (GPT2LMHeadModel, GPT2Model) and BERT (BertModel,
// BertForSequenceClassification). Fields absent from the file take the defaults of the
// transformers library; the fields that fix tensor shapes have no default and are required.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace veil::model {

// A config that is unreadable, has a missing or mistyped field, or asks for something
// unsupported.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Activation functions veil implements, with the config strings that select them.
enum class Activation {
  gelu_erf,    // "gelu": x * Phi(x)
  gelu_tanh,   // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": tanh approximation of GeLU
  quick_gelu,  // "quick_gelu": x * sigmoid(1.702 x)
  relu,        // "relu"
  silu,        // "silu", "swish": x * sigmoid(x)
};

// Throws ConfigError naming `source` for a string not listed above.
Activation parse_activation(const std::string& name, const std::string& source);

struct Gpt2Config {
  int64_t n_layer;
  int64_t n_head;
  int64_t n_embd;
  int64_t n_positions;  // "n_positions", or the older "n_ctx"
  int64_t vocab_size;
  int64_t n_inner;  // MLP width; null or absent means 4 * n_embd
  std::string activation_function = "gelu_new";
  Activation activation = Activation::gelu_tanh;
  double layer_norm_epsilon = 1e-5;
  bool scale_attn_weights = true;  // scores divided by sqrt(head_dim)
  std::vector<std::string> architectures;

  int64_t head_dim() const { return n_embd / n_head; }
};

struct BertConfig {
  int64_t hidden_size;
  int64_t num_hidden_layers;
  int64_t num_attention_heads;
  int64_t intermediate_size;
  int64_t max_position_embeddings;
  int64_t vocab_size;
  int64_t type_vocab_size = 2;
  std::string hidden_act = "gelu";
  Activation activation = Activation::gelu_erf;
  double layer_norm_eps = 1e-12;
  std::vector<std::string> labels;  // labels[i] is id2label[i]; "LABEL_i" when unnamed
  std::vector<std::string> architectures;

  int64_t num_labels() const { return int64_t(labels.size()); }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// `source` names the config in errors (usually its path).
Gpt2Config parse_gpt2_config(const nlohmann::json& j, const std::string& source);
BertConfig parse_bert_config(const nlohmann::json& j, const std::string& source);

Gpt2Config load_gpt2_config(const std::string& path);
BertConfig load_bert_config(const std::string& path);

}  // namespace veil::model
