// `veil generate` and `veil eval-ppl` on the tiny random GPT-2, checked against the library.
#include "nn_test_util.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/nn/generate.h"
#include "veil/nn/perplexity.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

std::string veil_cmd(const std::string& args) { return std::string(VEIL_BINARY) + " " + args; }

// Runs veil with `args` (stderr folded into stdout) and expects exit code `rc` and `message`.
void expect_refused(const std::string& args, int rc, const std::string& message) {
  const test::CommandResult r = test::run_command(veil_cmd(args + " 2>&1"));
  EXPECT_EQ(r.rc, rc) << args << "\n" << r.out;
  EXPECT_PRED2(test::contains, r.out, message) << args;
}

TEST(Cli, GeneratePlaintextJson) {
  const std::string prompt = "the quick fox";
  const test::CommandResult r =
      test::run_command(veil_cmd("generate --backend plaintext --model " + test::gpt2_fixture() + " --prompt '" +
                                 prompt + "' --max-new-tokens 6 --json 2>/dev/null"));
  ASSERT_EQ(r.rc, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);

  const auto tok = model::BpeTokenizer::load_dir(test::gpt2_fixture());
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  const auto prompt_ids = tok.encode(prompt);
  std::vector<int32_t> expected;
  for (const GeneratedToken& t :
       generate(be, gpt2, prompt_ids, {.max_new_tokens = 6, .stop_token = tok.end_of_text_id()}))
    expected.push_back(t.id);

  EXPECT_EQ(j.at("backend"), "plaintext");
  EXPECT_EQ(j.at("prompt_tokens").get<std::vector<int32_t>>(), prompt_ids);
  EXPECT_EQ(j.at("tokens").get<std::vector<int32_t>>(), expected);
  EXPECT_EQ(j.at("text").get<std::string>(), tok.decode(expected));
  ASSERT_EQ(j.at("per_token_ms").size(), expected.size());
  for (const auto& ms : j.at("per_token_ms")) EXPECT_GE(ms.get<double>(), 0.0);
}

// The default backend is MPC: three parties in one process, only the client sees tokens. Greedy
// decoding gives the same tokens as the plaintext backend.
TEST(Cli, GenerateMpcMatchesPlaintext) {
  const std::string args = " --model " + test::gpt2_fixture() + " --prompt 'the quick fox' --max-new-tokens 4 --json 2>/dev/null";
  const test::CommandResult mpc = test::run_command(veil_cmd("generate" + args));
  const test::CommandResult plain = test::run_command(veil_cmd("generate --backend plaintext" + args));
  ASSERT_EQ(mpc.rc, 0) << mpc.out;
  ASSERT_EQ(plain.rc, 0) << plain.out;
  const nlohmann::json jm = nlohmann::json::parse(mpc.out), jp = nlohmann::json::parse(plain.out);
  EXPECT_EQ(jm.at("backend"), "mpc");
  EXPECT_EQ(jm.at("tokens"), jp.at("tokens"));
  EXPECT_EQ(jm.at("text"), jp.at("text"));
  ASSERT_EQ(jm.at("steps").size(), 4u);
  for (const auto& s : jm.at("steps")) {
    EXPECT_GT(s.at("bytes_all_parties").get<int64_t>(), 0);
    EXPECT_GT(s.at("rounds").get<int64_t>(), 0);
  }
}

TEST(Cli, GenerateBadModelFolderIsAClearError) {
  test::TempDir tmp;
  const test::CommandResult r = test::run_command(
      veil_cmd("generate --backend plaintext --model " + tmp.path() + " --prompt hi --max-new-tokens 2 2>&1"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_PRED2(test::contains, r.out, "vocab.json");
}

// A mistyped command is named (CLI11 said only "A subcommand is required").
TEST(Cli, UnknownCommandIsNamed) {
  test::CommandResult r = test::run_command(veil_cmd("generat --model x 2>&1"));
  EXPECT_EQ(r.rc, 109);
  EXPECT_PRED2(test::contains, r.out, "veil: unknown command 'generat'; `veil --help` lists the commands");
  r = test::run_command(veil_cmd("tune replays 2>&1"));
  EXPECT_EQ(r.rc, 109);
  EXPECT_PRED2(test::contains, r.out, "veil tune: unknown command 'replays'; `veil tune --help` lists the commands");
}

// A number out of range names the flag and the bound, not CLI11's 309-digit largest double.
TEST(Cli, NegativeNumbersAreClearErrors) {
  const std::string model = " --model " + test::gpt2_fixture();
  test::CommandResult r = test::run_command(veil_cmd("generate" + model + " --prompt hi --temperature -1 2>&1"));
  EXPECT_EQ(r.rc, 105);
  EXPECT_PRED2(test::contains, r.out, "--temperature: must be a number >= 0, got -1");
  EXPECT_FALSE(test::contains(r.out, "179769313486")) << r.out;
  r = test::run_command(veil_cmd("eval-kv" + model + " --context 0 2>&1"));
  EXPECT_EQ(r.rc, 105);
  EXPECT_PRED2(test::contains, r.out, "--context: must be a number > 0, got 0");
  expect_refused("bench costs -n 0", 105, "--elements: must be a number > 0, got 0");
  expect_refused("bench kv --runs 0", 105, "--runs: must be a number > 0, got 0");
  expect_refused("bench kv --kv-sink 3", 109, "--kv-sink");  // bench kv measures mpcache: no streaming flag
}

// --top-k only shapes sampling: with greedy decoding it would be ignored without a word.
TEST(Cli, TopKWithoutTemperatureAndANegativeSeedAreRefused) {
  const std::string base = "generate --model " + test::gpt2_fixture() + " --prompt hi ";
  expect_refused(base + "--top-k 5", 1, "--top-k needs --temperature > 0");
  expect_refused(base + "--seed -1", 105, "--seed: must be a number >= 0, got -1");
}

// An empty prompt is refused before any party starts (it was "a party stopped before sending its
// output" with the MPC backend).
TEST(Cli, GenerateEmptyPromptIsAClearError) {
  const test::CommandResult r =
      test::run_command(veil_cmd("generate --model " + test::gpt2_fixture() + " --prompt '' 2>&1"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_PRED2(test::contains, r.out, "--prompt is empty");
}

TEST(Cli, GenerateBadPartiesNamesTheFlag) {
  const test::CommandResult r = test::run_command(
      veil_cmd("generate --model " + test::gpt2_fixture() + " --prompt hi --parties 127.0.0.1:7100,127.0.0.1:7101 2>&1"));
  EXPECT_EQ(r.rc, 105);
  EXPECT_PRED2(test::contains, r.out, "--parties: bad peer list");
}

// Bad --budgets, policy settings and --agreement values fail before any run, naming what is wrong
// (they were "stod", "stoll", or an error about --kv-budget after hours of accuracy runs).
TEST(Cli, EvalKvBadNumbersAreClearErrors) {
  test::TempDir tmp;
  const std::string text = tmp.path() + "/text.txt";
  {
    std::ofstream f(text);
    for (int i = 0; i < 40; ++i) f << "the dog sleeps in the sun while the fox runs to the forest.\n";
  }
  const std::string base = "eval-kv --model " + test::gpt2_fixture() + " --text " + text + " --context 64 --prefill 32 ";
  const auto refused = [&](const std::string& args, const std::string& message) {
    const test::CommandResult r = test::run_command(veil_cmd(base + args + " 2>&1"));
    EXPECT_EQ(r.rc, 1) << args << "\n" << r.out;
    EXPECT_PRED2(test::contains, r.out, message) << args;
    EXPECT_FALSE(test::contains(r.out, "| full |")) << args << ": refused only after a run\n" << r.out;
  };
  refused("--policies streaming --budgets 0.1,abc", "eval-kv: --budgets: 'abc' is not a number");
  refused("--policies streaming --budgets 2", "eval-kv: --budgets: 2 is not a fraction of the context in (0, 1]");
  refused("--policies streaming/sink=abc", "eval-kv: sink in 'streaming/sink=abc': 'abc' is not an integer");
  refused("--policies mpcache/alpha=0.5x", "eval-kv: alpha in 'mpcache/alpha=0.5x': '0.5x' is not a number");
  refused("--policies none", "--policies none prints only the agreement table: give --agreement N");
  refused("--policies full --agreement 1 --agreement-budget 5", "eval-kv: --agreement-budget must be in (0, 1]");
  refused("--policies full --agreement 100", "eval-kv: --agreement 100 needs");
  // A prompt too short for any selection compares nothing: no agreement figure, not 100%.
  const test::CommandResult r = test::run_command(veil_cmd(base + "--policies none --agreement 1 2>/dev/null"));
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_PRED2(test::contains, r.out, "| off | 0 | 0 | — |");
  EXPECT_FALSE(test::contains(r.out, "100.0%")) << r.out;
}

// A text too short to score says which part is short (it was "the text must have at least 2
// tokens" for a held-out split that is empty), and --context names itself.
TEST(Cli, EvalPplShortTextAndBadContextNameTheFlag) {
  test::TempDir tmp;
  const std::string text = tmp.path() + "/text.txt";
  std::ofstream(text) << "the dog sleeps in the sun while the fox runs to the forest.";  // one line: no held-out split
  const std::string base = "eval-ppl --model " + test::gpt2_fixture() + " --text " + text;
  expect_refused(base + " --heldout", 1, "the held-out split of --text (its last 10%, from a line start) has 0 tokens");
  expect_refused(base + " --context 1", 1, "--context 1 is outside 2..64 (the model's n_positions; 0 uses it)");
}

TEST(Cli, EvalPplMatchesTheLibrary) {
  test::TempDir tmp;
  const std::string text = tmp.path() + "/text.txt";
  std::ofstream(text) << "the dog sleeps in the sun while the fox runs to the forest. " << "then the fox eats.";
  const test::CommandResult r = test::run_command(
      veil_cmd("eval-ppl --model " + test::gpt2_fixture() + " --text " + text + " --context 8 --json"));
  ASSERT_EQ(r.rc, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);

  const auto tok = model::BpeTokenizer::load_dir(test::gpt2_fixture());
  Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  PlainBackend be(std::move(ck.weights));
  Gpt2<PlainBackend> gpt2(be, ck.config);
  std::ifstream in(text);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto ids = tok.encode(content);
  const PerplexityResult expected = perplexity(be, gpt2, ids, 8);
  EXPECT_EQ(j.at("tokens").get<size_t>(), ids.size());
  EXPECT_EQ(j.at("scored_tokens").get<int64_t>(), expected.scored);
  EXPECT_EQ(expected.scored, int64_t(ids.size() - (ids.size() + 7) / 8));  // first of each window unscored
  EXPECT_NEAR(j.at("perplexity").get<double>(), expected.perplexity(), 1e-6 * expected.perplexity());
}

}  // namespace
}  // namespace veil::nn
