// The client of three serving parties (`veil generate --parties`): connects to each over TLS,
// opens a session (nn/session_request.h) and runs the client loop of nn/generate_client.h on the
// connections. The client holds only the tokenizer and config.json: no weights.
#pragma once
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "veil/net/endpoint.h"
#include "veil/net/tls_context.h"
#include "veil/nn/generate_client.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn {

struct RemoteParties {
  std::array<net::Endpoint, 3> endpoints;  // --client-listen of parties 0, 1, 2
  net::TlsFiles tls;                       // the client's certificate (CN veil-client) and key, and the CA
  // Longest wait to reach all three parties and have the session accepted, and then for each
  // step's outputs. Errors name the party that did not answer.
  std::chrono::milliseconds timeout{60000};
  uint64_t max_message_bytes = uint64_t{1} << 30;
  TokenInput token_input = TokenInput::client_onehot;  // how the client feeds tokens (nn/mpc_backend.h)
  // The precision plan the parties must serve (their bundles' plan; the request carries its
  // fingerprint) and the client decodes for; unset: fp64, the FM64 backend.
  std::optional<PrecisionPlan> plan;
  // The gateway's session token (POST /v1/sessions), sent before the request (nn/session_token.h);
  // "" sends none. Parties with --session-key refuse a session without a valid one.
  std::string session_token;
};

// `config_json` is the text of the client's config.json (the parties check its SHA-256 against
// the model they serve). Throws net::LinkError or std::runtime_error naming the party at fault.
std::vector<PrivateToken> generate_remote(const RemoteParties& parties, const std::string& config_json,
                                          const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                          const ProgressFn& on_progress = {});

}  // namespace veil::nn
