// `veil generate --precision` and `veil eval-ppl --precision` on the distilled tiny GPT-2
// (models/tiny-gpt2-ditto, with its plan.json): the MPC run under the ditto plan against the
// plan's plaintext simulation (nn/ditto_check.h), the choice of plan for a model folder, and the errors of bad plans.
#include "nn/ditto_check.h"
#include "nn_test_util.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn {
namespace {

const std::string kPrompt = "First Citizen:\nBefore we proceed any further, hear me speak.";

std::string student() { return test::repo_path("models/tiny-gpt2-ditto"); }
std::string veil_cmd(const std::string& args) { return std::string(VEIL_BINARY) + " " + args; }

// Runs with --json; returns the parsed stdout and keeps stderr in `log`.
nlohmann::json run_json(const std::string& args, std::string* log = nullptr) {
  test::TempDir tmp;
  const std::string err = tmp.path() + "/stderr";
  const test::CommandResult r = test::run_command(veil_cmd(args + " --json 2>" + err));
  std::ifstream in(err);
  const std::string stderr_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(r.rc, 0) << args << "\n" << r.out << stderr_text;
  if (log) *log = stderr_text;
  return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

test::CommandResult fails(const std::string& args) {
  test::CommandResult r = test::run_command(veil_cmd(args + " 2>&1"));
  EXPECT_NE(r.rc, 0) << args << "\n" << r.out;
  return r;
}

// The MPC run under the ditto plan follows the plan's simulation (nn/ditto_check.h: each token
// within 5% of the largest logit of the simulation's best, most of them exactly its argmax), and
// the folder's plan.json, with its calibrated scales, is the plan `--precision ditto` runs.
TEST(DittoCli, GenerateDittoFollowsItsSimulation) {
  if (!std::filesystem::exists(student() + "/plan.json")) GTEST_SKIP() << student() << " is absent";
  const std::string args = "--model " + student() + " --prompt '" + kPrompt + "' --max-new-tokens 8 --ignore-eos --precision ditto";
  std::string mpc_log, sim_log;
  const nlohmann::json mpc = run_json("generate " + args, &mpc_log);
  const nlohmann::json sim = run_json("generate --backend plaintext " + args, &sim_log);
  ASSERT_TRUE(mpc.contains("tokens") && sim.contains("tokens"));
  std::printf("[ditto-cli] generate --precision ditto on tiny-gpt2-ditto: mpc %s, simulation %s\n", mpc.at("tokens").dump().c_str(),
              sim.at("tokens").dump().c_str());
  ASSERT_EQ(mpc.at("tokens").size(), 8u);
  EXPECT_EQ(mpc.at("precision"), "ditto");
  const auto agreement = test::expect_follows_simulation(student(), load_precision_plan(student() + "/plan.json"),
                                                         mpc.at("prompt_tokens").get<std::vector<int32_t>>(),
                                                         mpc.at("tokens").get<std::vector<int32_t>>());
  EXPECT_GE(agreement.exact, 6);
  // The simulation's own tokens are its argmax at every step.
  EXPECT_EQ(test::expect_follows_simulation(student(), load_precision_plan(student() + "/plan.json"),
                                            sim.at("prompt_tokens").get<std::vector<int32_t>>(),
                                            sim.at("tokens").get<std::vector<int32_t>>())
                .exact,
            8);
  for (const std::string* log : {&mpc_log, &sim_log}) {
    EXPECT_PRED2(test::contains, *log, "plan.json (ditto, 52 calibrated scales)");
    EXPECT_FALSE(test::contains(*log, "warning")) << *log;
  }
  for (const auto& s : mpc.at("steps")) EXPECT_GT(s.at("bytes_all_parties").get<int64_t>(), 0);
}

// A built-in name on a folder whose plan.json has other formats is the built-in plan, and says so.
TEST(DittoCli, Fp64OnTheDistilledFolderSaysItsPlanIsNotUsed) {
  if (!std::filesystem::exists(student() + "/plan.json")) GTEST_SKIP() << student() << " is absent";
  std::string log;
  const nlohmann::json j = run_json("generate --backend plaintext --model " + student() + " --prompt '" + kPrompt +
                                        "' --max-new-tokens 2 --precision fp64",
                                    &log);
  EXPECT_EQ(j.at("tokens").size(), 2u);
  EXPECT_PRED2(test::contains, log, "built-in fp64");
  EXPECT_PRED2(test::contains, log, "--precision " + student() + "/plan.json");
}

TEST(DittoCli, BadPlansAreClearErrors) {
  test::TempDir tmp;
  const std::string model = "--model " + test::gpt2_fixture() + " --prompt hi --max-new-tokens 1 --precision ";
  const std::string base = "generate " + model;
  EXPECT_PRED2(test::contains, fails(base + "fp32").out, "no such built-in plan (fp64, ditto) or readable file");

  nlohmann::json plan = nlohmann::json::parse(R"({"format": "veil-precision-plan/1", "name": "bad", "ops": {
    "embedding": {"ring": "FM32", "frac_bits": 8}, "linear": {"ring": "FM16", "frac_bits": 8},
    "lm_head": {"ring": "FM32", "frac_bits": 8}, "attention": {"ring": "FM64", "frac_bits": 18},
    "softmax": {"ring": "FM64", "frac_bits": 18}, "layernorm": {"ring": "FM64", "frac_bits": 18},
    "gelu": {"ring": "FM32", "frac_bits": 8, "approx": "quad"}}})");
  test::write_json(tmp.path() + "/ring.json", plan);
  EXPECT_PRED2(test::contains, fails(base + tmp.path() + "/ring.json").out, "ops.linear.ring");

  plan["ops"]["linear"]["ring"] = "FM32";
  plan["scales"] = {{"h.9.mlp.c_fc.weight", {{"frac_bits", 12}}}};  // a tensor the model lacks
  test::write_json(tmp.path() + "/scales.json", plan);
  EXPECT_PRED2(test::contains, fails(base + tmp.path() + "/scales.json").out,
               "scales.h.9.mlp.c_fc.weight: the model has no tensor of that name");
  EXPECT_PRED2(test::contains, fails("generate --backend plaintext " + model + tmp.path() + "/scales.json").out,
               "the model has no tensor of that name");

  plan.erase("scales");
  plan["ops"]["gelu"]["approx"] = "exact";
  test::write_json(tmp.path() + "/exact.json", plan);
  EXPECT_PRED2(test::contains, fails(base + tmp.path() + "/exact.json").out, "the exact GeLU has no MPC kernel");

  std::ofstream(tmp.path() + "/broken.json") << "{\"format\": ";
  EXPECT_PRED2(test::contains, fails(base + tmp.path() + "/broken.json").out, "not valid JSON");
}

// Perplexity under MPC with the ditto plan: within 1% of the plan's simulation on the same windows.
TEST(DittoCli, EvalPplUnderMpcFollowsTheSimulation) {
  if (!std::filesystem::exists(student() + "/plan.json")) GTEST_SKIP() << student() << " is absent";
  const std::string text = test::repo_path("../shared/data/text/tinyshakespeare.txt");
  if (!std::filesystem::exists(text)) GTEST_SKIP() << text << " is absent";
  const std::string args = "eval-ppl --model " + student() + " --text " + text + " --heldout --tokens 128 --context 64 --precision ditto";
  const nlohmann::json mpc = run_json(args + " --backend mpc");
  const nlohmann::json sim = run_json(args + " --backend plaintext");
  ASSERT_TRUE(mpc.contains("perplexity") && sim.contains("perplexity"));
  const double pm = mpc.at("perplexity").get<double>(), ps = sim.at("perplexity").get<double>();
  std::printf("[ditto-cli] eval-ppl tiny-gpt2-ditto, 2 held-out windows of 64: mpc %.4f, simulation %.4f\n", pm, ps);
  EXPECT_EQ(mpc.at("scored_tokens"), sim.at("scored_tokens"));
  EXPECT_EQ(mpc.at("scored_tokens").get<int64_t>(), 126);
  EXPECT_EQ(mpc.at("mpc").at("windows").get<int64_t>(), 2);
  EXPECT_GT(mpc.at("mpc").at("bytes_all_parties").get<int64_t>(), 0);
  EXPECT_NEAR(pm, ps, 0.01 * ps);
}

}  // namespace
}  // namespace veil::nn
