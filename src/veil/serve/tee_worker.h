// A TEE worker's sessions (`veil tee-worker serve`; apps/veil/tee_worker_cmd.cpp runs the accept
// loop, its health endpoints and its drain): a plaintext-backend GPT-2 (nn/plain_backend.h) opened
// from a sealed model (serve/sealed_model.h), serving the protocol of serve/tee_wire.h one session
// at a time. Meant to run inside an SGX enclave or a TDX confidential VM; this build runs it as an
// ordinary process, nothing here is enclave code.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "veil/net/socket.h"
#include "veil/net/tls_context.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/plain_backend.h"
#include "veil/nn/session_token.h"
#include "veil/serve/sealed_model.h"

namespace veil::serve {

struct TeeSessionOutcome {
  std::string outcome;  // served, refused (bad token or request; the client was told) or failed
  std::string detail;   // for the log
  double seconds = 0;   // generation wall time, when served (modelled paging included)
  double modelled_penalty = 1;  // the paging penalty applied (1: none)
  int64_t prompt_tokens = 0, new_tokens = 0;
};

class TeeWorker {
 public:
  // `tls`: the worker's certificate (CN veil-tee-worker), key and CA. With `session_key` every
  // session needs a gateway token for `worker_id` (nn/session_token.h; the gateway's TEE key, not
  // its party-group key). Throws net::LinkError for unusable TLS files.
  // `modelled_paging_slowdown` S > 0 turns on the modelled EPC paging of a simulated host (this
  // machine has no SGX, so nothing pages for real): a session whose request reports an EPC
  // overcommitment r > 1 is stretched to paging_penalty(r, S) times its generation time
  // (serve/epc_placement.h), by sleeping before the result is sent. 0: off.
  TeeWorker(OpenedModel model, const net::TlsFiles& tls, std::chrono::milliseconds timeout,
            const std::string& session_key = {}, int worker_id = 0, double modelled_paging_slowdown = 0);

  // Runs one session on an accepted connection; never throws for the client's faults.
  TeeSessionOutcome serve(net::Fd fd, const std::string& from);

  const model::Gpt2Config& config() const { return model_.config; }
  int64_t parameters() const { return parameters_; }

 private:
  OpenedModel model_;
  net::TlsContext tls_;
  std::chrono::milliseconds timeout_;
  double paging_slowdown_;
  std::optional<nn::SessionTokenVerifier> tokens_;
  std::unique_ptr<nn::PlainBackend> backend_;
  std::unique_ptr<nn::Gpt2<nn::PlainBackend>> gpt2_;
  int64_t parameters_ = 0;
};

}  // namespace veil::serve
