#include "veil/nn/session_request.h"

#include <bit>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "veil/mpc/client_wire.h"

namespace veil::nn {

namespace {

template <size_t N> std::array<uint8_t, N> to_le(uint64_t v) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = uint8_t(v >> (8 * i));
  return out;
}
template <size_t N> uint64_t from_le(const std::array<uint8_t, N>& b) {
  uint64_t v = 0;
  for (size_t i = 0; i < N; ++i) v |= uint64_t(b[i]) << (8 * i);
  return v;
}

}  // namespace

std::vector<uint8_t> encode_request(const SessionRequest& r, int party) {
  const RequestWire w{kRequestMagic,
                      to_le<4>(kSessionVersion),
                      to_le<4>(uint64_t(party)),
                      r.session_id,
                      r.config_sha256,
                      to_le<4>(uint64_t(r.prompt_tokens)),
                      to_le<4>(uint64_t(r.max_new_tokens)),
                      to_le<4>(r.token_input == TokenInput::client_onehot ? 1 : 0),
                      {},
                      to_le<8>(std::bit_cast<uint64_t>(r.sampling.temperature)),
                      to_le<8>(uint64_t(r.sampling.top_k)),
                      to_le<4>(uint64_t(r.kv.kind)),
                      to_le<4>(uint64_t(r.kv.static_eviction) | uint64_t(r.kv.share) << 1 |
                               uint64_t(r.kv.reveal == StaticReveal::count) << 2),
                      to_le<8>(std::bit_cast<uint64_t>(r.kv.budget)),
                      to_le<8>(std::bit_cast<uint64_t>(r.kv.gamma)),
                      to_le<8>(std::bit_cast<uint64_t>(r.kv.window)),
                      to_le<8>(std::bit_cast<uint64_t>(r.kv.alpha)),
                      to_le<4>(uint64_t(r.kv.sink)),
                      to_le<4>(uint64_t(r.kv.pool)),
                      to_le<4>(uint64_t(r.kv.page)),
                      to_le<4>(uint64_t(r.kv.fine)),
                      to_le<4>(uint64_t(r.kv.coarse)),
                      {},
                      r.plan_sha256};
  std::vector<uint8_t> out(1 + sizeof w);
  out[0] = uint8_t(mpc::ClientMessage::request);
  std::memcpy(out.data() + 1, &w, sizeof w);
  return out;
}

SessionRequest decode_request(const std::vector<uint8_t>& msg, int party, const std::string& from) {
  constexpr size_t kVersion2Bytes = 1 + 160;  // a version-2 request (no plan fingerprint), named as such
  const auto version_at = [&] { return uint32_t(msg[9]) | uint32_t(msg[10]) << 8 | uint32_t(msg[11]) << 16 | uint32_t(msg[12]) << 24; };
  if (msg.size() == kVersion2Bytes && msg[0] == uint8_t(mpc::ClientMessage::request) && version_at() == 2)
    throw std::runtime_error(from + " speaks session version 2 (no precision plan), this party speaks " +
                             std::to_string(kSessionVersion) + ": run the same veil version everywhere");
  if (msg.size() != 1 + sizeof(RequestWire) || msg[0] != uint8_t(mpc::ClientMessage::request))
    throw std::runtime_error(from + " did not send a session request (" + std::to_string(msg.size()) +
                             " bytes): not a veil client?");
  RequestWire w;
  std::copy(msg.begin() + 1, msg.end(), reinterpret_cast<uint8_t*>(&w));
  if (w.magic != kRequestMagic) throw std::runtime_error(from + " sent a request with a wrong magic");
  if (from_le(w.version_le) != kSessionVersion)
    throw std::runtime_error(from + " speaks session version " + std::to_string(from_le(w.version_le)) +
                             ", this party speaks " + std::to_string(kSessionVersion) +
                             ": run the same veil version everywhere");
  if (from_le(w.party_le) != uint64_t(party))
    throw std::runtime_error(from + " addressed its request to party " + std::to_string(from_le(w.party_le)) +
                             ", but this is party " + std::to_string(party) + ": check the order of --parties");
  SessionRequest r;
  r.session_id = w.session_id;
  r.config_sha256 = w.config_sha256;
  r.prompt_tokens = int64_t(from_le(w.prompt_tokens_le));
  r.max_new_tokens = int64_t(from_le(w.max_new_tokens_le));
  r.sampling.temperature = std::bit_cast<double>(from_le(w.temperature_le));
  r.sampling.top_k = int64_t(from_le(w.top_k_le));
  const uint64_t input = from_le(w.token_input_le);
  if (input > 1) throw std::runtime_error(from + " asks for token input mode " + std::to_string(input) + ", unknown here");
  r.token_input = input == 1 ? TokenInput::client_onehot : TokenInput::secret_ids;
  const uint64_t kind = from_le(w.kv_policy_le), flags = from_le(w.kv_flags_le);
  if (kind > uint64_t(KvPolicyKind::topk) || flags > 7)
    throw std::runtime_error(from + " asks for KV policy " + std::to_string(kind) + " with flags " + std::to_string(flags) +
                             ", unknown here");
  r.kv.kind = KvPolicyKind(kind);
  r.kv.static_eviction = flags & 1, r.kv.share = flags & 2;
  r.kv.reveal = flags & 4 ? StaticReveal::count : StaticReveal::positions;
  r.kv.budget = std::bit_cast<double>(from_le(w.kv_budget_le));
  r.kv.gamma = std::bit_cast<double>(from_le(w.kv_gamma_le));
  r.kv.window = std::bit_cast<double>(from_le(w.kv_window_le));
  r.kv.alpha = std::bit_cast<double>(from_le(w.kv_alpha_le));
  r.kv.sink = int64_t(int32_t(from_le(w.kv_sink_le)));
  r.kv.pool = int64_t(int32_t(from_le(w.kv_pool_le)));
  r.kv.page = int64_t(int32_t(from_le(w.kv_page_le)));
  r.kv.fine = int64_t(int32_t(from_le(w.kv_fine_le)));
  r.kv.coarse = int64_t(int32_t(from_le(w.kv_coarse_le)));
  r.plan_sha256 = w.plan_sha256;
  return r;
}

Sha256 request_fingerprint(const SessionRequest& r) { return sha256(encode_request(r, 0)); }

uint64_t max_input_elements(const SessionRequest& r, const model::Gpt2Config& config) {
  const uint64_t t = uint64_t(std::max<int64_t>(r.prompt_tokens, 1));
  return r.token_input == TokenInput::client_onehot ? t * uint64_t(config.vocab_size) : t;
}

std::string check_request(const SessionRequest& r, const model::Gpt2Config& config, const Sha256& config_sha256) {
  if (r.config_sha256 != config_sha256)
    return "the client's config.json (sha256 " + hex(r.config_sha256).substr(0, 16) +
           "...) is not the config of the model this party serves (" + hex(config_sha256).substr(0, 16) +
           "...): use the client folder `veil share-model` wrote with these bundles";
  if (r.prompt_tokens < 1) return "the prompt has no tokens";
  if (r.max_new_tokens < 1) return "max_new_tokens must be at least 1";
  if (r.prompt_tokens + r.max_new_tokens - 1 > config.n_positions)
    return "a prompt of " + std::to_string(r.prompt_tokens) + " tokens plus " + std::to_string(r.max_new_tokens) +
           " new tokens does not fit the context of " + std::to_string(config.n_positions) + " tokens";
  if (!std::isfinite(r.sampling.temperature) || r.sampling.temperature < 0) return "temperature must be >= 0";
  if (r.sampling.top_k < 0) return "top_k must be >= 0";
  try {
    validate(r.kv);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  if (r.kv.kind != KvPolicyKind::full && r.kv.kind != KvPolicyKind::streaming && r.kv.kind != KvPolicyKind::mpcache)
    return std::string("KV policy ") + kv_policy_name(r.kv.kind) +
           " is a plaintext baseline; the parties run full, streaming or mpcache";
  return "";
}

std::vector<uint8_t> encode_accept() { return {uint8_t(mpc::ClientMessage::accept)}; }

}  // namespace veil::nn
