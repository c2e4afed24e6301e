// Precision plans (nn/precision_plan.h): good and bad plans, the built-in plans against
// data/plans, the checks against a model and against the MPC kernels, and the weights a plan
// deals (nn/plan_weights.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "nn_test_util.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn {
namespace {

const std::string kModel = test::gpt2_fixture();

const char* kGoodPlan = R"({
  "format": "veil-precision-plan/1",
  "name": "custom",
  "ops": {
    "embedding": {"ring": "FM32", "frac_bits": 8},
    "linear":    {"ring": "FM32", "frac_bits": 8, "note": "Ditto"},
    "lm_head":   {"ring": "FM64", "frac_bits": 18},
    "attention": {"ring": "FM64", "frac_bits": 18},
    "softmax":   {"ring": "FM64", "frac_bits": 18},
    "layernorm": {"ring": "FM64", "frac_bits": 18},
    "gelu":      {"ring": "FM32", "frac_bits": 8, "approx": "quad"}
  },
  "layers": {"1": {"gelu": {"ring": "FM64", "frac_bits": 18, "approx": "puma"}, "linear": {"frac_bits": 9}}},
  "scales": {"h.0.mlp.c_fc.weight": {"frac_bits": 11, "ring": "FM32", "op": "linear", "role": "weight"}},
  "weight_bits": 12,
  "calibration": {"anything": [1, 2]}
})";

TEST(PrecisionPlanTest, ParsesAPlanWithOverridesAndScales) {
  const PrecisionPlan p = parse_precision_plan(kGoodPlan, "good.json");
  EXPECT_EQ(p.name, "custom");
  EXPECT_EQ(p.weight_bits, 12);
  EXPECT_EQ(p.at(PlanOp::linear), (OpFormat{Ring::FM32, 8, GeluApprox::puma}));
  EXPECT_EQ(p.at(PlanOp::gelu).approx, GeluApprox::quad);
  EXPECT_EQ(p.at(PlanOp::gelu, 0).ring, Ring::FM32);  // no override for layer 0
  EXPECT_EQ(p.at(PlanOp::gelu, 1), (OpFormat{Ring::FM64, 18, GeluApprox::puma}));
  EXPECT_EQ(p.at(PlanOp::linear, 1), (OpFormat{Ring::FM32, 9, GeluApprox::puma}));  // merged field by field
  // Defaults: residual follows linear, tanh is FM64 with 18.
  EXPECT_EQ(p.at(PlanOp::residual), (OpFormat{Ring::FM32, 8, GeluApprox::puma}));
  EXPECT_EQ(p.at(PlanOp::tanh), (OpFormat{Ring::FM64, 18, GeluApprox::puma}));
  ASSERT_EQ(p.scales.count("h.0.mlp.c_fc.weight"), 1u);
  EXPECT_EQ(p.scales.at("h.0.mlp.c_fc.weight").frac_bits, 11);
  EXPECT_EQ(p.scales.at("h.0.mlp.c_fc.weight").ring, Ring::FM32);
}

// plan_json is canonical and parses back to the same plan; the fingerprint covers what the
// computation depends on (formats, weight_bits, scales) and not the name.
TEST(PrecisionPlanTest, CanonicalJsonAndFingerprint) {
  const PrecisionPlan p = parse_precision_plan(kGoodPlan, "good.json");
  const PrecisionPlan back = parse_precision_plan(plan_json(p), "canonical");
  EXPECT_EQ(back.name, "custom");
  EXPECT_TRUE(same_formats(back, p));
  EXPECT_EQ(back.scales.at("h.0.mlp.c_fc.weight").frac_bits, 11);
  EXPECT_EQ(plan_json(back), plan_json(p));
  EXPECT_EQ(plan_fingerprint(back), plan_fingerprint(p));
  PrecisionPlan renamed = p;
  renamed.name = "other";
  EXPECT_EQ(plan_fingerprint(renamed), plan_fingerprint(p));
  PrecisionPlan rescaled = p;
  rescaled.scales.at("h.0.mlp.c_fc.weight").frac_bits = 12;
  EXPECT_NE(plan_fingerprint(rescaled), plan_fingerprint(p));
  EXPECT_TRUE(same_formats(rescaled, p));
  PrecisionPlan regelu = p;
  regelu.ops[size_t(PlanOp::gelu)].approx = GeluApprox::puma;
  EXPECT_NE(plan_fingerprint(regelu), plan_fingerprint(p));
  EXPECT_FALSE(same_formats(regelu, p));
  EXPECT_NE(plan_fingerprint(builtin_plan("fp64")), plan_fingerprint(builtin_plan("ditto")));
}

// --precision NAME on a model folder: the folder's plan.json when its formats are the built-in's
// (its scales come with it), the built-in plan otherwise, with a note when a plan.json is passed over.
TEST(PrecisionPlanTest, ResolvesBuiltInNamesAgainstTheModelFolder) {
  test::TempDir tmp;
  const ResolvedPlan none = resolve_precision("ditto", tmp.path());
  EXPECT_EQ(none.source, "built-in ditto");
  EXPECT_TRUE(none.note.empty());
  EXPECT_TRUE(none.plan.scales.empty());

  nlohmann::json own = nlohmann::json::parse(plan_json(builtin_plan("ditto")));
  own["scales"] = {{"h.0.mlp.c_fc.weight", {{"frac_bits", 13}}}};
  test::write_json(tmp.path() + "/plan.json", own);
  const ResolvedPlan folder = resolve_precision("ditto", tmp.path());
  EXPECT_EQ(folder.source, tmp.path() + "/plan.json (ditto, 1 calibrated scales)");
  EXPECT_EQ(folder.plan.scales.at("h.0.mlp.c_fc.weight").frac_bits, 13);
  EXPECT_TRUE(folder.note.empty());

  const ResolvedPlan fp64 = resolve_precision("fp64", tmp.path());
  EXPECT_EQ(fp64.source, "built-in fp64");
  EXPECT_TRUE(fp64.plan.scales.empty());
  EXPECT_PRED2(test::contains, fp64.note, "pass --precision " + tmp.path() + "/plan.json to run it");

  const ResolvedPlan file = resolve_precision(tmp.path() + "/plan.json", "");
  EXPECT_EQ(file.plan.scales.size(), 1u);
  std::ofstream(tmp.path() + "/plan.json") << "{";
  EXPECT_THROW(resolve_precision("ditto", tmp.path()), PlanError);  // a broken plan.json is not skipped
}

TEST(PrecisionPlanTest, BuiltInPlans) {
  const PrecisionPlan fp64 = builtin_plan("fp64"), ditto = builtin_plan("ditto");
  for (int i = 0; i < kPlanOps; ++i) EXPECT_EQ(fp64.ops[size_t(i)], (OpFormat{Ring::FM64, 18, GeluApprox::puma})) << i;
  for (PlanOp op : {PlanOp::embedding, PlanOp::residual, PlanOp::linear, PlanOp::lm_head})
    EXPECT_EQ(ditto.at(op), (OpFormat{Ring::FM32, 8, GeluApprox::puma})) << plan_op_name(op);
  EXPECT_EQ(ditto.at(PlanOp::gelu), (OpFormat{Ring::FM32, 8, GeluApprox::quad}));
  for (PlanOp op : {PlanOp::attention, PlanOp::softmax, PlanOp::layernorm, PlanOp::tanh})
    EXPECT_EQ(ditto.at(op), (OpFormat{Ring::FM64, 18, GeluApprox::puma})) << plan_op_name(op);
  EXPECT_EQ(load_precision_plan("ditto").at(PlanOp::gelu).approx, GeluApprox::quad);
  EXPECT_THROW(builtin_plan("fp32"), PlanError);
}

TEST(PrecisionPlanTest, BuiltInPlansAgreeWithTheDataFiles) {
  for (const std::string& name : builtin_plan_names()) {
    const std::string path = test::repo_path("data/plans/" + name + ".json");
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
    const PrecisionPlan file = load_precision_plan(path), built = builtin_plan(name);
    EXPECT_EQ(file.name, built.name);
    EXPECT_EQ(file.ops, built.ops) << path;
    EXPECT_EQ(file.layers, built.layers) << path;
    EXPECT_EQ(file.weight_bits, built.weight_bits) << path;
    EXPECT_TRUE(file.scales.empty()) << path;
  }
}

// The plan with `field` of ops.<op> (or a top-level field when op is empty) replaced.
std::string with(const std::string& op, const std::string& field, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(kGoodPlan);
  if (op.empty()) j[field] = nlohmann::json::parse(value);
  else j["ops"][op][field] = nlohmann::json::parse(value);
  return j.dump();
}

void expect_plan_error(const std::string& text, const std::string& part) {
  try {
    parse_precision_plan(text, "bad.json");
    ADD_FAILURE() << "no error; expected one mentioning " << part;
  } catch (const PlanError& e) {
    EXPECT_TRUE(test::contains(e.what(), part)) << e.what();
    EXPECT_TRUE(test::contains(e.what(), "bad.json")) << e.what();
  }
}

TEST(PrecisionPlanTest, RejectsBadPlansWithClearErrors) {
  expect_plan_error("{", "not valid JSON");
  expect_plan_error("[]", "a plan is a JSON object");
  expect_plan_error(with("", "format", "\"veil-precision-plan/2\""), "\"format\" must be");
  expect_plan_error(with("", "colour", "1"), "unknown top-level field \"colour\"");
  expect_plan_error(with("", "ops", "{\"embeding\": {\"ring\": \"FM32\", \"frac_bits\": 8}}"), "ops.embeding: unknown op type");
  expect_plan_error(with("linear", "ring", "\"FM16\""), "\"FM16\" is not a ring");
  expect_plan_error(with("linear", "frac_bits", "31"), "out of range [0, 30]");
  expect_plan_error(with("softmax", "frac_bits", "63"), "out of range [0, 62]");
  expect_plan_error(with("linear", "frac_bits", "-1"), "out of range");
  expect_plan_error(with("linear", "frac_bits", "8.5"), "is not an integer");
  expect_plan_error(with("linear", "approx", "\"quad\""), "only the gelu op has an approximation");
  expect_plan_error(with("gelu", "approx", "\"relu\""), "is not one of puma, quad, exact");
  expect_plan_error(with("linear", "rounding", "\"up\""), "unknown field \"rounding\"");
  expect_plan_error(with("", "weight_bits", "40"), "weight_bits: 40 is out of range [2, 24]");
  {
    nlohmann::json j = nlohmann::json::parse(kGoodPlan);
    j["ops"].erase("softmax");
    expect_plan_error(j.dump(), "ops.softmax is missing");
    j = nlohmann::json::parse(kGoodPlan);
    j["ops"]["gelu"].erase("approx");
    expect_plan_error(j.dump(), "gelu needs \"approx\"");
    j = nlohmann::json::parse(kGoodPlan);
    j["ops"]["linear"].erase("ring");
    expect_plan_error(j.dump(), "missing \"ring\"");
  }
  expect_plan_error(with("", "layers", R"({"x": {}})"), "a layer key is a decimal index");
  expect_plan_error(with("", "layers", R"({"01": {}})"), "a layer key is a decimal index");
  expect_plan_error(with("", "layers", R"({"0": {"lm_head": {"frac_bits": 9}}})"), "not a per-layer op");
  expect_plan_error(with("", "layers", R"({"0": {"linear": {"ring": "FM32", "frac_bits": 40}}})"), "out of range [0, 30]");
  // An override of the ring alone keeps the global frac bits, which must fit the new ring.
  {
    nlohmann::json j = nlohmann::json::parse(with("softmax", "frac_bits", "40"));
    j["layers"] = nlohmann::json::parse(R"({"0": {"softmax": {"ring": "FM32"}}})");
    expect_plan_error(j.dump(), "frac_bits 40 is out of range [0, 30] on FM32");
  }
  expect_plan_error(with("", "scales", R"({"wte.weight": {"bits": 3}})"), "must be an object with \"frac_bits\"");
  expect_plan_error(with("", "scales", R"({"wte.weight": {"frac_bits": 3, "owner": "me"}})"), "unknown field \"owner\"");
  expect_plan_error(with("", "scales", R"({"wte.weight": {"frac_bits": 31, "ring": "FM32"}})"), "out of range [0, 30]");
  try {
    load_precision_plan("/nonexistent/plan.json");
    ADD_FAILURE() << "no error for a missing file";
  } catch (const PlanError& e) {
    EXPECT_TRUE(test::contains(e.what(), "no such built-in plan (fp64, ditto) or readable file")) << e.what();
  }
}

TEST(PrecisionPlanTest, ChecksThePlanAgainstTheModel) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  std::vector<std::string> names;
  for (const auto& [name, _] : ck.weights) names.push_back(name);
  const PrecisionPlan good = parse_precision_plan(kGoodPlan, "good.json");
  EXPECT_NO_THROW(check_plan_for_model(good, names, ck.config.n_layer));
  try {
    check_plan_for_model(parse_precision_plan(with("", "scales", R"({"h.0.mlp.c_fc.wieght": {"frac_bits": 9}})"), "p"),
                         names, ck.config.n_layer);
    ADD_FAILURE() << "no error for a scale of a missing tensor";
  } catch (const PlanError& e) {
    EXPECT_TRUE(test::contains(e.what(), "scales.h.0.mlp.c_fc.wieght: the model has no tensor of that name")) << e.what();
  }
  try {
    check_plan_for_model(parse_precision_plan(with("", "layers", R"({"2": {"gelu": {"approx": "quad"}}})"), "p"), names,
                         ck.config.n_layer);
    ADD_FAILURE() << "no error for a layer the model lacks";
  } catch (const PlanError& e) {
    EXPECT_TRUE(test::contains(e.what(), "layers.2: the model has only 2 layers")) << e.what();
  }
}

TEST(PrecisionPlanTest, ChecksWhatTheMpcKernelsCanRun) {
  const PrecisionPlan ditto = builtin_plan("ditto");
  const mpc::Config cfg = mpc_config_for(ditto);
  EXPECT_EQ(cfg.frac_bits_fm64, 18);
  EXPECT_EQ(cfg.frac_bits_fm32, 8);
  EXPECT_NO_THROW(check_plan_for_mpc(ditto, cfg));
  EXPECT_THROW(check_plan_for_mpc(parse_precision_plan(with("gelu", "approx", "\"exact\""), "p"), cfg), PlanError);
  // softmax and layernorm on FM64 with different fraction bits cannot share one context.
  EXPECT_THROW(mpc_config_for(parse_precision_plan(with("softmax", "frac_bits", "16"), "p")), PlanError);
  nlohmann::json all16 = nlohmann::json::parse(with("", "layers", "{}"));
  all16["ops"] = nlohmann::json::parse( R"({"embedding": {"ring": "FM64", "frac_bits": 16}, "linear": {"ring": "FM64", "frac_bits": 16},
        "lm_head": {"ring": "FM64", "frac_bits": 16}, "attention": {"ring": "FM64", "frac_bits": 16},
        "softmax": {"ring": "FM64", "frac_bits": 16}, "layernorm": {"ring": "FM64", "frac_bits": 16},
        "gelu": {"ring": "FM64", "frac_bits": 16, "approx": "puma"}, "tanh": {"ring": "FM64", "frac_bits": 16}})");
  const PrecisionPlan f16 = parse_precision_plan(all16.dump(), "p");
  EXPECT_EQ(mpc_config_for(f16).frac_bits_fm64, 16);
  EXPECT_THROW(check_plan_for_mpc(f16, mpc::Config{}), PlanError);
}

TEST(PlanWeightsTest, EncodingsFollowTheOpsScalesAndClamp) {
  const PrecisionPlan p = parse_precision_plan(kGoodPlan, "good.json");
  // Tied head: wte feeds the embedding (FM32/8) and the head (FM64/18).
  auto wte = weight_encodings(p, "wte.weight", true);
  ASSERT_EQ(wte.size(), 2u);
  EXPECT_EQ(wte[0].ring, Ring::FM32);
  EXPECT_EQ(wte[0].frac_bits, 8);
  EXPECT_EQ(wte[0].clamp_bits, 12);
  EXPECT_EQ(wte[1].ring, Ring::FM64);
  EXPECT_EQ(wte[1].frac_bits, 18);
  EXPECT_EQ(wte[1].clamp_bits, 64);
  EXPECT_EQ(weight_encodings(p, "wte.weight", false).size(), 1u);
  auto fc = weight_encodings(p, "h.0.mlp.c_fc.weight", true);
  ASSERT_EQ(fc.size(), 1u);
  EXPECT_EQ(fc[0].frac_bits, 11);  // the scale
  EXPECT_EQ(weight_encodings(p, "h.1.mlp.c_fc.weight", true)[0].frac_bits, 9);  // layer 1's linear
  auto bias = weight_encodings(p, "h.0.mlp.c_fc.bias", true);
  EXPECT_EQ(bias[0].clamp_bits, 32);  // biases are not clamped to weight_bits
  auto ln = weight_encodings(p, "h.1.ln_2.weight", true);
  EXPECT_EQ(ln[0].ring, Ring::FM64);
  EXPECT_EQ(encode_weight(0.5, fc[0]), 1024);
  EXPECT_EQ(encode_weight(3.0, fc[0]), 2047);   // clamped to 12 signed bits
  EXPECT_EQ(encode_weight(-3.0, fc[0]), -2048);
  EXPECT_EQ(layer_of("h.12.attn.c_proj.bias"), 12);
  EXPECT_EQ(layer_of("ln_f.weight"), std::nullopt);
  EXPECT_THROW(weight_uses("bert.pooler.dense.weight", true), PlanError);
}

}  // namespace
}  // namespace veil::nn
