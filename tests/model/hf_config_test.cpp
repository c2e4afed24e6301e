#include "veil/model/hf_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>

namespace veil::model {
namespace {

using nlohmann::json;

// Trimmed from the gpt2 config.json on the Hugging Face Hub.
json gpt2_hub_config() {
  return json::parse(R"({
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
    "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
    "resid_pdrop": 0.1, "vocab_size": 50257})");
}

json bert_config() {
  return json::parse(R"({
    "architectures": ["BertForSequenceClassification"], "hidden_act": "gelu",
    "hidden_size": 768, "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
    "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
    "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 12,
    "type_vocab_size": 2, "vocab_size": 30522})");
}

// Parses `j` and returns the error message ("" if it parsed).
template <class Parse>
std::string error_of(Parse parse, const json& j) {
  try {
    parse(j, "test/config.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string gpt2_error(const json& j) { return error_of(parse_gpt2_config, j); }
std::string bert_error(const json& j) { return error_of(parse_bert_config, j); }

TEST(HfConfig, ParsesGpt2HubConfig) {
  const Gpt2Config c = parse_gpt2_config(gpt2_hub_config(), "gpt2/config.json");
  EXPECT_EQ(c.n_layer, 12);
  EXPECT_EQ(c.n_head, 12);
  EXPECT_EQ(c.n_embd, 768);
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(c.n_positions, 1024);
  EXPECT_EQ(c.vocab_size, 50257);
  EXPECT_EQ(c.n_inner, 4 * 768);  // absent
  EXPECT_EQ(c.activation_function, "gelu_new");
  EXPECT_EQ(c.activation, Activation::gelu_tanh);
  EXPECT_DOUBLE_EQ(c.layer_norm_epsilon, 1e-5);
  EXPECT_TRUE(c.scale_attn_weights);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"GPT2LMHeadModel"});
}

TEST(HfConfig, Gpt2OptionalFields) {
  json j = gpt2_hub_config();
  j["n_inner"] = nullptr;
  j["scale_attn_weights"] = false;
  j["layer_norm_epsilon"] = 1e-6;
  j.erase("n_positions");  // old configs only have n_ctx
  j.erase("activation_function");
  j.erase("architectures");
  Gpt2Config c = parse_gpt2_config(j, "c");
  EXPECT_EQ(c.n_inner, 3072);
  EXPECT_FALSE(c.scale_attn_weights);
  EXPECT_DOUBLE_EQ(c.layer_norm_epsilon, 1e-6);
  EXPECT_EQ(c.n_positions, 1024);
  EXPECT_EQ(c.activation, Activation::gelu_tanh);  // the transformers default, gelu_new
  EXPECT_TRUE(c.architectures.empty());

  j["n_inner"] = 100;
  EXPECT_EQ(parse_gpt2_config(j, "c").n_inner, 100);
}

TEST(HfConfig, MapsActivationNames) {
  const std::pair<const char*, Activation> cases[] = {
      {"gelu", Activation::gelu_erf},          {"gelu_new", Activation::gelu_tanh},
      {"gelu_pytorch_tanh", Activation::gelu_tanh}, {"gelu_fast", Activation::gelu_tanh},
      {"quick_gelu", Activation::quick_gelu},  {"relu", Activation::relu},
      {"silu", Activation::silu},              {"swish", Activation::silu},
  };
  for (const auto& [name, act] : cases) {
    json j = gpt2_hub_config();
    j["activation_function"] = name;
    const Gpt2Config c = parse_gpt2_config(j, "c");
    EXPECT_EQ(c.activation, act) << name;
    EXPECT_EQ(c.activation_function, name);
  }
}

TEST(HfConfig, RejectsBadGpt2Configs) {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"missing n_layer", [](json& j) { j.erase("n_layer"); }, "required field 'n_layer' is missing"},
      {"null n_embd", [](json& j) { j["n_embd"] = nullptr; }, "required field 'n_embd' is missing"},
      {"no positions", [](json& j) { j.erase("n_positions"); j.erase("n_ctx"); },
       "required field 'n_ctx' is missing"},
      {"string n_head", [](json& j) { j["n_head"] = "12"; },
       "field 'n_head' must be a positive integer, got \"12\""},
      {"float vocab", [](json& j) { j["vocab_size"] = 50257.5; }, "field 'vocab_size' must be a positive integer"},
      {"zero layers", [](json& j) { j["n_layer"] = 0; }, "field 'n_layer' must be a positive integer, got 0"},
      {"bad n_inner", [](json& j) { j["n_inner"] = -1; }, "field 'n_inner' must be a positive integer"},
      {"heads", [](json& j) { j["n_head"] = 7; }, "n_embd = 768 is not divisible by n_head = 7"},
      {"activation", [](json& j) { j["activation_function"] = "mish"; },
       "unsupported activation 'mish' (supported: gelu, gelu_new"},
      {"activation type", [](json& j) { j["activation_function"] = 1; },
       "field 'activation_function' must be a string"},
      {"epsilon", [](json& j) { j["layer_norm_epsilon"] = "1e-5"; },
       "field 'layer_norm_epsilon' must be a positive number"},
      {"scale", [](json& j) { j["scale_attn_weights"] = 1; },
       "field 'scale_attn_weights' must be true or false"},
      {"architectures", [](json& j) { j["architectures"] = "GPT2LMHeadModel"; },
       "field 'architectures' must be a list of strings"},
      {"model type", [](json& j) { j["model_type"] = "bert"; }, "model_type is 'bert', expected 'gpt2'"},
      {"not object", [](json& j) { j = json::array(); }, "must be a JSON object"},
  };
  for (const Case& c : cases) {
    json j = gpt2_hub_config();
    c.edit(j);
    const std::string message = gpt2_error(j);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << c.what << ": got '" << message << "', expected '" << c.expected << "'";
    EXPECT_NE(message.find("test/config.json"), std::string::npos) << c.what << ": " << message;
  }
}

TEST(HfConfig, ParsesBertSequenceClassifierConfig) {
  const BertConfig c = parse_bert_config(bert_config(), "c");
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_EQ(c.activation, Activation::gelu_erf);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.labels, (std::vector<std::string>{"NEGATIVE", "POSITIVE"}));
  EXPECT_EQ(c.num_labels(), 2);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"BertForSequenceClassification"});
}

TEST(HfConfig, BertLabelsFromNumLabelsOrDefault) {
  json j = bert_config();
  j.erase("id2label");
  EXPECT_EQ(parse_bert_config(j, "c").labels, (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  j["num_labels"] = 3;
  EXPECT_EQ(parse_bert_config(j, "c").num_labels(), 3);
  j["id2label"] = {{"2", "c"}, {"0", "a"}, {"1", "b"}};
  EXPECT_EQ(parse_bert_config(j, "c").labels, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(HfConfig, RejectsBadBertConfigs) {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"missing hidden", [](json& j) { j.erase("hidden_size"); }, "required field 'hidden_size' is missing"},
      {"missing intermediate", [](json& j) { j.erase("intermediate_size"); },
       "required field 'intermediate_size' is missing"},
      {"bool layers", [](json& j) { j["num_hidden_layers"] = true; },
       "field 'num_hidden_layers' must be a positive integer"},
      {"heads", [](json& j) { j["num_attention_heads"] = 5; },
       "hidden_size = 768 is not divisible by num_attention_heads = 5"},
      {"act", [](json& j) { j["hidden_act"] = "gelu_10"; }, "unsupported activation 'gelu_10'"},
      {"label gap", [](json& j) { j["id2label"] = {{"0", "a"}, {"2", "b"}}; },
       "id2label keys must be the ids 0..1 each once, got '2'"},
      {"label key", [](json& j) { j["id2label"] = {{"zero", "a"}}; }, "id2label keys must be the ids"},
      {"label value", [](json& j) { j["id2label"] = {{"0", 1}}; }, "id2label['0'] must be a string"},
      {"label count", [](json& j) { j["num_labels"] = 3; }, "num_labels = 3 but id2label has 2 entries"},
      {"empty labels", [](json& j) { j["id2label"] = json::object(); }, "id2label is empty"},
      {"model type", [](json& j) { j["model_type"] = "gpt2"; }, "model_type is 'gpt2', expected 'bert'"},
  };
  for (const Case& c : cases) {
    json j = bert_config();
    c.edit(j);
    const std::string message = bert_error(j);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << c.what << ": got '" << message << "', expected '" << c.expected << "'";
  }
}

TEST(HfConfig, LoadsFromFileAndNamesItInErrors) {
  const auto dir = std::filesystem::temp_directory_path() / ("veil_hf_config_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string good = (dir / "config.json").string();
  const std::string bad = (dir / "broken.json").string();
  std::ofstream(good) << bert_config().dump(2);
  std::ofstream(bad) << "{\"hidden_size\": ";

  EXPECT_EQ(load_bert_config(good).hidden_size, 768);
  for (const std::string& path : {bad, (dir / "absent.json").string()}) {
    try {
      load_bert_config(path);
      ADD_FAILURE() << path << " loaded";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace veil::model
