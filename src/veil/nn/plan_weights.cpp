#include "veil/nn/plan_weights.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "veil/mpc/io.h"

namespace veil::nn {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

template <class T> void deal_on(const std::vector<int64_t>& ints, const Shape& shape, const WeightEncoding& e,
                                const std::string& name, Prg& prg, std::array<PlanWeightShares, 3>& out) {
  std::vector<T> enc(ints.size());
  for (size_t i = 0; i < ints.size(); ++i) enc[i] = T(ints[i]);
  auto pairs = mpc::client_split(enc, prg);
  for (int p = 0; p < 3; ++p) {
    mpc::AShare<T> s(shape);
    s.s0 = std::move(pairs[size_t(p)].first), s.s1 = std::move(pairs[size_t(p)].second);
    RingTensor t = RingTensor::of(std::move(s), e.frac_bits);
    t.weight = name;
    out[size_t(p)][name].push_back(std::move(t));
  }
}

}  // namespace

namespace {

// The index after `prefix` ("h.", "encoder.layer.") up to the next dot.
std::optional<int64_t> index_after(const std::string& name, const std::string& prefix) {
  if (!starts_with(name, prefix)) return std::nullopt;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return std::nullopt;
  const std::string digits = name.substr(prefix.size(), dot - prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoll(digits);
}

}  // namespace

std::optional<int64_t> layer_of(const std::string& name) {
  if (auto l = index_after(name, "h.")) return l;
  return index_after(name, "encoder.layer.");
}

bool is_head_weight(const std::string& name) {
  return name == "lm_head.weight" || name == "wte.weight" || name == "classifier.weight";
}

std::vector<WeightUse> weight_uses(const std::string& name, bool tied_head) {
  if (name == "wte.weight") {
    std::vector<WeightUse> u = {{PlanOp::embedding, std::nullopt, true}};
    if (tied_head) u.push_back({PlanOp::lm_head, std::nullopt, true});
    return u;
  }
  if (name == "wpe.weight" || (starts_with(name, "embeddings.") && ends_with(name, "_embeddings.weight")))
    return {{PlanOp::embedding, std::nullopt, true}};
  if (name == "lm_head.weight") return {{PlanOp::lm_head, std::nullopt, true}};
  if (starts_with(name, "classifier.")) return {{PlanOp::lm_head, std::nullopt, ends_with(name, ".weight")}};
  if (starts_with(name, "ln_f.") || starts_with(name, "embeddings.LayerNorm.")) return {{PlanOp::layernorm, std::nullopt, false}};
  if (starts_with(name, "pooler.dense.")) return {{PlanOp::linear, std::nullopt, ends_with(name, ".weight")}};
  if (const auto layer = layer_of(name)) {
    if (name.find(".ln_1.") != std::string::npos || name.find(".ln_2.") != std::string::npos ||
        name.find(".LayerNorm.") != std::string::npos)
      return {{PlanOp::layernorm, layer, false}};
    return {{PlanOp::linear, layer, ends_with(name, ".weight")}};
  }
  throw PlanError("tensor \"" + name + "\": no op of a precision plan consumes it (not a canonical GPT-2 or BERT tensor?)");
}

std::vector<WeightEncoding> weight_encodings(const PrecisionPlan& plan, const std::string& name, bool tied_head) {
  std::vector<WeightEncoding> out;
  const auto scale = plan.scales.find(name);
  for (const WeightUse& u : weight_uses(name, tied_head)) {
    const OpFormat& f = plan.at(u.op, u.layer);
    const int ring_bits = f.ring == Ring::FM32 ? 32 : 64;
    const bool clamp = f.ring == Ring::FM32 && u.matrix;
    int fb = f.frac_bits;
    if (scale != plan.scales.end() && (!scale->second.ring || *scale->second.ring == f.ring)) fb = scale->second.frac_bits;
    auto same = std::find_if(out.begin(), out.end(), [&](const WeightEncoding& e) { return e.ring == f.ring; });
    if (same == out.end()) {
      out.push_back({f.ring, fb, clamp ? plan.weight_bits : ring_bits});
    } else {
      same->frac_bits = std::max(same->frac_bits, fb);
      if (clamp) same->clamp_bits = std::min(same->clamp_bits, plan.weight_bits);
    }
  }
  return out;
}

int64_t encode_weight(double w, const WeightEncoding& e) {
  const double lim = std::ldexp(1.0, e.clamp_bits - 1);
  const double v = std::nearbyint(std::ldexp(w, e.frac_bits));
  return int64_t(std::clamp(v, -lim, lim - 1));
}

std::array<PlanWeightShares, 3> deal_plan_weights(const Weights& weights, const PrecisionPlan& plan, Prg& prg) {
  std::vector<std::string> names;
  for (const auto& [name, _] : weights) names.push_back(name);
  check_plan_for_model(plan, names, std::numeric_limits<int64_t>::max());
  const bool tied = !weights.count("lm_head.weight");
  std::array<PlanWeightShares, 3> out;
  for (const auto& [name, w] : weights) {
    for (const WeightEncoding& e : weight_encodings(plan, name, tied)) {
      std::vector<int64_t> ints(w.size());
      for (size_t i = 0; i < w.size(); ++i) ints[i] = encode_weight(double(w.data[i]), e);
      if (e.ring == Ring::FM32) deal_on<uint32_t>(ints, w.shape, e, name, prg, out);
      else deal_on<uint64_t>(ints, w.shape, e, name, prg, out);
    }
  }
  return out;
}

}  // namespace veil::nn
