// Precision plans ("veil-precision-plan/1"): on which ring (FM32 = Z_2^32, FM64 = Z_2^64) and
// with how many fraction bits each op type of a transformer runs, plus per-tensor weight scales
// after calibration. The format is documented field by field in docs/DITTO.md and validated the
// same way by tools/quant_plan.py; data/plans/{fp64,ditto}.json are the built-in plans, also
// compiled in here (builtin_plan), so the binary needs no data files.
//
//   {
//     "format": "veil-precision-plan/1",
//     "name": "ditto", "description": "...",                       (optional)
//     "ops": {                                                      (required)
//       "embedding": {"ring": "FM32", "frac_bits": 8},
//       "residual":  {...},          (optional; default: the linear op's ring and frac bits)
//       "linear":    {...}, "lm_head": {...}, "attention": {...}, "softmax": {...},
//       "layernorm": {...},
//       "gelu":      {"ring": "FM32", "frac_bits": 8, "approx": "quad"},   (puma | quad | exact)
//       "tanh":      {...}           (optional; default FM64 with 18)
//     },
//     "weight_bits": 16,            (optional, 2..24: FM32 weights of embedding/linear/lm_head are
//                                    clamped to signed integers of this many bits)
//     "layers": {"0": {"gelu": {"approx": "puma"}}},   (optional per-layer overrides, merged
//                                    field by field over "ops"; residual, linear, attention,
//                                    softmax, layernorm, gelu only)
//     "scales": {"h.0.mlp.c_fc.weight": {"frac_bits": 11, "ring": "FM32", ...}},  (optional)
//     "calibration": {...}, "model": ...   (optional, kept as written: tools/distill.py's records)
//   }
//
// frac_bits lies in [0, ring bits − 2] (the range trunc_a and the up-cast work in). Every spec
// field outside ring, frac_bits, approx and note is an error, as is every unknown top-level field.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "veil/core/digest.h"
#include "veil/core/ring.h"

namespace veil::nn {

// A malformed plan, or one that does not fit the model it is used with. The message names the
// plan (file or built-in), the field and what is allowed.
struct PlanError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

enum class PlanOp { embedding, residual, linear, lm_head, attention, softmax, layernorm, gelu, tanh };
inline constexpr int kPlanOps = 9;
std::string_view plan_op_name(PlanOp op);

enum class GeluApprox { puma, quad, exact };
std::string_view gelu_approx_name(GeluApprox a);

struct OpFormat {
  Ring ring = Ring::FM64;
  int frac_bits = RingTraits<Ring::FM64>::default_frac_bits;
  GeluApprox approx = GeluApprox::puma;  // the gelu op only
  bool operator==(const OpFormat&) const = default;
};

struct WeightScale {
  int frac_bits = 0;
  std::optional<Ring> ring;  // the ring the scale is for; unset: every ring the tensor is dealt on
};

struct PrecisionPlan {
  std::string name, description;
  std::array<OpFormat, kPlanOps> ops;                  // by PlanOp, defaults filled in
  std::map<int64_t, std::map<PlanOp, OpFormat>> layers;  // merged per-layer overrides
  int weight_bits = 16;
  std::map<std::string, WeightScale> scales;           // canonical tensor name -> scale

  // The format of `op` in `layer` (nullopt: outside the blocks, e.g. ln_f, the head).
  const OpFormat& at(PlanOp op, std::optional<int64_t> layer = std::nullopt) const;
};

// Parses and validates a plan; `source` names it in errors (a path, "built-in ditto").
PrecisionPlan parse_precision_plan(std::string_view json_text, const std::string& source);
// A built-in name (fp64, ditto) or a path to a JSON file.
PrecisionPlan load_precision_plan(const std::string& name_or_path);
// The built-in plans: "fp64" (every op FM64 with 18 fraction bits, PUMA's GeLU) and "ditto"
// (embedding, residual, linear, lm_head and Quad GeLU on FM32 with 8; attention, softmax,
// LayerNorm and tanh on FM64 with 18). Throws PlanError for another name.
PrecisionPlan builtin_plan(std::string_view name);
std::vector<std::string> builtin_plan_names();

// Checks the plan against a model: per-layer overrides within n_layer, and every scale names a
// tensor the checkpoint has (`weight_names`).
void check_plan_for_model(const PrecisionPlan& plan, const std::vector<std::string>& weight_names, int64_t n_layer);

// The plan as canonical JSON (the format above): name, every op with its defaults filled in, the
// per-layer overrides, weight_bits and the scales' frac_bits and ring. Description, calibration
// records and model are left out; parsing it gives back an equal plan.
std::string plan_json(const PrecisionPlan& plan);
// SHA-256 of plan_json without the name: equal for two plans that compute the same thing. A client
// and the serving parties compare it (nn/session_request.h).
Sha256 plan_fingerprint(const PrecisionPlan& plan);
// Whether two plans give every op the same format (ops, layers, weight_bits; scales aside).
bool same_formats(const PrecisionPlan& a, const PrecisionPlan& b);

// The plan a model folder runs under for `--precision` (veil generate, eval-ppl, share-model):
//  * a path: that file;
//  * a built-in name (fp64, ditto) when the folder has a plan.json with the same formats (as
//    tools/distill.py exports next to a distilled model): the folder's plan, with its calibrated
//    weight scales;
//  * a built-in name otherwise: the built-in plan (every tensor at its op's fraction bits); `note`
//    then says why the folder's plan.json, if any, was not used.
struct ResolvedPlan {
  PrecisionPlan plan;
  std::string source;  // "models/x/plan.json (ditto, 52 calibrated scales)", "built-in fp64"
  std::string note;    // for stderr; empty when there is nothing to say
};
ResolvedPlan resolve_precision(const std::string& precision, const std::string& model_dir);

}  // namespace veil::nn
