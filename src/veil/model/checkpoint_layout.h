// Tensor names and shapes of GPT-2 and BERT checkpoints, and the check that a safetensors
// file holds exactly the tensors a config asks for.
//
// Canonical names are those of the bare model as save_pretrained writes it.
// GPT-2 (Conv1D weights are [in, out]):
//   wte.weight [vocab_size, n_embd]          wpe.weight [n_positions, n_embd]
//   h.{i}.ln_1.{weight,bias}                 [n_embd]
//   h.{i}.attn.c_attn.weight [n_embd, 3*n_embd]   h.{i}.attn.c_attn.bias [3*n_embd]
//   h.{i}.attn.c_proj.weight [n_embd, n_embd]     h.{i}.attn.c_proj.bias [n_embd]
//   h.{i}.ln_2.{weight,bias}                 [n_embd]
//   h.{i}.mlp.c_fc.weight [n_embd, n_inner]       h.{i}.mlp.c_fc.bias [n_inner]
//   h.{i}.mlp.c_proj.weight [n_inner, n_embd]     h.{i}.mlp.c_proj.bias [n_embd]
//   ln_f.{weight,bias}                       [n_embd]
//   lm_head.weight [vocab_size, n_embd]      optional: tied to wte.weight when absent
// BERT (Linear weights are [out, in]; H = hidden_size, I = intermediate_size):
//   embeddings.word_embeddings.weight [vocab_size, H]
//   embeddings.position_embeddings.weight [max_position_embeddings, H]
//   embeddings.token_type_embeddings.weight [type_vocab_size, H]
//   embeddings.LayerNorm.{weight,bias} [H]
//   encoder.layer.{i}.attention.self.{query,key,value}.weight [H, H], .bias [H]
//   encoder.layer.{i}.attention.output.dense.weight [H, H], .bias [H]
//   encoder.layer.{i}.attention.output.LayerNorm.{weight,bias} [H]
//   encoder.layer.{i}.intermediate.dense.weight [I, H], .bias [I]
//   encoder.layer.{i}.output.dense.weight [H, I], .bias [H]
//   encoder.layer.{i}.output.LayerNorm.{weight,bias} [H]
//   pooler.dense.weight [H, H], .bias [H]
//   classifier.weight [num_labels, H], .bias [num_labels]
//   The pooler and classifier are required when architectures names
//   BertForSequenceClassification and optional otherwise.
//
// Accepted file names besides the canonical ones: the "transformer." (GPT-2) and "bert."
// (BERT) prefixes of checkpoints saved from a model with a head (GPT2LMHeadModel,
// BertForSequenceClassification, BertForPreTraining as on the Hub), and
// BERT's old LayerNorm names gamma / beta for weight / bias. Tensors that are no model
// weight are skipped: GPT-2's causal-mask buffers h.{i}.attn.bias and h.{i}.attn.masked_bias,
// BERT's embeddings.position_ids and its pre-training heads cls.*.
#pragma once
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "veil/core/tensor.h"
#include "veil/model/hf_config.h"
#include "veil/model/safetensors.h"

namespace veil::model {

// A checkpoint whose tensors do not match its config.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ExpectedTensor {
  Shape shape;
  bool required;
};
using TensorLayout = std::map<std::string, ExpectedTensor>;  // canonical name -> expectation

TensorLayout gpt2_layout(const Gpt2Config& c);
TensorLayout bert_layout(const BertConfig& c);

// Canonical name of a checkpoint tensor; nullopt for a tensor that is skipped (see above).
std::optional<std::string> canonical_gpt2_name(std::string_view name);
std::optional<std::string> canonical_bert_name(std::string_view name);

using CheckpointNames = std::map<std::string, std::string>;  // canonical name -> name in file

// Throws CheckpointError listing every missing, unexpected, duplicated, mis-shaped or
// non-float tensor.
CheckpointNames match_gpt2_checkpoint(const SafeTensors& file, const Gpt2Config& c);
CheckpointNames match_bert_checkpoint(const SafeTensors& file, const BertConfig& c);

}  // namespace veil::model
