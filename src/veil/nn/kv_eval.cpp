#include "veil/nn/kv_eval.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "veil/nn/kv_policy_factory.h"

namespace veil::nn {

namespace {

// −ln softmax(logits)[target] for logits (1,V).
double nll(const Tensor<float>& logits, int32_t target) {
  const float* row = logits.data.data();
  const int64_t v = logits.dim(-1);
  const double top = *std::max_element(row, row + v);
  double sum = 0;
  for (int64_t j = 0; j < v; ++j) sum += std::exp(double(row[j]) - top);
  return top + std::log(sum) - double(row[target]);
}

// Adds what an mpcache policy kept at its prefill of `prompt` tokens.
void count_kept(const std::shared_ptr<KvPolicy<PlainBackend>>& policy, int64_t prompt, StaticKept* kept) {
  const auto* mp = dynamic_cast<const MpCache<PlainBackend>*>(policy.get());
  if (!kept || !mp || !mp->config().static_eviction) return;
  for (int64_t k : mp->kept_after_prefill()) kept->kept += k, kept->prompt += prompt;
}

int32_t argmax(const Tensor<float>& logits) {
  return int32_t(std::max_element(logits.data.begin(), logits.data.end()) - logits.data.begin());
}

}  // namespace

double KvPerplexity::perplexity() const { return std::exp(nll_sum / double(scored)); }

KvPerplexity kv_perplexity(PlainBackend& be, Gpt2<PlainBackend>& model, const std::vector<int32_t>& ids,
                           int64_t context, int64_t prefill, const KvPolicyConfig& kv, int64_t max_windows) {
  if (context < 2 || context > model.config().n_positions)
    throw std::invalid_argument("kv_perplexity: the context must be 2.." + std::to_string(model.config().n_positions));
  if (prefill < 1 || prefill >= context)
    throw std::invalid_argument("kv_perplexity: the prefill must be 1.." + std::to_string(context - 1) + " tokens");
  if (int64_t(ids.size()) < context)
    throw std::invalid_argument("kv_perplexity: the text has " + std::to_string(ids.size()) +
                                " tokens, less than one window of " + std::to_string(context));
  KvPerplexity r;
  double mass = 0;
  int64_t choices = 0;
  for (size_t begin = 0; begin + size_t(context) <= ids.size(); begin += size_t(context)) {
    if (max_windows > 0 && r.windows == max_windows) break;
    const auto policy = make_kv_policy<PlainBackend>(kv, model.config().n_layer);
    auto cache = model.new_cache(policy);
    const std::vector<int32_t> head(ids.begin() + int64_t(begin), ids.begin() + int64_t(begin) + prefill);
    Tensor<float> logits = model.next_logits(head, cache);
    count_kept(policy, prefill, &r.kept);
    for (int64_t t = prefill; t < context; ++t) {
      const int32_t target = ids[begin + size_t(t)];
      r.nll_sum += nll(logits, target);
      ++r.scored;
      if (t + 1 < context) logits = model.next_logits({target}, cache);
    }
    if (const auto* top = dynamic_cast<const TopKPolicy*>(policy.get())) mass += top->mass(), choices += top->choices();
    ++r.windows;
  }
  if (choices > 0) r.topk_mass = mass / double(choices);
  return r;
}

std::vector<RetrievalSample> read_retrieval_samples(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read retrieval samples " + path);
  std::vector<RetrievalSample> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      out.push_back({j.at("prompt_ids").get<std::vector<int32_t>>(), j.at("answer_ids").get<std::vector<int32_t>>()});
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(path + " line " + std::to_string(n) + ": not a retrieval sample (" + e.what() +
                               "); make them with tools/train_gpt2.py --make-retrieval-samples");
    }
  }
  if (out.empty()) throw std::runtime_error(path + " holds no retrieval samples");
  return out;
}

double kv_retrieval_accuracy(PlainBackend& be, Gpt2<PlainBackend>& model, const std::vector<RetrievalSample>& samples,
                             const KvPolicyConfig& kv, StaticKept* kept) {
  int64_t right = 0;
  for (const RetrievalSample& s : samples) {
    const auto policy = make_kv_policy<PlainBackend>(kv, model.config().n_layer);
    auto cache = model.new_cache(policy);
    Tensor<float> logits = model.next_logits(s.prompt, cache);
    count_kept(policy, int64_t(s.prompt.size()), kept);
    bool ok = true;
    for (size_t i = 0; i < s.answer.size() && ok; ++i) {
      ok = argmax(logits) == s.answer[i];
      if (ok && i + 1 < s.answer.size()) logits = model.next_logits({s.answer[i]}, cache);
    }
    right += ok;
  }
  return double(right) / double(samples.size());
}

std::string heldout_text(const std::string& corpus) {
  const size_t nl = corpus.find('\n', corpus.size() * 9 / 10);  // as tools/train_gpt2.py split_corpus
  return nl == std::string::npos ? std::string() : corpus.substr(nl + 1);
}

}  // namespace veil::nn
