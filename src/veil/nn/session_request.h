// The opening of a generation session between the client and the three serving parties
// (`veil generate --parties` → `veil party --serve`), on each client–party connection
// (net/message_conn.h); the messages that follow are mpc/client_wire.h's.
//
//   client -> party i   'R' | RequestWire (192 bytes, below)
//   party i -> client   'A' (accepted: the three parties confirmed the same request) or
//                       'E' | reason (refused; the party keeps serving)
//   then                the prompt's input ('I'), one output ('O') per step, and after each
//                       sampled step but the last the client's token ('I').
//
// The request carries only public parameters: the prompt's length (not its tokens), the number of
// steps, how the client feeds tokens (ids or one-hot rows), the sampling settings (the client samples; parties need them to know whether they
// open logits or a token), the KV-cache policy and its settings (nn/kv_policy_config.h; version 2)
// and the SHA-256 of the client's config.json, which must be the model the party serves, and (version
// 3) the fingerprint of the precision plan the client decodes for (nn/precision_plan.h
// plan_fingerprint; the built-in fp64's for the FM64 backend), which must be the plan of the
// party's bundle. Version 3 is not compatible with 2: a party refuses a version-2 request (it
// names no plan) and says to run the same veil version everywhere. session_id is random: two clients that reach different parties at the same time
// make different requests. Before accepting, each party sends SHA-256(request with party = 0)
// to both peers over the party link and compares what it receives; any difference makes all three
// refuse.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "veil/core/digest.h"
#include "veil/model/hf_config.h"
#include "veil/nn/generate.h"
#include "veil/nn/mpc_backend.h"

namespace veil::nn {

inline constexpr std::array<uint8_t, 8> kRequestMagic = {'v', 'e', 'i', 'l', '-', 'g', 'e', 'n'};
inline constexpr uint32_t kSessionVersion = 3;

struct RequestWire {
  std::array<uint8_t, 8> magic;           // kRequestMagic
  std::array<uint8_t, 4> version_le;      // kSessionVersion
  std::array<uint8_t, 4> party_le;        // the party this copy is addressed to
  std::array<uint8_t, 16> session_id;     // random, chosen by the client
  std::array<uint8_t, 32> config_sha256;  // of the client's config.json
  std::array<uint8_t, 4> prompt_tokens_le;
  std::array<uint8_t, 4> max_new_tokens_le;
  std::array<uint8_t, 4> token_input_le;  // 0: token ids, 1: one-hot rows (nn/mpc_backend.h TokenInput)
  std::array<uint8_t, 4> reserved;        // zero
  std::array<uint8_t, 8> temperature_le;  // IEEE-754 double bits
  std::array<uint8_t, 8> top_k_le;
  // The KV-cache policy (version 2).
  std::array<uint8_t, 4> kv_policy_le;    // KvPolicyKind
  std::array<uint8_t, 4> kv_flags_le;     // bit 0 static eviction, bit 1 layer sharing, bit 2 reveal = count
  std::array<uint8_t, 8> kv_budget_le;    // IEEE-754 double bits, as the other doubles below
  std::array<uint8_t, 8> kv_gamma_le;
  std::array<uint8_t, 8> kv_window_le;
  std::array<uint8_t, 8> kv_alpha_le;
  std::array<uint8_t, 4> kv_sink_le;
  std::array<uint8_t, 4> kv_pool_le;
  std::array<uint8_t, 4> kv_page_le;
  std::array<uint8_t, 4> kv_fine_le;
  std::array<uint8_t, 4> kv_coarse_le;
  std::array<uint8_t, 4> kv_reserved;     // zero
  std::array<uint8_t, 32> plan_sha256;    // the precision plan's fingerprint (version 3)
};
static_assert(sizeof(RequestWire) == 192);

struct SessionRequest {
  std::array<uint8_t, 16> session_id{};
  Sha256 config_sha256{};
  int64_t prompt_tokens = 0;
  int64_t max_new_tokens = 0;
  SamplingOptions sampling;  // seed stays 0: only the client knows it
  TokenInput token_input = TokenInput::client_onehot;  // one-hot rows are vocab_size wide
  KvPolicyConfig kv;  // the KV-cache policy the parties run
  Sha256 plan_sha256{};  // plan_fingerprint of the precision plan the parties must serve
};

std::vector<uint8_t> encode_request(const SessionRequest& r, int party);
// Throws std::runtime_error naming `from` for a message that is not a request of this version
// addressed to `party`.
SessionRequest decode_request(const std::vector<uint8_t>& msg, int party, const std::string& from);
// What the parties compare: SHA-256 of the request addressed to party 0.
Sha256 request_fingerprint(const SessionRequest& r);

// The most ring elements one client input of session `r` may hold (the prompt's).
uint64_t max_input_elements(const SessionRequest& r, const model::Gpt2Config& config);

// "" when the party serving `config` (whose config.json hashes to config_sha256) can run `r`,
// otherwise why not, for the client.
std::string check_request(const SessionRequest& r, const model::Gpt2Config& config, const Sha256& config_sha256);

std::vector<uint8_t> encode_accept();

}  // namespace veil::nn
