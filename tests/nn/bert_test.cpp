// BERT on the plaintext backend: naming conventions and the BertModel / classifier split.
#include "nn_test_util.h"
#include "veil/nn/bert.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

struct Outputs {
  Tensor<float> hidden, logits;
};

Outputs run(const std::string& dir, const std::vector<int32_t>& ids) {
  BertCheckpoint ck = load_bert_checkpoint(dir);
  PlainBackend be(std::move(ck.weights));
  Bert<PlainBackend> bert(be, ck.config);
  const std::vector<int32_t> types(ids.size(), 0);
  return {bert.encode(ids, types), bert.classify(ids, types)};
}

TEST(Bert, NamingConventionsGiveIdenticalOutputs) {
  const BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  const nlohmann::json config = test::read_json(test::bert_fixture() + "/config.json");
  const auto ids = test::random_ids(12, int32_t(ck.config.vocab_size), 6);
  const Outputs base = run(test::bert_fixture(), ids);
  EXPECT_EQ(base.logits.shape, (Shape{1, ck.config.num_labels()}));

  Weights old_names;  // TF-era LayerNorm gamma / beta, "bert." prefix
  for (const auto& [name, t] : ck.weights) {
    std::string n = name.starts_with("classifier.") ? name : "bert." + name;
    if (n.find("LayerNorm.") != std::string::npos) {
      if (n.ends_with(".weight")) n = n.substr(0, n.size() - 6) + "gamma";
      if (n.ends_with(".bias")) n = n.substr(0, n.size() - 4) + "beta";
    }
    old_names.emplace(n, t);
  }
  test::TempDir tmp;
  const std::pair<std::string, Weights> variants[] = {{"bare", ck.weights}, {"gamma-beta", old_names}};
  for (const auto& [name, weights] : variants) {
    const std::string dir = tmp.sub(name);
    test::write_model(dir, config, weights);
    const Outputs o = run(dir, ids);
    EXPECT_EQ(test::max_abs_diff(o.hidden, base.hidden), 0.0) << name;
    EXPECT_EQ(test::max_abs_diff(o.logits, base.logits), 0.0) << name;
  }
}

TEST(Bert, BertModelEncodesButCannotClassify) {
  const BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  nlohmann::json config = test::read_json(test::bert_fixture() + "/config.json");
  config["architectures"] = {"BertModel"};
  Weights body;
  for (const auto& [name, t] : ck.weights)
    if (!name.starts_with("pooler.") && !name.starts_with("classifier.")) body.emplace(name, t);
  test::TempDir tmp;
  test::write_model(tmp.path(), config, body);

  const auto ids = test::random_ids(8, int32_t(ck.config.vocab_size), 7);
  const std::vector<int32_t> types(ids.size(), 0);
  BertCheckpoint loaded = load_bert_checkpoint(tmp.path());
  PlainBackend be(std::move(loaded.weights));
  Bert<PlainBackend> bert(be, loaded.config);
  EXPECT_EQ(test::max_abs_diff(bert.encode(ids, types), run(test::bert_fixture(), ids).hidden), 0.0);
  try {
    bert.classify(ids, types);
    ADD_FAILURE() << "classify without a classifier must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_PRED2(test::contains, e.what(), "BertForSequenceClassification");
  }
}

TEST(Bert, TooLongInputIsAnError) {
  BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  PlainBackend be(std::move(ck.weights));
  Bert<PlainBackend> bert(be, ck.config);
  const std::vector<int32_t> ids(size_t(ck.config.max_position_embeddings + 1), 3);
  EXPECT_THROW(bert.encode(ids, std::vector<int32_t>(ids.size(), 0)), std::out_of_range);
}

}  // namespace
}  // namespace veil::nn
