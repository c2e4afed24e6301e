// One serving party's side of a generation session (`veil party --serve`, apps/veil/party_serve.cpp
// runs the loop): read the client's request, confirm with the two other parties that all three
// hold the same request, accept, and run nn::generate on the MPC backend with the client's
// inputs and outputs on its TLS connection. The protocol is in nn/session_request.h. A bundle
// dealt for a precision plan is served by the mixed-precision backend (nn/ditto_backend.h) under
// that plan; an FM64 bundle by the FM64 backend, which computes what the built-in fp64 plan does.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "veil/core/aead.h"
#include "veil/mpc/context.h"
#include "veil/net/message_conn.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/precision_plan.h"
#include "veil/nn/session_request.h"
#include "veil/nn/session_token.h"

namespace veil::nn {

// What a serving party holds: its shares of one GPT-2 model, loaded once from its bundle.
struct ServedModel {
  model::Gpt2Config config;
  Sha256 config_sha256;  // of config.json as the model owner shared it
  std::shared_ptr<const MpcBackend::WeightShares> weights;  // an FM64 bundle's
  // A plan bundle's plan and shares (weights is then null).
  std::optional<PrecisionPlan> plan;
  std::shared_ptr<const PlanWeightShares> plan_weights;
  Sha256 plan_sha256;  // plan_fingerprint of the plan, or of the built-in fp64 for an FM64 bundle
  std::string plan_name;  // "fp64" for an FM64 bundle
  int64_t parameters = 0;
};

// Decrypts party `party`'s bundle and checks that its shares fit the config (every tensor of
// model/checkpoint_layout.h with its shape). Throws BundleError / model::ConfigError.
ServedModel load_served_model(const std::string& bundle_path, const AeadKey& key, int party);

// A session that ends before any party computed on it: a bad request, or the three parties hold
// different requests. The party link is still in step. The message is for the client.
struct SessionRefused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SessionOutcome {
  double seconds = 0;    // from acceptance to the last output
  net::Traffic traffic;  // this party's link traffic during the session
};

// Waits up to `timeout` for the client's request, after its session token when it sends one
// (nn/session_token.h). With `tokens` (the party has the gateway's session key) the token is
// checked first. Throws SessionRefused for a missing or invalid token or a request this party
// cannot serve, LinkError when the client does not send one.
SessionRequest read_session_request(net::MessageConn& client, const ServedModel& m, int party,
                                    std::chrono::milliseconds timeout, SessionTokenVerifier* tokens = nullptr);

// Exchanges request fingerprints with both peers (one round, 32 bytes to each). Throws
// SessionRefused when they differ (every party sees the difference), LinkError when the link fails.
void confirm_session(mpc::Context& ctx, const SessionRequest& r);

// Accepts the session and runs it to its last output. Any exception leaves the party link out of
// step: the caller reconnects.
SessionOutcome run_session(mpc::Context& ctx, net::MessageConn& client, const ServedModel& m, const SessionRequest& r,
                           std::chrono::milliseconds timeout);

}  // namespace veil::nn
