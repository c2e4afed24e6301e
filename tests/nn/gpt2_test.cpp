// GPT-2 on the plaintext backend: KV-cache decoding, checkpoint naming conventions, config
// switches that change the maths, and the errors of a bad model folder.
#include <filesystem>

#include "nn_test_util.h"
#include "veil/model/checkpoint_layout.h"
#include "veil/model/hf_config.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

// All-position logits (T,V) of the model folder `dir` for `ids`.
Tensor<float> full_logits(const std::string& dir, const std::vector<int32_t>& ids) {
  Gpt2Checkpoint ck = load_gpt2_checkpoint(dir);
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  auto cache = gpt2.new_cache();
  return gpt2.logits(gpt2.hidden(ids, cache));
}

TEST(Gpt2, KvCacheDecodeEqualsRecomputingThePrefix) {
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  const auto ids = test::random_ids(24, int32_t(ck.config.vocab_size), 3);
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  auto full_cache = gpt2.new_cache();
  const Tensor<float> full = gpt2.logits(gpt2.hidden(ids, full_cache));  // (T,V)

  const size_t prompt = 5;
  auto cache = gpt2.new_cache();
  Tensor<float> step = gpt2.next_logits(std::vector<int32_t>(ids.begin(), ids.begin() + prompt), cache);
  for (size_t t = prompt;; ++t) {
    EXPECT_LE(test::max_abs_diff(step, be.slice_rows(full, int64_t(t) - 1, 1)), 1e-5) << "position " << t - 1;
    if (t == ids.size()) break;
    step = gpt2.next_logits({ids[t]}, cache);
  }
  EXPECT_EQ(cache.next_position(), int64_t(ids.size()));
  EXPECT_EQ(cache.layer(0).k.shape, (Shape{ck.config.n_head, int64_t(ids.size()), ck.config.head_dim()}));
}

TEST(Gpt2, KvCacheRetainKeepsTheChosenPositions) {
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  auto cache = gpt2.new_cache();
  gpt2.next_logits({1, 2, 3, 4, 5}, cache);
  const Tensor<float> k = cache.layer(1).k;
  cache.retain(be, 1, {0, 3});
  EXPECT_EQ(cache.layer(1).positions, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(test::max_abs_diff(cache.layer(1).k, be.select_rows(k, {0, 3})), 0.0);
  EXPECT_EQ(cache.layer(0).positions.size(), 5u);
  gpt2.next_logits({6}, cache);  // the new token keeps its true position
  EXPECT_EQ(cache.layer(1).positions, (std::vector<int64_t>{0, 3, 5}));
  EXPECT_THROW(cache.retain(be, 1, {2, 1}), std::invalid_argument);
}

TEST(Gpt2, NamingConventionsGiveIdenticalLogits) {
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  const nlohmann::json config = test::read_json(test::gpt2_fixture() + "/config.json");
  const auto ids = test::random_ids(16, int32_t(ck.config.vocab_size), 4);
  const Tensor<float> base = full_logits(test::gpt2_fixture(), ids);

  test::TempDir tmp;
  Weights with_head = ck.weights;
  with_head.emplace("lm_head.weight", ck.weights.at("wte.weight"));
  Weights prefixed_with_head = test::prefixed(ck.weights, "transformer.");
  prefixed_with_head.emplace("lm_head.weight", ck.weights.at("wte.weight"));
  const std::pair<std::string, Weights> variants[] = {
      {"bare", ck.weights},
      {"prefixed", test::prefixed(ck.weights, "transformer.")},
      {"bare-lm-head", with_head},
      {"prefixed-lm-head", prefixed_with_head},
  };
  for (const auto& [name, weights] : variants) {
    const std::string dir = tmp.sub(name);
    test::write_model(dir, config, weights);
    EXPECT_EQ(test::max_abs_diff(full_logits(dir, ids), base), 0.0) << name;
  }

  // An untied lm_head is the one used.
  Weights untied = with_head;
  for (float& v : untied.at("lm_head.weight").data) v = -v;
  const std::string dir = tmp.sub("untied");
  test::write_model(dir, config, untied);
  const Tensor<float> negated = full_logits(dir, ids);
  EXPECT_EQ(negated.data.front(), -base.data.front());
  EXPECT_EQ(negated.data.back(), -base.data.back());
}

// Config settings that change the maths: the result moves, and still matches the float64
// reference that reads the same config.
TEST(Gpt2, ConfigSwitchesChangeTheMathsAsTheReferenceDoes) {
  const nlohmann::json config = test::read_json(test::gpt2_fixture() + "/config.json");
  ASSERT_EQ(config["activation_function"], "gelu_new");
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  const auto ids = test::random_ids(16, int32_t(ck.config.vocab_size), 5);
  const Tensor<float> base = full_logits(test::gpt2_fixture(), ids);
  const bool torch = test::have_torch();
  if (!torch) std::printf("no torch: checking only that each switch changes the logits\n");

  const std::pair<std::string, nlohmann::json> switches[] = {
      {"activation_function", "gelu"},
      {"activation_function", "relu"},
      {"scale_attn_weights", false},
      {"layer_norm_epsilon", 0.5},
  };
  test::TempDir tmp;
  for (const auto& [key, value] : switches) {
    nlohmann::json c = config;
    c[key] = value;
    const std::string dir = tmp.sub(key + "-" + value.dump());
    test::write_model(dir, c, ck.weights);
    const Tensor<float> logits = full_logits(dir, ids);
    EXPECT_GT(test::max_abs_diff(logits, base), 1e-3) << key << " = " << value;
    if (torch) EXPECT_LE(test::max_abs_diff(logits, test::reference(dir, ids)["logits"]), 1e-4) << key;
  }
}

// The error message of loading `dir` (empty when it loads).
std::string load_error(const std::string& dir) {
  try {
    load_gpt2_checkpoint(dir);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Gpt2, BadModelFolderGivesAClearError) {
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  const nlohmann::json config = test::read_json(test::gpt2_fixture() + "/config.json");
  test::TempDir tmp;

  EXPECT_PRED2(test::contains, load_error(tmp.path() + "/absent"), "does not exist");

  const std::string no_config = tmp.sub("no-config");
  model::save_safetensors(no_config + "/model.safetensors", ck.weights);
  EXPECT_PRED2(test::contains, load_error(no_config), "has no config.json");

  const std::string no_weights = tmp.sub("no-weights");
  test::write_json(no_weights + "/config.json", config);
  EXPECT_PRED2(test::contains, load_error(no_weights), "has no model.safetensors");

  Weights missing = ck.weights;
  missing.erase("h.1.mlp.c_fc.bias");
  const std::string missing_dir = tmp.sub("missing-tensor");
  test::write_model(missing_dir, config, missing);
  EXPECT_PRED2(test::contains, load_error(missing_dir), "h.1.mlp.c_fc.bias");
  EXPECT_THROW(load_gpt2_checkpoint(missing_dir), model::CheckpointError);

  Weights misshaped = ck.weights;
  misshaped.at("h.0.attn.c_proj.weight") = Tensor<float>({ck.config.n_embd, ck.config.n_embd + 1});
  const std::string shape_dir = tmp.sub("wrong-shape");
  test::write_model(shape_dir, config, misshaped);
  EXPECT_PRED2(test::contains, load_error(shape_dir), "h.0.attn.c_proj.weight");

  nlohmann::json bad_act = config;
  bad_act["activation_function"] = "softsign";
  const std::string act_dir = tmp.sub("bad-activation");
  test::write_model(act_dir, bad_act, ck.weights);
  EXPECT_THROW(load_gpt2_checkpoint(act_dir), model::ConfigError);
}

TEST(Gpt2, ContextOverflowIsAnError) {
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  auto cache = gpt2.new_cache();
  const std::vector<int32_t> ids(size_t(ck.config.n_positions + 1), 7);
  EXPECT_THROW(gpt2.next_logits(ids, cache), std::out_of_range);
}

}  // namespace
}  // namespace veil::nn
