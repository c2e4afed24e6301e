// The mixed-precision MPC backend: the Backend concept (nn/backend.h) on replicated shares over
// Z_2^32 and Z_2^64 at once, each op on the ring and fraction bits a precision plan gives it
// (nn/precision_plan.h). With the built-in "ditto" plan it is Ditto's setting (Wu et al., ICML
// 2024): linear layers, embedding, residual stream and Quad GeLU on FM32 with 8 fraction bits,
// attention, softmax and LayerNorm on FM64 with 18; with "fp64" it computes what MpcBackend
// computes.
//
// A tensor (RingTensor) carries its ring and fraction bits. Every op first casts its inputs to
// its own format (`to`, below), so a value changes ring only where the plan says so:
//   same ring, fewer fraction bits: trunc_a; more: a local shift;
//   FM64 -> FM32: downcast_local_a (mpc/ring_cast.h), free, with any truncation by up to 32 bits
//                 folded in (a 64-bit truncation first for more);
//   FM32 -> FM64: upcast_a with the left shift folded in, or upcast_trunc_a when the target has
//                 fewer fraction bits (2 rounds either way; x must lie in [−2^30, 2^30) at its
//                 fraction bits).
// Products keep their fraction bits (x at f times W at f_W has f + f_W) until a consumer casts
// them, so the bias is added exactly at f + f_W (on FM32 the accumulator plus the bias must then
// stay within 2^30 at f + f_W bits: tools/distill.py's calibration bounds the accumulator with a
// bit of margin; PlanSimBackend reports a violation), a product that goes on to another ring is
// truncated there for free (attention's probs·v at 18 + 8 bits lands on FM32 at 8 with one local
// down-cast) and the query/key/value products up-cast with their truncation fused in
// (upcast_trunc_a).
// Attention under Ditto's shape (attention on FM64, linear layers on FM32): queries, keys and
// values reach FM64 at the linear layers' fraction bits f (up-casting to 18 would only append zero
// bits), q·kᵀ runs on FM32 on their free, exact low halves (scores at 2f bits, exact: half the
// bytes of the FM64 product and no truncation; |q·k|·2^(2f) < 2^29, a calibration check), and
// softmax up-casts the scores to its format; probs·v runs on FM64.
// Scaling by a power of two (GPT-2's 1/sqrt(head size) for head sizes 4, 16, 64, 256) only moves
// the binary point.
//
// Which plan op a Backend call is: embed -> embedding; matmul/matmul_nt with a weight -> linear
// (lm_head for lm_head.weight or the tied wte.weight), without -> attention; add -> residual
// (both operands cast to it; rows of a table, GPT-2's position rows, to the embedding's format
// first); split_heads -> its output is cast to attention's ring (queries,
// keys and values: the cache then holds them in it), at its fraction bits or, under Ditto's shape,
// at the linear layers'; layernorm, softmax, activation (gelu, with
// the plan's approximation), tanh -> themselves. The layer of a per-layer override is that of the
// last weight an op used (h.<i>.*), reset by embed and by ln_f.
//
// Weights are dealt per plan (nn/plan_weights.h): each tensor on every ring its ops use. Tokens
// and the client's channel work as in MpcBackend (TokenInput, MpcTokens); reveal_to_client opens
// FM64 values with output_frac_bits() fraction bits (the client decodes with that).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "veil/fxp/softmax.h"
#include "veil/model/hf_config.h"
#include "veil/mpc/client_channel.h"
#include "veil/mpc/client_port.h"
#include "veil/mpc/context.h"
#include "veil/nn/index_maps.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/precision_plan.h"
#include "veil/nn/ring_tensor.h"

namespace veil::nn {

// The most fraction bits q·kᵀ may have on FM32 (a calibrated plan checks the range; this bound
// keeps an uncalibrated plan with finer linear layers on the FM64 product).
inline constexpr int kMaxFm32ScoreFracBits = 16;

class DittoBackend {
 public:
  using Tensor = RingTensor;
  using Tokens = MpcTokens;

  // Throws PlanError when the plan asks for what the MPC kernels cannot do (check_plan_for_mpc).
  DittoBackend(mpc::Context& ctx, std::shared_ptr<const PlanWeightShares> weights, PrecisionPlan plan,
               mpc::ClientChannel& client, TokenInput input = TokenInput::secret_ids);
  // In process: the party reaches the client through port.channel(ctx.id(), &ctx.link()).
  DittoBackend(mpc::Context& ctx, PlanWeightShares weights, PrecisionPlan plan, mpc::ClientPort& client,
               TokenInput input = TokenInput::secret_ids);

  bool has_weight(const std::string& name) const { return weights_->count(name) != 0; }
  Tensor weight(const std::string& name) const;  // its first encoding; ops fetch the others by name
  Tokens input_tokens(const std::vector<int32_t>& ids);
  int64_t length(const Tokens& ids) const;
  Tensor embed(const Tokens& ids, const Tensor& table);
  Tokens feed_back(const Tokens& chosen);

  Tensor matmul(const Tensor& a, const Tensor& b);
  Tensor matmul_nt(const Tensor& a, const Tensor& b);
  Tensor add(const Tensor& a, const Tensor& b);
  Tensor add_bias(const Tensor& x, const Tensor& bias);
  Tensor scale(const Tensor& x, double c);

  Tensor layernorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
  Tensor activation(const Tensor& x, model::Activation act);
  Tensor tanh(const Tensor& x);
  Tensor softmax(const Tensor& x, bool causal);
  // softmax(scores)·v, scores (..., T, N), v (..., N, D) (nn::softmax_matmul): with N > D and
  // both ops on FM64 the normalisation follows the product, (e·v)·r with r = 1/Σe per row (the
  // same value; products and truncations on T·D elements instead of T·N); else the two calls.
  Tensor attend(const Tensor& scores, const Tensor& v, bool causal);

  Tensor split_heads(const Tensor& x, int64_t heads);
  Tensor merge_heads(const Tensor& x);
  Tensor slice_cols(const Tensor& x, int64_t begin, int64_t n);
  Tensor slice_rows(const Tensor& x, int64_t begin, int64_t n);
  Tensor select_rows(const Tensor& x, const std::vector<int64_t>& rows);
  Tensor concat_rows(const Tensor& a, const Tensor& b);

  Tokens argmax(const Tensor& logits);  // on the logits' ring; an FM32 index is up-cast
  std::vector<int32_t> reveal_tokens(const Tokens& ids);  // to the client; {} on the party
  veil::Tensor<float> reveal_to_client(const Tensor& x);  // to the client (FM64); empty on the party

  // x cast to ring r with f fraction bits (see the header comment). Public for tests.
  Tensor to(const Tensor& x, Ring r, int f);

  int output_frac_bits() const;
  const PrecisionPlan& plan() const { return plan_; }
  mpc::Context& context() { return ctx_; }

 private:
  Tensor product(const Tensor& a, const Tensor& b, bool b_transposed);
  bool attention_above_linear_ring() const;  // at the current layer: attention on FM64, linear on FM32
  // Whether q·kᵀ of a, b runs on FM32 (see product): under Ditto's shape, both operands on the linear
  // layers' grid, and the scores keeping at least 13 integer bits there (2f ≤ 16).
  bool scores_on_fm32(const Tensor& a, const Tensor& b) const;
  Tensor softmax_input(const Tensor& x, bool causal, fxp::SoftmaxOptions* opt);  // at the current layer: attention on FM64, linear on FM32
  Tensor weight_on(const Tensor& w, Ring r) const;
  Tensor gather(const Tensor& x, const IndexMap& m) const;
  const OpFormat& format(PlanOp op) const { return plan_.at(op, layer_); }

  mpc::Context& ctx_;
  std::shared_ptr<const PlanWeightShares> weights_;
  PrecisionPlan plan_;
  std::unique_ptr<mpc::ClientChannel> own_channel_;  // the in-process constructor's
  mpc::ClientChannel& client_;
  TokenInput input_;
  std::optional<int64_t> layer_;  // the block the current op belongs to
};

// The mpc::Config the parties must run with for `plan`: the fxp kernels (softmax, LayerNorm,
// PUMA's GeLU, tanh) take their fraction bits from it, one per ring. Throws PlanError when the
// plan gives two of them different fraction bits on one ring.
mpc::Config mpc_config_for(const PrecisionPlan& plan);

// Throws PlanError for a plan the MPC backend cannot run with `cfg`: the exact GeLU (no MPC
// kernel: use puma or quad), or a kernel op whose fraction bits differ from cfg's for its ring.
void check_plan_for_mpc(const PrecisionPlan& plan, const mpc::Config& cfg);

}  // namespace veil::nn
