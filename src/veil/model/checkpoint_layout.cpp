#include "veil/model/checkpoint_layout.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <vector>

namespace veil::model {
namespace {

void add(TensorLayout& layout, const std::string& name, Shape shape, bool required = true) {
  layout[name] = {std::move(shape), required};
}

// A LayerNorm: weight and bias, both [width].
void add_norm(TensorLayout& layout, const std::string& prefix, int64_t width, bool required = true) {
  add(layout, prefix + ".weight", {width}, required);
  add(layout, prefix + ".bias", {width}, required);
}
// A Linear or Conv1D layer: weight of the given shape, bias [bias].
void add_dense(TensorLayout& layout, const std::string& prefix, Shape weight, int64_t bias,
               bool required = true) {
  add(layout, prefix + ".weight", std::move(weight), required);
  add(layout, prefix + ".bias", {bias}, required);
}

std::string_view strip_prefix(std::string_view name, std::string_view prefix) {
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

// True for "<head><digits><tail>", e.g. "h.11.attn.bias".
bool is_layer_name(std::string_view name, std::string_view head, std::string_view tail) {
  if (!name.starts_with(head) || !name.ends_with(tail) || name.size() <= head.size() + tail.size())
    return false;
  const std::string_view digits = name.substr(head.size(), name.size() - head.size() - tail.size());
  return std::all_of(digits.begin(), digits.end(), [](char ch) { return std::isdigit(uint8_t(ch)); });
}

bool is_float(Dtype d) { return d == Dtype::f32 || d == Dtype::f16 || d == Dtype::bf16; }

CheckpointNames match(const SafeTensors& file, const TensorLayout& layout,
                      const std::function<std::optional<std::string>(std::string_view)>& canonical,
                      const std::string& model) {
  std::vector<std::string> problems;
  CheckpointNames names;
  for (const std::string& name : file.names()) {
    const auto canon = canonical(name);
    if (!canon) continue;
    const auto expected = layout.find(*canon);
    if (expected == layout.end()) {
      problems.push_back("unexpected tensor '" + name + "'");
      continue;
    }
    const auto [it, inserted] = names.emplace(*canon, name);
    if (!inserted) {
      problems.push_back("tensors '" + it->second + "' and '" + name + "' are both '" + *canon + "'");
      continue;
    }
    const TensorInfo& info = file.info(name);
    if (info.shape != expected->second.shape)
      problems.push_back("tensor '" + name + "' has shape " + shape_str(info.shape) +
                         ", expected " + shape_str(expected->second.shape));
    if (!is_float(info.dtype))
      problems.push_back("tensor '" + name + "' has dtype " + std::string(dtype_name(info.dtype)) +
                         ", expected F32, F16 or BF16");
  }
  for (const auto& [canon, expected] : layout)
    if (expected.required && !names.count(canon)) problems.push_back("missing tensor '" + canon + "'");
  if (problems.empty()) return names;

  constexpr size_t shown = 20;
  std::string message = "checkpoint " + file.path() + " does not match the " + model + " config:";
  for (size_t i = 0; i < std::min(shown, problems.size()); ++i) message += "\n  " + problems[i];
  if (problems.size() > shown)
    message += "\n  ... and " + std::to_string(problems.size() - shown) + " more";
  throw CheckpointError(message);
}

bool is_sequence_classifier(const BertConfig& c) {
  return std::find(c.architectures.begin(), c.architectures.end(),
                   "BertForSequenceClassification") != c.architectures.end();
}

}  // namespace

TensorLayout gpt2_layout(const Gpt2Config& c) {
  const int64_t d = c.n_embd;
  TensorLayout l;
  add(l, "wte.weight", {c.vocab_size, d});
  add(l, "wpe.weight", {c.n_positions, d});
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string h = "h." + std::to_string(i) + ".";
    add_norm(l, h + "ln_1", d);
    add_dense(l, h + "attn.c_attn", {d, 3 * d}, 3 * d);
    add_dense(l, h + "attn.c_proj", {d, d}, d);
    add_norm(l, h + "ln_2", d);
    add_dense(l, h + "mlp.c_fc", {d, c.n_inner}, c.n_inner);
    add_dense(l, h + "mlp.c_proj", {c.n_inner, d}, d);
  }
  add_norm(l, "ln_f", d);
  add(l, "lm_head.weight", {c.vocab_size, d}, /*required=*/false);
  return l;
}

TensorLayout bert_layout(const BertConfig& c) {
  const int64_t h = c.hidden_size;
  TensorLayout l;
  add(l, "embeddings.word_embeddings.weight", {c.vocab_size, h});
  add(l, "embeddings.position_embeddings.weight", {c.max_position_embeddings, h});
  add(l, "embeddings.token_type_embeddings.weight", {c.type_vocab_size, h});
  add_norm(l, "embeddings.LayerNorm", h);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* proj : {"query", "key", "value"})
      add_dense(l, p + "attention.self." + proj, {h, h}, h);
    add_dense(l, p + "attention.output.dense", {h, h}, h);
    add_norm(l, p + "attention.output.LayerNorm", h);
    add_dense(l, p + "intermediate.dense", {c.intermediate_size, h}, c.intermediate_size);
    add_dense(l, p + "output.dense", {h, c.intermediate_size}, h);
    add_norm(l, p + "output.LayerNorm", h);
  }
  const bool classifier = is_sequence_classifier(c);
  add_dense(l, "pooler.dense", {h, h}, h, classifier);
  add_dense(l, "classifier", {c.num_labels(), h}, c.num_labels(), classifier);
  return l;
}

std::optional<std::string> canonical_gpt2_name(std::string_view name) {
  name = strip_prefix(name, "transformer.");
  if (is_layer_name(name, "h.", ".attn.bias") || is_layer_name(name, "h.", ".attn.masked_bias"))
    return std::nullopt;
  return std::string(name);
}

std::optional<std::string> canonical_bert_name(std::string_view name) {
  name = strip_prefix(name, "bert.");
  if (name.starts_with("cls.") || name == "embeddings.position_ids") return std::nullopt;
  std::string out(name);
  if (name.ends_with("LayerNorm.gamma")) out.replace(out.size() - 5, 5, "weight");
  if (name.ends_with("LayerNorm.beta")) out.replace(out.size() - 4, 4, "bias");
  return out;
}

CheckpointNames match_gpt2_checkpoint(const SafeTensors& file, const Gpt2Config& c) {
  return match(file, gpt2_layout(c), canonical_gpt2_name, "GPT-2");
}

CheckpointNames match_bert_checkpoint(const SafeTensors& file, const BertConfig& c) {
  return match(file, bert_layout(c), canonical_bert_name, "BERT");
}

}  // namespace veil::model
