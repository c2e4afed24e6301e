// The session protocol between a client (the gateway, or `veil tee-worker generate`) and a TEE
// worker (`veil tee-worker serve`, serve/tee_worker.h), one session per TLS 1.3 connection
// (net/message_conn.h framing). The worker presents the deployment's TEE worker certificate (CN
// veil-tee-worker, net/certs.h) and accepts clients whose certificate names veil-client, both
// signed by the same CA.
//
//   client -> worker   'T' | session token (nn/session_token.h)   required by a worker with a
//                                                                   session key, else optional
//   client -> worker   'G' | JSON request:
//                        {"config_sha256": hex of the client's config.json (must be the model the
//                                          worker serves),
//                         "prompt": [token ids], "max_new_tokens": n,
//                         "temperature": t, "top_k": k, "seed": s,
//                         "epc_overcommit": r}    optional: the gateway's committed / usable EPC of
//                                                 the worker's host as the session starts; only a
//                                                 worker with --modelled-paging-slowdown uses it
//   worker -> client   'D' | JSON result {"tokens": [ids], "seconds": [wall time per token]}
//                      or 'E' | reason (mpc/client_wire.h) when it refuses or fails.
//
// Unlike the three-party protocol (nn/session_request.h), the prompt and the generated tokens
// travel in the clear inside TLS, and the worker sees them: it is the TEE's memory encryption
// and attestation, not secret sharing, that keeps them from the host (docs/SECURITY.md).
// Sampling runs in the worker with the client's seed, with the plaintext backend's
// nn::generate; no stop token: every step runs, the client cuts at the end-of-text token.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "veil/core/digest.h"
#include "veil/net/endpoint.h"
#include "veil/net/tls_context.h"
#include "veil/nn/generate.h"
#include "veil/nn/generate_client.h"

namespace veil::serve {

inline constexpr uint8_t kTeeRequestMessage = 'G';
inline constexpr uint8_t kTeeResultMessage = 'D';

struct TeeRequest {
  Sha256 config_sha256{};
  std::vector<int32_t> prompt;
  nn::GenerateOptions opt;  // max_new_tokens and sampling; no stop token, no KV policy (full cache)
  double epc_overcommit = 0;
};

struct TeeResult {
  std::vector<int32_t> tokens;
  std::vector<double> seconds;
};

std::vector<uint8_t> encode_tee_request(const TeeRequest& r);
// Throws std::runtime_error naming `from` for a message that is not a well-formed request.
TeeRequest decode_tee_request(const std::vector<uint8_t>& msg, const std::string& from);
std::vector<uint8_t> encode_tee_result(const TeeResult& r);
// Throws std::runtime_error naming `from`; for an 'E' message, with the worker's reason.
TeeResult decode_tee_result(const std::vector<uint8_t>& msg, const std::string& from);

struct TeeClientOptions {
  net::Endpoint worker;
  net::TlsFiles tls;  // the client's certificate (CN veil-client), its key, and the CA
  std::chrono::milliseconds timeout{60000};  // to connect, and for the result
  std::string session_token;  // "" sends none
  double epc_overcommit = 0;   // sent with the request (see above)
  uint64_t max_message_bytes = uint64_t{1} << 24;
};

// One session: sends the request, waits for the result. `config_json` is the text of the client's
// config.json. Throws net::LinkError or std::runtime_error naming the worker.
std::vector<nn::PrivateToken> generate_tee(const TeeClientOptions& o, const std::string& config_json,
                                           const std::vector<int32_t>& prompt, const nn::GenerateOptions& opt);

}  // namespace veil::serve
