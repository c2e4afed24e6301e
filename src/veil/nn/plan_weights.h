// Which plan op consumes each GPT-2 or BERT weight, on which ring and at how many fraction bits it
// is encoded, and the model owner's dealing of a checkpoint for a precision plan (nn/precision_plan.h).
//
// Canonical names (model/checkpoint_layout.h) map to ops. GPT-2: wte and wpe -> embedding (wte
// also -> lm_head when the head is tied), h.<i>.ln_{1,2}.* -> layernorm of layer i, ln_f.* ->
// layernorm outside the blocks, lm_head.weight -> lm_head, every other h.<i>.* -> linear of layer i.
// BERT: embeddings.{word,position,token_type}_embeddings -> embedding, embeddings.LayerNorm.* ->
// layernorm outside the blocks, encoder.layer.<i>.*.LayerNorm.* -> layernorm of layer i, every
// other encoder.layer.<i>.* -> linear of layer i, pooler.dense.* -> linear outside the blocks,
// classifier.* -> lm_head (the output head).
// A tensor is encoded once per ring its ops use, with the plan's scale for it if there is one,
// else the largest fraction bits among those ops on that ring. FM32 matrices and tables of
// embedding, linear and lm_head are clamped to signed integers of weight_bits bits (the plan's).
#pragma once
#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "veil/core/prg.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/precision_plan.h"
#include "veil/nn/ring_tensor.h"

namespace veil::nn {

struct WeightUse {
  PlanOp op;
  std::optional<int64_t> layer;
  bool matrix;  // a weight matrix or embedding table (not a bias, gamma or beta)
};

// Throws PlanError for a name no plan op consumes.
std::vector<WeightUse> weight_uses(const std::string& name, bool tied_head);

// The block index of a canonical name ("h.3.attn.c_attn.weight", "encoder.layer.3.output.dense.bias"
// -> 3), nullopt outside the blocks.
std::optional<int64_t> layer_of(const std::string& name);
// Whether the name is the output head's matrix (lm_head.weight, wte.weight used as the head, or
// BERT's classifier.weight).
bool is_head_weight(const std::string& name);

struct WeightEncoding {
  Ring ring;
  int frac_bits;
  int clamp_bits;  // the integer is clamped to this many signed bits (weight_bits or the ring's)
};
std::vector<WeightEncoding> weight_encodings(const PrecisionPlan& plan, const std::string& name, bool tied_head);

// round(w · 2^f) clamped to clamp_bits signed bits: the integer a weight is encoded as.
int64_t encode_weight(double w, const WeightEncoding& e);

// One party's shares of a checkpoint dealt for a plan: every encoding of every tensor.
using PlanWeightShares = std::map<std::string, std::vector<RingTensor>>;

// The model owner's side: encodes and splits each tensor into the parties' replicated pairs with
// fresh randomness; party i gets element i. Throws PlanError for a scale naming a missing tensor.
std::array<PlanWeightShares, 3> deal_plan_weights(const Weights& weights, const PrecisionPlan& plan, Prg& prg);

}  // namespace veil::nn
