// Text generation with GPT-2: prefill the prompt, then decode one token at a time through the
// KV cache. Greedy decoding keeps the chosen token inside the backend (secret on MPC) and only
// reveals it to the client; sampling opens the last logits to the client, who samples with its
// own seeded RNG and feeds the token back as client input.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/nn/backend.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/kv_policy_factory.h"

namespace veil::nn {

struct SamplingOptions {
  double temperature = 0;  // 0: greedy (argmax); > 0: sample from softmax(logits / temperature)
  int64_t top_k = 0;       // sample among the k most likely tokens; 0: all
  uint64_t seed = 0;       // the client's RNG seed
};

struct GenerateOptions {
  int64_t max_new_tokens = 16;
  SamplingOptions sampling;
  // Generation ends after emitting this token (e.g. <|endoftext|>). Only a process that sees the
  // tokens can stop early: leave it unset on MPC, where every party must run the same steps.
  std::optional<int32_t> stop_token;
  KvPolicyConfig kv;  // the KV-cache policy (nn/kv_policy.h); full by default
};

inline constexpr int32_t unknown_token = -1;  // the id where the backend opens nothing (an MPC party)

struct GeneratedToken {
  int32_t id;      // unknown_token where the backend reveals nothing to this process
  double seconds;  // wall time of the forward pass that produced it (the first includes prefill)
};

// Client-side sampling: logits (V) -> a token id. Greedy (lowest index on ties) when
// temperature is 0. Throws std::invalid_argument for a negative temperature or top_k.
int32_t sample_token(std::span<const float> logits, const SamplingOptions& opt, std::mt19937_64& rng);

// Generates up to opt.max_new_tokens tokens after `prompt`; calls on_token after each one.
template <Backend B>
std::vector<GeneratedToken> generate(B& be, Gpt2<B>& model, const std::vector<int32_t>& prompt,
                                     const GenerateOptions& opt,
                                     const std::function<void(const GeneratedToken&)>& on_token = {}) {
  const int64_t context = model.config().n_positions;
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt has no tokens");
  if (opt.max_new_tokens > 0 && int64_t(prompt.size()) + opt.max_new_tokens - 1 > context)
    throw std::invalid_argument("generate: a prompt of " + std::to_string(prompt.size()) + " tokens plus " +
                                std::to_string(opt.max_new_tokens) + " new tokens does not fit the context of " +
                                std::to_string(context) + " tokens");
  KvCache<B> cache = model.new_cache(make_kv_policy<B>(opt.kv, model.config().n_layer));
  std::mt19937_64 rng(opt.sampling.seed);
  typename B::Tokens input = be.input_tokens(prompt);
  std::vector<GeneratedToken> out;
  for (int64_t i = 0; i < opt.max_new_tokens; ++i) {
    const bool last = i + 1 == opt.max_new_tokens;  // no input is taken after the last step
    const auto start = std::chrono::steady_clock::now();
    const typename B::Tensor logits = model.next_logits(input, cache);  // (1,V)
    int32_t id = unknown_token;
    if (opt.sampling.temperature == 0) {
      typename B::Tokens chosen = be.argmax(logits);
      const std::vector<int32_t> seen = be.reveal_tokens(chosen);
      if (!seen.empty()) id = seen[0];
      if (!last) input = be.feed_back(chosen);
    } else {
      const Tensor<float> seen = be.reveal_to_client(logits);
      if (seen.size() != 0) id = sample_token(seen.data, opt.sampling, rng);
    }
    out.push_back({id, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
    if (on_token) on_token(out.back());
    if (opt.stop_token && id == *opt.stop_token) break;
    if (opt.sampling.temperature != 0 && !last) input = be.input_tokens({id});
  }
  return out;
}

}  // namespace veil::nn
