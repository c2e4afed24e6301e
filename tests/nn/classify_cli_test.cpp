// `veil classify` on the tiny random BERT classifier: the MPC backend (three parties in the
// process, only the client reconstructs) against the plaintext backend and the library, the
// --json report, and the errors of bad inputs.
#include "nn_test_util.h"
#include "veil/model/wordpiece_tokenizer.h"
#include "veil/nn/classify.h"

namespace veil::nn {
namespace {

const std::string kText = "The movie was great, really fun!";

std::string veil_cmd(const std::string& args) { return std::string(VEIL_BINARY) + " classify " + args; }

// Runs `veil classify` with --json and parses its stdout (stderr is dropped).
nlohmann::json classify_json(const std::string& args) {
  const test::CommandResult r = test::run_command(veil_cmd(args + " --json 2>/dev/null"));
  EXPECT_EQ(r.rc, 0) << args << "\n" << r.out;
  return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

double max_abs_diff(const nlohmann::json& a, const nlohmann::json& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::abs(a[i].get<double>() - b[i].get<double>()));
  return m;
}

// A failing run: non-zero exit and stdout + stderr.
test::CommandResult fails(const std::string& args) {
  test::CommandResult r = test::run_command(veil_cmd(args + " 2>&1"));
  EXPECT_NE(r.rc, 0) << args << "\n" << r.out;
  return r;
}

// Same label and logits within 0.05 (the accuracy bound of MpcAccuracy); reports the difference.
void expect_private_matches_plaintext(const std::string& what, const std::string& args) {
  const nlohmann::json plain = classify_json("--backend plaintext " + args);
  const nlohmann::json mpc = classify_json("--backend mpc " + args);
  ASSERT_TRUE(plain.contains("logits") && mpc.contains("logits"));
  const double diff = max_abs_diff(mpc.at("logits"), plain.at("logits"));
  std::printf("[classify] tiny-random-bert, %s, %zu tokens: mpc vs plaintext logits max abs diff %.5f\n", what.c_str(),
              mpc.at("ids").size(), diff);
  EXPECT_LE(diff, 0.05);
  EXPECT_EQ(mpc.at("label"), plain.at("label"));
  EXPECT_EQ(mpc.at("ids"), plain.at("ids"));
  EXPECT_EQ(mpc.at("token_types"), plain.at("token_types"));
}

TEST(ClassifyCli, MpcMatchesPlaintextOnText) {
  expect_private_matches_plaintext("text", "--model " + test::bert_fixture() + " --text '" + kText + "'");
}

TEST(ClassifyCli, MpcMatchesPlaintextOnIdsAndTokenTypes) {
  expect_private_matches_plaintext("ids", "--model " + test::bert_fixture() +
                                              " --ids 2,17,45,99,3,64,120,7,33,81,5,1 --token-types 0,0,0,0,0,0,1,1,1,1,1,1");
}

// --text is tokenized as the library's WordPiece tokenizer does, and the plaintext logits are
// the library's.
TEST(ClassifyCli, TextPairIsTokenizedAndClassifiedAsTheLibraryDoes) {
  const std::string pair = "Boring plot.";
  const nlohmann::json j =
      classify_json("--backend plaintext --model " + test::bert_fixture() + " --text '" + kText + "' --text-pair '" + pair + "'");
  const auto tok = model::WordPieceTokenizer::load_dir(test::bert_fixture());
  const model::WordPieceEncoding enc = tok.encode(kText, pair);
  EXPECT_EQ(j.at("ids").get<std::vector<int32_t>>(), enc.ids);
  EXPECT_EQ(j.at("token_types").get<std::vector<int32_t>>(), enc.token_types);
  EXPECT_EQ(j.at("tokens").get<std::vector<std::string>>(),
            (std::vector<std::string>{"[CLS]", "the", "movie", "was", "great", ",", "really", "fun", "!", "[SEP]", "boring",
                                      "plot", ".", "[SEP]"}));
  const BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  const std::vector<float> want = classify_plain(ck, enc.ids, enc.token_types);
  EXPECT_LE(max_abs_diff(j.at("logits"), nlohmann::json(want)), 1e-6);
  // The same ids given as --ids give the same logits.
  const nlohmann::json by_ids = classify_json("--backend plaintext --model " + test::bert_fixture() + " --ids " +
                                              test::join(enc.ids) + " --token-types " + test::join(enc.token_types));
  EXPECT_EQ(by_ids.at("logits"), j.at("logits"));
}

TEST(ClassifyCli, JsonReportsLabelsAndTheTrafficOfTheParties) {
  const nlohmann::json j = classify_json("--model " + test::bert_fixture() + " --text '" + kText + "'");  // mpc: the default
  EXPECT_EQ(j.at("backend"), "mpc");
  EXPECT_EQ(j.at("text"), kText);
  EXPECT_EQ(j.at("labels"), nlohmann::json({"NEGATIVE", "POSITIVE"}));
  ASSERT_EQ(j.at("logits").size(), 2u);
  const auto logits = j.at("logits").get<std::vector<double>>();
  const size_t best = size_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  EXPECT_EQ(j.at("label_id").get<size_t>(), best);
  EXPECT_EQ(j.at("label"), j.at("labels").at(best));
  const auto p = j.at("probabilities").get<std::vector<double>>();
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-9);
  EXPECT_EQ(j.at("ids").size(), j.at("tokens").size());
  EXPECT_EQ(j.at("truncated_tokens"), 0);
  EXPECT_GT(j.at("total_ms").get<double>(), 0.0);
  const int64_t all = j.at("bytes_all_parties"), busiest = j.at("bytes_busiest_party");
  EXPECT_GT(busiest, 0);
  EXPECT_LE(busiest, all);
  EXPECT_GE(3 * busiest, all);
  EXPECT_GT(j.at("rounds").get<int64_t>(), 0);
  // The client sends the one-hot rows (T,V) and (T,2), and receives three pairs of 2 logits.
  EXPECT_GT(j.at("client_bytes_sent").get<int64_t>(), 0);
  EXPECT_GT(j.at("client_bytes_received").get<int64_t>(), 0);

  const nlohmann::json plain = classify_json("--backend plaintext --model " + test::bert_fixture() + " --ids 2,5,3");
  EXPECT_FALSE(plain.contains("bytes_all_parties"));
  EXPECT_FALSE(plain.contains("tokens"));
}

TEST(ClassifyCli, TruncateCutsALongText) {
  std::string text;
  for (int i = 0; i < 70; ++i) text += "fun ";
  const nlohmann::json j = classify_json("--backend plaintext --truncate --model " + test::bert_fixture() + " --text '" + text + "'");
  EXPECT_EQ(j.at("ids").size(), 64u);
  EXPECT_EQ(j.at("truncated_tokens"), 8);
}

TEST(ClassifyCli, TooLongInputIsAnError) {
  std::string text;
  for (int i = 0; i < 70; ++i) text += "fun ";
  const test::CommandResult r = fails("--model " + test::bert_fixture() + " --text '" + text + "'");
  EXPECT_PRED2(test::contains, r.out, "72 tokens");
  EXPECT_PRED2(test::contains, r.out, "max_position_embeddings");
  EXPECT_PRED2(test::contains, r.out, "--truncate");
  const test::CommandResult ids = fails("--model " + test::bert_fixture() + " --ids " + test::join(std::vector<int32_t>(65, 5)));
  EXPECT_PRED2(test::contains, ids.out, "65 tokens");
  EXPECT_PRED2(test::contains, ids.out, "max_position_embeddings = 64");
}

TEST(ClassifyCli, IdsOutsideTheVocabularyAreAnError) {
  const test::CommandResult r = fails("--model " + test::bert_fixture() + " --ids 2,500,3");
  EXPECT_PRED2(test::contains, r.out, "token id 500 at position 1 is outside [0, 128)");
  EXPECT_PRED2(test::contains, r.out, "vocab_size");
  EXPECT_PRED2(test::contains, fails("--model " + test::bert_fixture() + " --ids 2,-1").out, "token id -1");
  EXPECT_PRED2(test::contains, fails("--model " + test::bert_fixture() + " --ids 2,x,3").out, "'x' is not an integer");
  EXPECT_PRED2(test::contains, fails("--model " + test::bert_fixture() + " --ids 2,5 --token-types 0,2").out,
               "token type 2 at position 1 is outside [0, 2)");
}

TEST(ClassifyCli, TokenTypesOfAnotherLengthAreAnError) {
  const test::CommandResult r = fails("--model " + test::bert_fixture() + " --ids 2,5,3 --token-types 0,0");
  EXPECT_PRED2(test::contains, r.out, "2 token types for 3 token ids");
}

TEST(ClassifyCli, TextNeedsAVocabulary) {
  test::TempDir tmp;
  std::filesystem::copy(test::bert_fixture() + "/config.json", tmp.path());
  std::filesystem::copy(test::bert_fixture() + "/model.safetensors", tmp.path());
  const test::CommandResult r = fails("--model " + tmp.path() + " --text 'great fun'");
  EXPECT_PRED2(test::contains, r.out, "has no vocab.txt");
  EXPECT_PRED2(test::contains, r.out, "--ids");
  // Ids need no vocabulary.
  EXPECT_EQ(classify_json("--backend plaintext --model " + tmp.path() + " --ids 2,5,3").at("ids").size(), 3u);
}

TEST(ClassifyCli, ABertModelWithoutClassifierIsAnError) {
  const BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  nlohmann::json config = test::read_json(test::bert_fixture() + "/config.json");
  config["architectures"] = {"BertModel"};
  Weights body;
  for (const auto& [name, t] : ck.weights)
    if (!name.starts_with("pooler.") && !name.starts_with("classifier.")) body.emplace(name, t);
  test::TempDir tmp;
  test::write_model(tmp.path(), config, body);
  const test::CommandResult r = fails("--model " + tmp.path() + " --ids 2,5,3");
  EXPECT_PRED2(test::contains, r.out, "is not a BertForSequenceClassification checkpoint (architectures: BertModel)");
  EXPECT_PRED2(test::contains, r.out, "no pooler.dense and classifier weights");
  EXPECT_PRED2(test::contains, fails("--model " + test::gpt2_fixture() + " --ids 2,5,3").out, "expected 'bert'");
}

// The parties' error reaches the caller, not the client's "a party stopped".
TEST(ClassifyCli, APartysErrorIsTheOneReported) {
  BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  ck.weights.erase("classifier.weight");
  try {
    classify_private(ck, {2, 5, 3}, {0, 0, 0});
    ADD_FAILURE() << "classify_private without a classifier must throw";
  } catch (const std::exception& e) {
    EXPECT_PRED2(test::contains, e.what(), "BertForSequenceClassification");
  }
}

TEST(ClassifyCli, InputIsTextOrIds) {
  EXPECT_PRED2(test::contains, fails("--model " + test::bert_fixture()).out, "give --text");
  EXPECT_PRED2(test::contains, fails("--model " + test::bert_fixture() + " --text hi --ids 2").out, "--text excludes --ids");
  EXPECT_PRED2(test::contains, fails("--model " + test::bert_fixture() + " --ids 2 --text-pair hi").out, "--text-pair requires --text");
  // --truncate cuts tokenized text only; with --ids it was ignored without a word
  EXPECT_PRED2(test::contains, fails("--model " + test::bert_fixture() + " --ids 2 --truncate").out, "--truncate requires --text");
}

}  // namespace
}  // namespace veil::nn
