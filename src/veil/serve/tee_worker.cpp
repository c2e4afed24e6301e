#include "veil/serve/tee_worker.h"

#include <ctime>
#include <thread>

#include "veil/mpc/client_wire.h"
#include "veil/net/certs.h"
#include "veil/net/message_conn.h"
#include "veil/nn/generate.h"
#include "veil/serve/epc_placement.h"
#include "veil/serve/tee_wire.h"

namespace veil::serve {

namespace {

// Why the worker cannot run `r`, or "".
std::string check(const TeeRequest& r, const OpenedModel& m) {
  if (r.config_sha256 != m.config_sha256)
    return "the request's config.json (SHA-256 " + hex(r.config_sha256) + ") is not the model this worker serves (" +
           hex(m.config_sha256) + ")";
  if (r.prompt.empty()) return "the prompt has no tokens";
  for (int32_t t : r.prompt)
    if (t < 0 || t >= m.config.vocab_size) return "prompt token " + std::to_string(t) + " is outside the vocabulary";
  if (r.opt.max_new_tokens < 1) return "max_new_tokens must be at least 1";
  if (int64_t(r.prompt.size()) + r.opt.max_new_tokens > m.config.n_positions)
    return "the prompt (" + std::to_string(r.prompt.size()) + " tokens) and " + std::to_string(r.opt.max_new_tokens) +
           " new tokens exceed the model's " + std::to_string(m.config.n_positions) + " positions";
  if (r.opt.sampling.temperature < 0 || r.opt.sampling.top_k < 0) return "temperature and top_k must not be negative";
  return "";
}

}  // namespace

TeeWorker::TeeWorker(OpenedModel model, const net::TlsFiles& tls, std::chrono::milliseconds timeout,
                     const std::string& session_key, int worker_id, double modelled_paging_slowdown)
    : model_(std::move(model)), tls_(tls), timeout_(timeout), paging_slowdown_(modelled_paging_slowdown) {
  if (!session_key.empty()) tokens_.emplace(session_key, worker_id);
  for (const auto& [name, w] : model_.weights) parameters_ += numel(w.shape);
  backend_ = std::make_unique<nn::PlainBackend>(std::move(model_.weights));
  gpt2_ = std::make_unique<nn::Gpt2<nn::PlainBackend>>(*backend_, model_.config);
}

TeeSessionOutcome TeeWorker::serve(net::Fd fd, const std::string& from) {
  TeeSessionOutcome out;
  const std::string who = "the client at " + from;
  std::unique_ptr<net::MessageConn> conn;
  TeeRequest r;
  auto refuse = [&](const std::string& why) {
    out.outcome = "refused";
    out.detail = why;
    try {
      conn->send(mpc::encode_error(why), timeout_);
    } catch (const std::exception&) {  // the client may be gone
    }
    return out;
  };
  try {
    conn = net::open_message_conn(std::move(fd), tls_, true, net::client_common_name(), who,
                                  net::Clock::now() + timeout_, uint64_t{1} << 24);
    std::vector<uint8_t> msg = conn->recv(timeout_);
    std::string token;
    const bool has_token = nn::decode_token(msg, token, who);
    if (tokens_) {
      if (!has_token) return refuse("this TEE worker needs a session token of the gateway (POST /v1/sessions)");
      if (std::string why = tokens_->accept(token, int64_t(std::time(nullptr))); !why.empty()) return refuse(why);
    }
    if (has_token) msg = conn->recv(timeout_);
    r = decode_tee_request(msg, who);
  } catch (const std::exception& e) {
    if (!conn) return {"failed", std::string("before its request: ") + e.what()};
    return refuse(e.what());
  }
  if (std::string why = check(r, model_); !why.empty()) return refuse(why);
  out.prompt_tokens = int64_t(r.prompt.size());
  out.new_tokens = r.opt.max_new_tokens;
  try {
    const auto start = std::chrono::steady_clock::now();
    TeeResult res;
    for (const nn::GeneratedToken& t : nn::generate(*backend_, *gpt2_, r.prompt, r.opt)) {
      res.tokens.push_back(t.id);
      res.seconds.push_back(t.seconds);
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (paging_slowdown_ > 0 && r.epc_overcommit > 1) {  // modelled, not measured: see the constructor
      out.modelled_penalty = paging_penalty(r.epc_overcommit, paging_slowdown_);
      std::this_thread::sleep_for(std::chrono::duration<double>((out.modelled_penalty - 1) * out.seconds));
      out.seconds *= out.modelled_penalty;
    }
    conn->send(encode_tee_result(res), timeout_);
    conn->close();
  } catch (const std::exception& e) {
    out.outcome = "failed";
    out.detail = e.what();
    return out;
  }
  out.outcome = "served";
  return out;
}

}  // namespace veil::serve
