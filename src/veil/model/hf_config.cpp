#include "veil/model/hf_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace veil::model {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw ConfigError("config " + source + ": " + what);
}

// Reads typed fields of one config object and names the config in every error.
class Fields {
 public:
  Fields(const json& j, std::string source) : j_(j), source_(std::move(source)) {
    if (!j_.is_object()) fail(source_, "must be a JSON object, got " + j_.dump());
  }

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  int64_t positive_int(const char* key) const {
    if (!has(key)) fail(source_, std::string("required field '") + key + "' is missing");
    const json& v = j_[key];
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      fail(source_, std::string("field '") + key + "' must be a positive integer, got " + v.dump());
    return v.get<int64_t>();
  }
  int64_t positive_int(const char* key, int64_t fallback) const {
    return has(key) ? positive_int(key) : fallback;
  }

  double positive_number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number() || v.get<double>() <= 0)
      fail(source_, std::string("field '") + key + "' must be a positive number, got " + v.dump());
    return v.get<double>();
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean())
      fail(source_, std::string("field '") + key + "' must be true or false, got " + j_[key].dump());
    return j_[key].get<bool>();
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string())
      fail(source_, std::string("field '") + key + "' must be a string, got " + j_[key].dump());
    return j_[key].get<std::string>();
  }

  std::vector<std::string> strings(const char* key) const {
    std::vector<std::string> out;
    if (!has(key)) return out;
    const json& v = j_[key];
    if (!v.is_array()) fail(source_, std::string("field '") + key + "' must be a list of strings");
    for (const json& s : v) {
      if (!s.is_string())
        fail(source_, std::string("field '") + key + "' must be a list of strings, got " + v.dump());
      out.push_back(s.get<std::string>());
    }
    return out;
  }

  // A present "model_type" must be `expected`: a BERT config is no GPT-2 config.
  void expect_model_type(const std::string& expected) const {
    const std::string type = string("model_type", expected);
    if (type != expected)
      fail(source_, "model_type is '" + type + "', expected '" + expected + "'");
  }

  const json& at(const char* key) const { return j_[key]; }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string source_;
};

void check_heads_divide(int64_t width, int64_t heads, const char* width_key,
                        const char* heads_key, const std::string& source) {
  if (width % heads != 0)
    fail(source, std::string(width_key) + " = " + std::to_string(width) +
                     " is not divisible by " + heads_key + " = " + std::to_string(heads));
}

// id2label is {"0": "NEGATIVE", "1": "POSITIVE"}: keys must be exactly 0..n-1.
std::vector<std::string> parse_labels(const Fields& f) {
  if (!f.has("id2label")) {
    std::vector<std::string> labels;
    for (int64_t i = 0; i < f.positive_int("num_labels", 2); ++i)
      labels.push_back("LABEL_" + std::to_string(i));
    return labels;
  }
  const json& map = f.at("id2label");
  if (!map.is_object()) fail(f.source(), "field 'id2label' must be an object, got " + map.dump());
  std::vector<std::string> labels(map.size());
  std::vector<bool> seen(map.size(), false);
  for (const auto& [key, value] : map.items()) {
    size_t used = 0;
    int64_t id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::logic_error&) {
    }
    if (used != key.size() || id < 0 || id >= int64_t(labels.size()) || seen[size_t(id)])
      fail(f.source(), "id2label keys must be the ids 0.." + std::to_string(labels.size() - 1) +
                           " each once, got '" + key + "'");
    if (!value.is_string())
      fail(f.source(), "id2label['" + key + "'] must be a string, got " + value.dump());
    seen[size_t(id)] = true;
    labels[size_t(id)] = value.get<std::string>();
  }
  if (f.has("num_labels") && f.positive_int("num_labels") != int64_t(labels.size()))
    fail(f.source(), "num_labels = " + std::to_string(f.positive_int("num_labels")) +
                         " but id2label has " + std::to_string(labels.size()) + " entries");
  if (labels.empty()) fail(f.source(), "id2label is empty");
  return labels;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
}

}  // namespace

Activation parse_activation(const std::string& name, const std::string& source) {
  static const std::pair<const char*, Activation> known[] = {
      {"gelu", Activation::gelu_erf},         {"gelu_new", Activation::gelu_tanh},
      {"gelu_pytorch_tanh", Activation::gelu_tanh}, {"gelu_fast", Activation::gelu_tanh},
      {"quick_gelu", Activation::quick_gelu}, {"relu", Activation::relu},
      {"silu", Activation::silu},             {"swish", Activation::silu},
  };
  std::string supported;
  for (const auto& [key, act] : known) {
    if (name == key) return act;
    supported += std::string(supported.empty() ? "" : ", ") + key;
  }
  fail(source, "unsupported activation '" + name + "' (supported: " + supported + ")");
}

Gpt2Config parse_gpt2_config(const json& j, const std::string& source) {
  const Fields f(j, source);
  f.expect_model_type("gpt2");
  Gpt2Config c;
  c.n_layer = f.positive_int("n_layer");
  c.n_head = f.positive_int("n_head");
  c.n_embd = f.positive_int("n_embd");
  c.n_positions = f.has("n_positions") ? f.positive_int("n_positions") : f.positive_int("n_ctx");
  c.vocab_size = f.positive_int("vocab_size");
  c.n_inner = f.positive_int("n_inner", 4 * c.n_embd);
  c.activation_function = f.string("activation_function", c.activation_function);
  c.activation = parse_activation(c.activation_function, source);
  c.layer_norm_epsilon = f.positive_number("layer_norm_epsilon", c.layer_norm_epsilon);
  c.scale_attn_weights = f.boolean("scale_attn_weights", c.scale_attn_weights);
  c.architectures = f.strings("architectures");
  check_heads_divide(c.n_embd, c.n_head, "n_embd", "n_head", source);
  return c;
}

BertConfig parse_bert_config(const json& j, const std::string& source) {
  const Fields f(j, source);
  f.expect_model_type("bert");
  BertConfig c;
  c.hidden_size = f.positive_int("hidden_size");
  c.num_hidden_layers = f.positive_int("num_hidden_layers");
  c.num_attention_heads = f.positive_int("num_attention_heads");
  c.intermediate_size = f.positive_int("intermediate_size");
  c.max_position_embeddings = f.positive_int("max_position_embeddings");
  c.vocab_size = f.positive_int("vocab_size");
  c.type_vocab_size = f.positive_int("type_vocab_size", c.type_vocab_size);
  c.hidden_act = f.string("hidden_act", c.hidden_act);
  c.activation = parse_activation(c.hidden_act, source);
  c.layer_norm_eps = f.positive_number("layer_norm_eps", c.layer_norm_eps);
  c.labels = parse_labels(f);
  c.architectures = f.strings("architectures");
  check_heads_divide(c.hidden_size, c.num_attention_heads, "hidden_size", "num_attention_heads",
                     source);
  return c;
}

Gpt2Config load_gpt2_config(const std::string& path) { return parse_gpt2_config(read_json(path), path); }
BertConfig load_bert_config(const std::string& path) { return parse_bert_config(read_json(path), path); }

}  // namespace veil::model
