// The plaintext twin of the mixed-precision MPC backend (nn/ditto_backend.h): the same GPT-2 graph
// on doubles, with every value on the grid its plan op gives it. It takes the same decisions as
// DittoBackend — which op a call is, which casts it makes, the fraction bits a product keeps, the
// weights' encodings (nn/plan_weights.h) — but rounds to nearest where the MPC truncates (trunc_a:
// floor + {0, 1}; the free down-cast: within 1.5 ulp, unbiased), and computes softmax, LayerNorm,
// GeLU (for puma: the model's exact GeLU) and tanh exactly before rounding their outputs. So it is
// the reference the MPC result is held to (only the MPC kernels' own errors separate them), and the
// float model differs from it by the plan's quantization error.
//
// It also watches the ranges the MPC casts need: a value beyond 2^30 at its fraction bits on FM32
// (trunc_a and upcast_a fail there) or beyond 2^62 on FM64 counts as a range violation.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "veil/core/tensor.h"
#include "veil/model/hf_config.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/index_maps.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn {

struct SimTensor {
  Shape shape;
  Ring ring = Ring::FM64;
  int frac_bits = 0;
  std::vector<double> v;  // values, each a multiple of 2^−frac_bits
  std::string weight;     // as RingTensor::weight
};

class PlanSimBackend {
 public:
  using Tensor = SimTensor;
  using Tokens = std::vector<int32_t>;

  // output_frac_bits: the fraction bits reveal_to_client rounds to (DittoBackend's: 18 by default).
  PlanSimBackend(const Weights& weights, PrecisionPlan plan, int output_frac_bits = 18);

  bool has_weight(const std::string& name) const { return weights_.count(name) != 0; }
  Tensor weight(const std::string& name) const;
  Tokens input_tokens(const std::vector<int32_t>& ids) const { return ids; }
  int64_t length(const Tokens& ids) const { return int64_t(ids.size()); }
  Tensor embed(const Tokens& ids, const Tensor& table);
  Tokens feed_back(const Tokens& chosen) const { return chosen; }

  Tensor matmul(const Tensor& a, const Tensor& b);
  Tensor matmul_nt(const Tensor& a, const Tensor& b);
  Tensor add(const Tensor& a, const Tensor& b);
  Tensor add_bias(const Tensor& x, const Tensor& bias);
  Tensor scale(const Tensor& x, double c);

  Tensor layernorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
  Tensor activation(const Tensor& x, model::Activation act);
  Tensor tanh(const Tensor& x);
  Tensor softmax(const Tensor& x, bool causal);
  Tensor attend(const Tensor& scores, const Tensor& v, bool causal);  // as DittoBackend::attend

  Tensor split_heads(const Tensor& x, int64_t heads);
  Tensor merge_heads(const Tensor& x);
  Tensor slice_cols(const Tensor& x, int64_t begin, int64_t n);
  Tensor slice_rows(const Tensor& x, int64_t begin, int64_t n);
  Tensor select_rows(const Tensor& x, const std::vector<int64_t>& rows);
  Tensor concat_rows(const Tensor& a, const Tensor& b);

  Tokens argmax(const Tensor& logits) const;
  std::vector<int32_t> reveal_tokens(const Tokens& ids) const { return ids; }
  veil::Tensor<float> reveal_to_client(const Tensor& x);

  // x on ring r with f fraction bits: rounded to nearest (ties to even), clamped to the ring.
  Tensor to(const Tensor& x, Ring r, int f);

  // Values that left the range the MPC casts work in, and the first such place.
  int64_t range_violations() const { return violations_; }
  const std::string& first_violation() const { return first_violation_; }

 private:
  Tensor product(const Tensor& a, const Tensor& b, bool b_transposed);
  bool attention_above_linear_ring() const;  // at the current layer, as DittoBackend's
  Tensor weight_on(const Tensor& w, Ring r) const;
  Tensor gather(const Tensor& x, const IndexMap& m) const;
  Tensor rounded(Tensor x, const OpFormat& f);  // outputs of exact functions onto the op's grid
  const OpFormat& format(PlanOp op) const { return plan_.at(op, layer_); }
  void check_range(const Tensor& x, const char* where);

  std::map<std::string, std::vector<SimTensor>> weights_;
  PrecisionPlan plan_;
  int output_frac_bits_;
  std::optional<int64_t> layer_;
  int64_t violations_ = 0;
  std::string first_violation_;
};

}  // namespace veil::nn
