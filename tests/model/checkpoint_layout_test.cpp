#include "veil/model/checkpoint_layout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

namespace veil::model {
namespace {

namespace fs = std::filesystem;

Gpt2Config tiny_gpt2() {
  return parse_gpt2_config(nlohmann::json::parse(R"({"n_layer": 2, "n_head": 2, "n_embd": 4,
      "n_positions": 6, "vocab_size": 10, "n_inner": 12})"), "tiny-gpt2");
}

BertConfig tiny_bert(bool classifier) {
  nlohmann::json j = nlohmann::json::parse(R"({"hidden_size": 4, "num_hidden_layers": 1,
      "num_attention_heads": 2, "intermediate_size": 8, "max_position_embeddings": 5,
      "vocab_size": 11, "type_vocab_size": 2, "id2label": {"0": "no", "1": "yes", "2": "maybe"}})");
  if (classifier) j["architectures"] = {"BertForSequenceClassification"};
  return parse_bert_config(j, "tiny-bert");
}

class CheckpointLayoutTest : public ::testing::Test {
 protected:
  CheckpointLayoutTest()
      : dir_(fs::temp_directory_path() /
             ("veil_layout_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::create_directories(dir_);
  }
  ~CheckpointLayoutTest() override { fs::remove_all(dir_); }

  // Saves one zero tensor per entry of `layout` (required or not), under the names that
  // `rename` gives, plus `extra`, and loads the file back.
  SafeTensors save(const TensorLayout& layout, const std::function<std::string(std::string)>& rename,
                   const std::map<std::string, Shape>& extra = {}) const {
    std::map<std::string, Tensor<float>> tensors;
    for (const auto& [name, expected] : layout) tensors[rename(name)] = Tensor<float>(expected.shape);
    for (const auto& [name, shape] : extra) tensors[name] = Tensor<float>(shape);
    const std::string path = (dir_ / "model.safetensors").string();
    save_safetensors(path, tensors);
    return load_safetensors(path);
  }

  fs::path dir_;
};

std::string same(std::string name) { return name; }

std::string match_error(const std::function<void()>& match) {
  try {
    match();
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

TEST(CheckpointLayout, Gpt2ShapesFollowConfig) {
  const TensorLayout l = gpt2_layout(tiny_gpt2());
  EXPECT_EQ(l.at("wte.weight").shape, (Shape{10, 4}));
  EXPECT_EQ(l.at("wpe.weight").shape, (Shape{6, 4}));
  EXPECT_EQ(l.at("h.1.attn.c_attn.weight").shape, (Shape{4, 12}));
  EXPECT_EQ(l.at("h.1.attn.c_attn.bias").shape, (Shape{12}));
  EXPECT_EQ(l.at("h.0.attn.c_proj.weight").shape, (Shape{4, 4}));
  EXPECT_EQ(l.at("h.0.mlp.c_fc.weight").shape, (Shape{4, 12}));
  EXPECT_EQ(l.at("h.0.mlp.c_proj.weight").shape, (Shape{12, 4}));
  EXPECT_EQ(l.at("h.0.mlp.c_proj.bias").shape, (Shape{4}));
  EXPECT_EQ(l.at("ln_f.bias").shape, (Shape{4}));
  EXPECT_FALSE(l.at("lm_head.weight").required);
  EXPECT_EQ(l.size(), 2 + 2 * 12 + 2 + 1u);  // embeddings, 12 per layer, ln_f, lm_head
}

TEST(CheckpointLayout, BertShapesFollowConfig) {
  const TensorLayout l = bert_layout(tiny_bert(true));
  EXPECT_EQ(l.at("embeddings.word_embeddings.weight").shape, (Shape{11, 4}));
  EXPECT_EQ(l.at("embeddings.position_embeddings.weight").shape, (Shape{5, 4}));
  EXPECT_EQ(l.at("embeddings.token_type_embeddings.weight").shape, (Shape{2, 4}));
  EXPECT_EQ(l.at("encoder.layer.0.attention.self.key.weight").shape, (Shape{4, 4}));
  EXPECT_EQ(l.at("encoder.layer.0.intermediate.dense.weight").shape, (Shape{8, 4}));
  EXPECT_EQ(l.at("encoder.layer.0.output.dense.weight").shape, (Shape{4, 8}));
  EXPECT_EQ(l.at("encoder.layer.0.output.LayerNorm.bias").shape, (Shape{4}));
  EXPECT_EQ(l.at("classifier.weight").shape, (Shape{3, 4}));
  EXPECT_TRUE(l.at("classifier.bias").required);
  EXPECT_TRUE(l.at("pooler.dense.weight").required);
  EXPECT_FALSE(bert_layout(tiny_bert(false)).at("classifier.weight").required);
  EXPECT_FALSE(bert_layout(tiny_bert(false)).at("pooler.dense.weight").required);
}

TEST(CheckpointLayout, CanonicalNames) {
  EXPECT_EQ(canonical_gpt2_name("transformer.h.3.mlp.c_fc.weight"), "h.3.mlp.c_fc.weight");
  EXPECT_EQ(canonical_gpt2_name("h.3.attn.c_attn.bias"), "h.3.attn.c_attn.bias");
  EXPECT_EQ(canonical_gpt2_name("lm_head.weight"), "lm_head.weight");
  EXPECT_EQ(canonical_gpt2_name("transformer.h.11.attn.bias"), std::nullopt);
  EXPECT_EQ(canonical_gpt2_name("h.0.attn.masked_bias"), std::nullopt);
  EXPECT_EQ(canonical_gpt2_name("h.x.attn.bias"), "h.x.attn.bias");

  EXPECT_EQ(canonical_bert_name("bert.encoder.layer.0.output.dense.bias"), "encoder.layer.0.output.dense.bias");
  EXPECT_EQ(canonical_bert_name("bert.embeddings.LayerNorm.gamma"), "embeddings.LayerNorm.weight");
  EXPECT_EQ(canonical_bert_name("encoder.layer.1.attention.output.LayerNorm.beta"),
            "encoder.layer.1.attention.output.LayerNorm.bias");
  EXPECT_EQ(canonical_bert_name("classifier.weight"), "classifier.weight");
  EXPECT_EQ(canonical_bert_name("cls.predictions.bias"), std::nullopt);
  EXPECT_EQ(canonical_bert_name("bert.embeddings.position_ids"), std::nullopt);
}

TEST_F(CheckpointLayoutTest, AcceptsGpt2SavePretrainedNaming) {
  const Gpt2Config c = tiny_gpt2();
  TensorLayout layout = gpt2_layout(c);
  layout.erase("lm_head.weight");  // tied to wte
  const CheckpointNames names = match_gpt2_checkpoint(save(layout, same), c);
  EXPECT_EQ(names.size(), layout.size());
  EXPECT_EQ(names.at("h.1.ln_2.weight"), "h.1.ln_2.weight");
  EXPECT_FALSE(names.count("lm_head.weight"));
}

TEST_F(CheckpointLayoutTest, AcceptsGpt2HubNamingWithBuffersAndLmHead) {
  const Gpt2Config c = tiny_gpt2();
  const auto hub = [](std::string n) { return n == "lm_head.weight" ? n : "transformer." + n; };
  const SafeTensors file = save(gpt2_layout(c), hub,
                                {{"transformer.h.0.attn.bias", {1, 1, 6, 6}},
                                 {"transformer.h.1.attn.masked_bias", {}}});
  const CheckpointNames names = match_gpt2_checkpoint(file, c);
  EXPECT_EQ(names.at("wte.weight"), "transformer.wte.weight");
  EXPECT_EQ(names.at("lm_head.weight"), "lm_head.weight");
  EXPECT_EQ(names.size(), gpt2_layout(c).size());
}

TEST_F(CheckpointLayoutTest, ReportsEveryGpt2Mismatch) {
  const Gpt2Config c = tiny_gpt2();
  TensorLayout layout = gpt2_layout(c);
  layout.erase("h.1.ln_1.bias");
  layout["h.0.mlp.c_fc.weight"].shape = {12, 4};  // nn.Linear layout instead of Conv1D
  const std::string message = match_error(
      [&] { match_gpt2_checkpoint(save(layout, same, {{"h.2.ln_1.weight", {4}}, {"transformer.wpe.weight", {6, 4}}}), c); });
  EXPECT_NE(message.find("model.safetensors does not match the GPT-2 config"), std::string::npos) << message;
  EXPECT_NE(message.find("missing tensor 'h.1.ln_1.bias'"), std::string::npos) << message;
  EXPECT_NE(message.find("tensor 'h.0.mlp.c_fc.weight' has shape (12,4), expected (4,12)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("unexpected tensor 'h.2.ln_1.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("tensors 'transformer.wpe.weight' and 'wpe.weight' are both 'wpe.weight'"),
            std::string::npos)
      << message;
}

TEST_F(CheckpointLayoutTest, RejectsConfigOfAnotherSize) {
  Gpt2Config c = tiny_gpt2();
  const SafeTensors file = save(gpt2_layout(c), same);
  c.n_layer = 4;
  c.vocab_size = 11;
  const std::string message = match_error([&] { match_gpt2_checkpoint(file, c); });
  EXPECT_NE(message.find("missing tensor 'h.2.attn.c_attn.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("tensor 'wte.weight' has shape (10,4), expected (11,4)"), std::string::npos) << message;
  EXPECT_NE(message.find("... and "), std::string::npos) << "more than 20 problems are summarised: " << message;
}

TEST_F(CheckpointLayoutTest, AcceptsBertHubNamingWithGammaBetaAndPretrainingHeads) {
  const BertConfig c = tiny_bert(false);
  TensorLayout layout = bert_layout(c);
  layout.erase("classifier.weight");
  layout.erase("classifier.bias");
  const auto hub = [](std::string n) {
    if (n.ends_with("LayerNorm.weight")) n.replace(n.size() - 6, 6, "gamma");
    if (n.ends_with("LayerNorm.bias")) n.replace(n.size() - 4, 4, "beta");
    return "bert." + n;
  };
  const SafeTensors file = save(layout, hub,
                                {{"cls.predictions.bias", {11}},
                                 {"cls.predictions.transform.dense.weight", {4, 4}},
                                 {"bert.embeddings.position_ids", {1, 5}}});
  const CheckpointNames names = match_bert_checkpoint(file, c);
  EXPECT_EQ(names.size(), layout.size());
  EXPECT_EQ(names.at("embeddings.LayerNorm.weight"), "bert.embeddings.LayerNorm.gamma");
  EXPECT_EQ(names.at("encoder.layer.0.output.LayerNorm.bias"), "bert.encoder.layer.0.output.LayerNorm.beta");
}

TEST_F(CheckpointLayoutTest, BertSequenceClassifierNeedsItsHead) {
  const BertConfig c = tiny_bert(true);
  TensorLayout layout = bert_layout(c);
  const auto prefixed = [](std::string n) { return n.starts_with("classifier") ? n : "bert." + n; };
  EXPECT_EQ(match_bert_checkpoint(save(layout, prefixed), c).at("classifier.weight"), "classifier.weight");

  layout.erase("classifier.bias");
  layout.erase("pooler.dense.weight");
  const std::string message = match_error([&] { match_bert_checkpoint(save(layout, same), c); });
  EXPECT_NE(message.find("missing tensor 'classifier.bias'"), std::string::npos) << message;
  EXPECT_NE(message.find("missing tensor 'pooler.dense.weight'"), std::string::npos) << message;
}

TEST_F(CheckpointLayoutTest, RejectsIntegerWeights) {
  const Gpt2Config c = tiny_gpt2();
  // All F32 except ln_f.bias, stored as I32 of the right shape.
  nlohmann::json header;
  uint64_t offset = 0;
  for (const auto& [name, expected] : gpt2_layout(c)) {
    const uint64_t bytes = uint64_t(numel(expected.shape)) * 4;
    header[name] = {{"dtype", name == "ln_f.bias" ? "I32" : "F32"},
                    {"shape", expected.shape},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  const std::string text = header.dump();
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[size_t(i)] = char(uint64_t(text.size()) >> (8 * i));
  file += text + std::string(offset, '\0');
  const std::string path = (dir_ / "int.safetensors").string();
  std::ofstream(path, std::ios::binary) << file;

  const std::string message = match_error([&] { match_gpt2_checkpoint(load_safetensors(path), c); });
  EXPECT_NE(message.find("tensor 'ln_f.bias' has dtype I32, expected F32, F16 or BF16"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace veil::model
