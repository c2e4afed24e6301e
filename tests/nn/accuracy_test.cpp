// Accuracy of private inference against the plaintext float backend, on the fixtures:
//  - the trained tiny GPT-2 (models/tiny-gpt2) over 256 positions of held-out tinyshakespeare:
//    next-token top-1 agreement >= 99% and perplexity within 1% of plaintext;
//  - the tiny random BERT classifier: max abs logit error <= 0.05.
// Both report their max and mean absolute logit errors on a `[mpc-accuracy]` line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "nn/nn_test_util.h"
#include "veil/core/fixed_point.h"
#include "veil/model/bpe_tokenizer.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/bert.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

// Runs `party_fn(backend)` on three party threads with the weights dealt by a model owner;
// the client thread shares each of `inputs` in turn and reconstructs one output, which it
// decodes from fixed point. party_fn must reveal exactly one tensor to the client.
template <class PartyFn>
std::vector<double> run_private(const std::map<std::string, veil::Tensor<float>>& weights,
                                const std::vector<std::vector<int32_t>>& inputs, PartyFn party_fn) {
  Prg owner(random_seed());
  const int frac = mpc::Config{}.frac_bits<uint64_t>();
  auto shares = deal_weights(weights, frac, owner);
  mpc::ClientPort port;
  for (const auto& in : inputs) port.send_input(std::vector<uint64_t>(in.begin(), in.end()));
  std::vector<uint64_t> out;
  std::thread client([&] {
    try {
      out = port.receive_output();
    } catch (const std::exception&) {
      // a party failed; run_parties rethrows its error below
    }
  });
  try {
    mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, shares[size_t(ctx.id())], port);
      party_fn(be);
    });
  } catch (...) {
    port.close();
    client.join();
    throw;
  }
  client.join();
  std::vector<double> v(out.size());
  for (size_t i = 0; i < out.size(); ++i) v[i] = fxp_decode<uint64_t>(out[i], frac);
  return v;
}

struct Errors {
  double max_abs = 0, mean_abs = 0, max_logit = 0;
};

Errors compare(const std::vector<double>& got, const veil::Tensor<float>& want) {
  Errors e;
  EXPECT_EQ(got.size(), want.data.size());
  for (size_t i = 0; i < std::min(got.size(), want.data.size()); ++i) {
    const double d = std::abs(got[i] - double(want.data[i]));
    e.max_abs = std::max(e.max_abs, d);
    e.mean_abs += d / double(got.size());
    e.max_logit = std::max(e.max_logit, double(std::abs(want.data[i])));
  }
  return e;
}

// Held-out split of tools/train_gpt2.py: the last 10% of the characters, cut at the next
// line start.
std::string heldout_text(const std::string& corpus) {
  std::ifstream f(corpus);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  size_t cut = size_t(double(text.size()) * 0.9);
  const size_t nl = text.find('\n', cut);
  cut = nl == std::string::npos ? text.size() : nl + 1;
  return text.substr(cut);
}

TEST(MpcAccuracy, TrainedGpt2AgreesWithPlaintextOnHeldOutText) {
  const std::string model_dir = test::repo_path("models/tiny-gpt2");
  const std::string corpus = test::repo_path("../shared/data/text/tinyshakespeare.txt");
  if (!std::filesystem::exists(corpus))
    GTEST_SKIP() << corpus << " is absent (tinyshakespeare, the fixture's corpus; see models/tiny-gpt2/README.md)";
  const model::BpeTokenizer tok = model::BpeTokenizer::load_dir(model_dir);
  const std::string held = heldout_text(corpus);
  std::vector<int32_t> stream = tok.encode(std::string_view(held).substr(0, 4000));
  constexpr size_t kPositions = 256;
  ASSERT_GT(stream.size(), kPositions);
  const std::vector<int32_t> ids(stream.begin(), stream.begin() + kPositions);
  const std::vector<int32_t> next(stream.begin() + 1, stream.begin() + kPositions + 1);

  Gpt2Checkpoint ck = load_gpt2_checkpoint(model_dir);
  PlainBackend plain(ck.weights);
  Gpt2<PlainBackend> ref(plain, ck.config);
  auto ref_cache = ref.new_cache();
  const veil::Tensor<float> want = ref.logits(ref.hidden(plain.input_tokens(ids), ref_cache));  // (256, V)

  const std::vector<double> got = run_private(ck.weights, {ids}, [&](MpcBackend& be) {
    Gpt2<MpcBackend> model(be, ck.config);
    auto cache = model.new_cache();
    const std::vector<int32_t> public_length(kPositions, 0);  // the party knows only T
    be.reveal_to_client(model.logits(model.hidden(be.input_tokens(public_length), cache)));
  });
  const Errors e = compare(got, want);
  const int64_t vocab = ck.config.vocab_size;
  ASSERT_EQ(int64_t(got.size()), int64_t(kPositions) * vocab);

  int agree = 0;
  double nll_got = 0, nll_want = 0;
  for (size_t p = 0; p < kPositions; ++p) {
    const double* g = got.data() + p * size_t(vocab);
    const float* w = want.data.data() + p * size_t(vocab);
    agree += std::max_element(g, g + vocab) - g == std::max_element(w, w + vocab) - w;
    // Negative log-likelihood of the true next token, both in double.
    auto nll = [&](auto* row) {
      double m = row[0];
      for (int64_t v = 1; v < vocab; ++v) m = std::max(m, double(row[v]));
      double z = 0;
      for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(row[v]) - m);
      return m + std::log(z) - double(row[next[p]]);
    };
    nll_got += nll(g) / double(kPositions);
    nll_want += nll(w) / double(kPositions);
  }
  const double ppl_got = std::exp(nll_got), ppl_want = std::exp(nll_want);
  const double top1 = double(agree) / double(kPositions);
  std::printf("[mpc-accuracy] tiny-gpt2, %zu held-out positions: top-1 agreement %.4f (%d/%zu), perplexity mpc %.4f "
              "vs plaintext %.4f (%+.3f%%), logits max abs err %.4f, mean %.5f, max |logit| %.2f\n",
              kPositions, top1, agree, kPositions, ppl_got, ppl_want, 100 * (ppl_got / ppl_want - 1), e.max_abs,
              e.mean_abs, e.max_logit);
  EXPECT_GE(top1, 0.99);
  EXPECT_LE(std::abs(ppl_got / ppl_want - 1), 0.01);
}

TEST(MpcAccuracy, BertClassifierLogitsMatchPlaintext) {
  BertCheckpoint ck = load_bert_checkpoint(test::bert_fixture());
  const std::vector<int32_t> ids = {2, 17, 45, 99, 3, 64, 120, 7, 33, 81, 5, 1};
  const std::vector<int32_t> types = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
  PlainBackend plain(ck.weights);
  Bert<PlainBackend> ref(plain, ck.config);
  const veil::Tensor<float> want = ref.classify(plain.input_tokens(ids), plain.input_tokens(types));

  const std::vector<double> got = run_private(ck.weights, {ids, types}, [&](MpcBackend& be) {
    Bert<MpcBackend> bert(be, ck.config);
    const std::vector<int32_t> public_length(ids.size(), 0);
    const auto sid = be.input_tokens(public_length);
    const auto stype = be.input_tokens(public_length);
    be.reveal_to_client(bert.classify(sid, stype));
  });
  const Errors e = compare(got, want);
  std::printf("[mpc-accuracy] tiny-random-bert classifier, %zu tokens: logits max abs err %.5f, mean %.5f, "
              "max |logit| %.3f\n", ids.size(), e.max_abs, e.mean_abs, e.max_logit);
  EXPECT_LE(e.max_abs, 0.05);
}

}  // namespace
}  // namespace veil::nn
