#include "veil/nn/precision_plan.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace veil::nn {

namespace {

using nlohmann::json;

constexpr std::string_view kFormat = "veil-precision-plan/1";
constexpr std::array<std::string_view, kPlanOps> kOpNames = {"embedding", "residual", "linear",    "lm_head", "attention",
                                                             "softmax",   "layernorm", "gelu", "tanh"};
constexpr std::array<PlanOp, 7> kRequired = {PlanOp::embedding, PlanOp::linear,    PlanOp::lm_head, PlanOp::attention,
                                             PlanOp::softmax,   PlanOp::layernorm, PlanOp::gelu};
constexpr std::array<PlanOp, 6> kLayerOps = {PlanOp::residual, PlanOp::linear,    PlanOp::attention,
                                             PlanOp::softmax,  PlanOp::layernorm, PlanOp::gelu};
const std::set<std::string> kTopKeys = {"format", "name", "description", "ops", "layers", "weight_bits",
                                        "scales", "calibration", "model"};
const std::set<std::string> kSpecKeys = {"ring", "frac_bits", "approx", "note"};
const std::set<std::string> kScaleKeys = {"frac_bits", "ring", "op", "role", "max_abs", "bits"};

// The built-in plans, as data/plans/*.json (tests/nn/ditto_test.cpp checks that they agree).
constexpr std::string_view kFp64 = R"({
  "format": "veil-precision-plan/1",
  "name": "fp64",
  "description": "PUMA-like baseline: every op on Z_2^64 with 18 fraction bits, PUMA's piecewise GeLU.",
  "ops": {
    "embedding": {"ring": "FM64", "frac_bits": 18},
    "residual":  {"ring": "FM64", "frac_bits": 18},
    "linear":    {"ring": "FM64", "frac_bits": 18},
    "lm_head":   {"ring": "FM64", "frac_bits": 18},
    "attention": {"ring": "FM64", "frac_bits": 18},
    "softmax":   {"ring": "FM64", "frac_bits": 18},
    "layernorm": {"ring": "FM64", "frac_bits": 18},
    "gelu":      {"ring": "FM64", "frac_bits": 18, "approx": "puma"},
    "tanh":      {"ring": "FM64", "frac_bits": 18}
  },
  "weight_bits": 16,
  "layers": {}
})";
constexpr std::string_view kDitto = R"({
  "format": "veil-precision-plan/1",
  "name": "ditto",
  "description": "Ditto (Wu et al., ICML 2024): embedding, residual stream, linear layers, LM head and Quad GeLU on Z_2^32 with 8 fraction bits; attention, softmax and LayerNorm on Z_2^64 with 18.",
  "ops": {
    "embedding": {"ring": "FM32", "frac_bits": 8},
    "residual":  {"ring": "FM32", "frac_bits": 8},
    "linear":    {"ring": "FM32", "frac_bits": 8},
    "lm_head":   {"ring": "FM32", "frac_bits": 8},
    "attention": {"ring": "FM64", "frac_bits": 18},
    "softmax":   {"ring": "FM64", "frac_bits": 18},
    "layernorm": {"ring": "FM64", "frac_bits": 18},
    "gelu":      {"ring": "FM32", "frac_bits": 8, "approx": "quad"},
    "tanh":      {"ring": "FM64", "frac_bits": 18}
  },
  "weight_bits": 16,
  "layers": {}
})";

std::optional<PlanOp> op_of(const std::string& name) {
  for (int i = 0; i < kPlanOps; ++i)
    if (kOpNames[size_t(i)] == name) return PlanOp(i);
  return std::nullopt;
}

std::string known_ops() {
  std::string s;
  for (auto n : kOpNames) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

int ring_bits(Ring r) { return r == Ring::FM32 ? 32 : 64; }

Ring parse_ring(const json& v, const std::string& where) {
  if (v.is_string() && v.get<std::string>() == "FM32") return Ring::FM32;
  if (v.is_string() && v.get<std::string>() == "FM64") return Ring::FM64;
  throw PlanError(where + ": " + v.dump() + " is not a ring (use \"FM32\" or \"FM64\")");
}

int parse_int(const json& v, const std::string& where, int lo, int hi) {
  if (!v.is_number_integer()) throw PlanError(where + ": " + v.dump() + " is not an integer");
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    throw PlanError(where + ": " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
  return int(x);
}

GeluApprox parse_approx(const json& v, const std::string& where) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "puma") return GeluApprox::puma;
    if (s == "quad") return GeluApprox::quad;
    if (s == "exact") return GeluApprox::exact;
  }
  throw PlanError(where + ": " + v.dump() + " is not one of puma, quad, exact");
}

// Applies the fields of `spec` over `f`. `partial`: a per-layer override (fields may be missing).
void apply_spec(const json& spec, const std::string& where, PlanOp op, bool partial, OpFormat& f) {
  if (!spec.is_object()) throw PlanError(where + ": must be an object like {\"ring\": \"FM64\", \"frac_bits\": 18}");
  for (const auto& [key, _] : spec.items())
    if (!kSpecKeys.count(key)) throw PlanError(where + ": unknown field \"" + key + "\" (allowed: ring, frac_bits, approx, note)");
  if (spec.contains("ring")) f.ring = parse_ring(spec["ring"], where + ".ring");
  else if (!partial) throw PlanError(where + ": missing \"ring\"");
  if (spec.contains("frac_bits")) f.frac_bits = parse_int(spec["frac_bits"], where + ".frac_bits", 0, ring_bits(f.ring) - 2);
  else if (!partial) throw PlanError(where + ": missing \"frac_bits\"");
  if (f.frac_bits > ring_bits(f.ring) - 2)  // a ring override without new frac bits
    throw PlanError(where + ": frac_bits " + std::to_string(f.frac_bits) + " is out of range [0, " +
                    std::to_string(ring_bits(f.ring) - 2) + "] on " + std::string(ring_name(f.ring)));
  if (spec.contains("approx")) {
    if (op != PlanOp::gelu) throw PlanError(where + ".approx: only the gelu op has an approximation");
    f.approx = parse_approx(spec["approx"], where + ".approx");
  } else if (op == PlanOp::gelu && !partial) {
    throw PlanError(where + ": gelu needs \"approx\" (one of puma, quad, exact)");
  }
}

PrecisionPlan parse(const json& j, const std::string& src) {
  if (!j.is_object()) throw PlanError(src + ": a plan is a JSON object");
  if (!j.contains("format") || j["format"] != std::string(kFormat))
    throw PlanError(src + ": \"format\" must be \"" + std::string(kFormat) + "\" (got " +
                    (j.contains("format") ? j["format"].dump() : std::string("nothing")) + ")");
  for (const auto& [key, _] : j.items())
    if (!kTopKeys.count(key))
      throw PlanError(src + ": unknown top-level field \"" + key +
                      "\" (allowed: format, name, description, ops, layers, weight_bits, scales, calibration, model)");
  PrecisionPlan p;
  if (j.contains("name")) {
    if (!j["name"].is_string()) throw PlanError(src + ": \"name\" must be a string");
    p.name = j["name"].get<std::string>();
  }
  if (j.contains("description") && j["description"].is_string()) p.description = j["description"].get<std::string>();
  if (!j.contains("ops") || !j["ops"].is_object()) throw PlanError(src + ": missing \"ops\" object");
  const json& ops = j["ops"];
  std::array<bool, kPlanOps> given{};
  for (const auto& [name, spec] : ops.items()) {
    const auto op = op_of(name);
    if (!op) throw PlanError(src + ": ops." + name + ": unknown op type (known: " + known_ops() + ")");
    OpFormat f;
    apply_spec(spec, src + ": ops." + name, *op, false, f);
    p.ops[size_t(*op)] = f;
    given[size_t(*op)] = true;
  }
  for (PlanOp op : kRequired)
    if (!given[size_t(op)]) throw PlanError(src + ": ops." + std::string(plan_op_name(op)) + " is missing");
  if (!given[size_t(PlanOp::residual)]) {
    const OpFormat& lin = p.ops[size_t(PlanOp::linear)];
    p.ops[size_t(PlanOp::residual)] = {lin.ring, lin.frac_bits, GeluApprox::puma};
  }
  if (!given[size_t(PlanOp::tanh)]) p.ops[size_t(PlanOp::tanh)] = OpFormat{};
  if (j.contains("weight_bits")) p.weight_bits = parse_int(j["weight_bits"], src + ": weight_bits", 2, 24);
  if (j.contains("layers")) {
    const json& layers = j["layers"];
    if (!layers.is_object()) throw PlanError(src + ": \"layers\" must be an object {\"<layer index>\": {op: spec}}");
    for (const auto& [key, over] : layers.items()) {
      const bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || (key.size() > 1 && key[0] == '0') || key.size() > 9)
        throw PlanError(src + ": layers." + key + ": a layer key is a decimal index like \"0\"");
      if (!over.is_object()) throw PlanError(src + ": layers." + key + " must be an object {op: spec}");
      const int64_t layer = std::stoll(key);
      for (const auto& [name, spec] : over.items()) {
        const auto op = op_of(name);
        const std::string where = src + ": layers." + key + "." + name;
        if (!op) throw PlanError(where + ": unknown op type (known: " + known_ops() + ")");
        if (std::find(kLayerOps.begin(), kLayerOps.end(), *op) == kLayerOps.end())
          throw PlanError(where + ": not a per-layer op (per-layer: residual, linear, attention, softmax, layernorm, gelu)");
        OpFormat f = p.ops[size_t(*op)];
        apply_spec(spec, where, *op, true, f);
        p.layers[layer][*op] = f;
      }
    }
  }
  if (j.contains("scales")) {
    const json& scales = j["scales"];
    if (!scales.is_object()) throw PlanError(src + ": \"scales\" must be an object {tensor name: {\"frac_bits\": n}}");
    for (const auto& [name, s] : scales.items()) {
      const std::string where = src + ": scales." + name;
      if (!s.is_object() || !s.contains("frac_bits")) throw PlanError(where + ": must be an object with \"frac_bits\"");
      for (const auto& [key, _] : s.items())
        if (!kScaleKeys.count(key))
          throw PlanError(where + ": unknown field \"" + key + "\" (allowed: frac_bits, ring, op, role, max_abs, bits)");
      WeightScale ws;
      if (s.contains("ring")) ws.ring = parse_ring(s["ring"], where + ".ring");
      ws.frac_bits = parse_int(s["frac_bits"], where + ".frac_bits", 0, ring_bits(ws.ring.value_or(Ring::FM64)) - 2);
      p.scales.emplace(name, ws);
    }
  }
  if (j.contains("calibration") && !j["calibration"].is_object()) throw PlanError(src + ": \"calibration\" must be an object");
  return p;
}

}  // namespace

std::string_view plan_op_name(PlanOp op) { return kOpNames.at(size_t(op)); }

std::string_view gelu_approx_name(GeluApprox a) {
  return a == GeluApprox::puma ? "puma" : a == GeluApprox::quad ? "quad" : "exact";
}

const OpFormat& PrecisionPlan::at(PlanOp op, std::optional<int64_t> layer) const {
  if (layer) {
    auto l = layers.find(*layer);
    if (l != layers.end()) {
      auto o = l->second.find(op);
      if (o != l->second.end()) return o->second;
    }
  }
  return ops[size_t(op)];
}

PrecisionPlan parse_precision_plan(std::string_view json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw PlanError(source + ": not valid JSON: " + e.what());
  }
  return parse(j, source);
}

std::vector<std::string> builtin_plan_names() { return {"fp64", "ditto"}; }

PrecisionPlan builtin_plan(std::string_view name) {
  if (name == "fp64") return parse_precision_plan(kFp64, "built-in fp64");
  if (name == "ditto") return parse_precision_plan(kDitto, "built-in ditto");
  throw PlanError("no built-in precision plan \"" + std::string(name) + "\" (built-in: fp64, ditto)");
}

PrecisionPlan load_precision_plan(const std::string& name_or_path) {
  for (const std::string& b : builtin_plan_names())
    if (name_or_path == b) return builtin_plan(b);
  std::ifstream in(name_or_path);
  if (!in) throw PlanError("precision plan \"" + name_or_path + "\": no such built-in plan (fp64, ditto) or readable file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_precision_plan(text.str(), name_or_path);
}

void check_plan_for_model(const PrecisionPlan& plan, const std::vector<std::string>& weight_names, int64_t n_layer) {
  const std::string src = "plan " + (plan.name.empty() ? std::string("(unnamed)") : plan.name);
  for (const auto& [layer, _] : plan.layers)
    if (layer >= n_layer)
      throw PlanError(src + ": layers." + std::to_string(layer) + ": the model has only " + std::to_string(n_layer) +
                      " layers (0.." + std::to_string(n_layer - 1) + ")");
  const std::set<std::string> names(weight_names.begin(), weight_names.end());
  for (const auto& [name, _] : plan.scales)
    if (!names.count(name)) throw PlanError(src + ": scales." + name + ": the model has no tensor of that name");
}

}  // namespace veil::nn

namespace veil::nn {

namespace {

nlohmann::json spec_json(PlanOp op, const OpFormat& f) {
  nlohmann::json s = {{"ring", std::string(ring_name(f.ring))}, {"frac_bits", f.frac_bits}};
  if (op == PlanOp::gelu) s["approx"] = std::string(gelu_approx_name(f.approx));
  return s;
}

nlohmann::json canonical(const PrecisionPlan& plan) {
  nlohmann::json ops = nlohmann::json::object(), layers = nlohmann::json::object(), scales = nlohmann::json::object();
  for (int i = 0; i < kPlanOps; ++i) ops[std::string(plan_op_name(PlanOp(i)))] = spec_json(PlanOp(i), plan.ops[size_t(i)]);
  for (const auto& [layer, over] : plan.layers)
    for (const auto& [op, f] : over) layers[std::to_string(layer)][std::string(plan_op_name(op))] = spec_json(op, f);
  for (const auto& [name, s] : plan.scales) {
    scales[name] = {{"frac_bits", s.frac_bits}};
    if (s.ring) scales[name]["ring"] = std::string(ring_name(*s.ring));
  }
  return {{"format", std::string(kFormat)}, {"ops", ops}, {"layers", layers}, {"weight_bits", plan.weight_bits},
          {"scales", scales}};
}

}  // namespace

std::string plan_json(const PrecisionPlan& plan) {
  nlohmann::json j = canonical(plan);
  if (!plan.name.empty()) j["name"] = plan.name;
  return j.dump();
}

Sha256 plan_fingerprint(const PrecisionPlan& plan) { return sha256(canonical(plan).dump()); }

bool same_formats(const PrecisionPlan& a, const PrecisionPlan& b) {
  return a.ops == b.ops && a.layers == b.layers && a.weight_bits == b.weight_bits;
}

ResolvedPlan resolve_precision(const std::string& precision, const std::string& model_dir) {
  const std::vector<std::string> names = builtin_plan_names();
  if (std::find(names.begin(), names.end(), precision) == names.end()) {
    ResolvedPlan r{load_precision_plan(precision), precision, ""};
    r.source += " (" + (r.plan.name.empty() ? std::string("unnamed") : r.plan.name) + ", " +
                std::to_string(r.plan.scales.size()) + " calibrated scales)";
    return r;
  }
  ResolvedPlan r{builtin_plan(precision), "built-in " + precision, ""};
  const std::string own = (std::filesystem::path(model_dir) / "plan.json").string();
  if (model_dir.empty() || !std::filesystem::is_regular_file(own)) return r;
  PrecisionPlan folder = load_precision_plan(own);  // a malformed plan.json is an error, not ignored
  if (same_formats(folder, r.plan)) {
    r.source = own + " (" + precision + ", " + std::to_string(folder.scales.size()) + " calibrated scales)";
    r.plan = std::move(folder);
  } else {
    r.note = own + " is plan '" + folder.name + "', whose formats differ from the built-in " + precision +
             ": not used, every weight is encoded at its op's fraction bits (the model may have been distilled for "
             "its own plan: pass --precision " + own + " to run it)";
  }
  return r;
}

}  // namespace veil::nn
