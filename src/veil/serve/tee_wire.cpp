#include "veil/serve/tee_wire.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "veil/mpc/client_wire.h"
#include "veil/net/certs.h"
#include "veil/net/transport.h"
#include "veil/net/message_conn.h"
#include "veil/net/socket.h"
#include "veil/nn/session_token.h"

namespace veil::serve {

namespace {

using json = nlohmann::json;

std::vector<uint8_t> with_kind(uint8_t kind, const std::string& body) {
  std::vector<uint8_t> out{kind};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

json body_of(const std::vector<uint8_t>& msg, uint8_t kind, const std::string& from, const char* what) {
  if (msg.empty() || msg[0] != kind)
    throw std::runtime_error(from + " sent a message that is not a TEE " + what + " ('" + char(kind) + "' | JSON)");
  json j = json::parse(msg.begin() + 1, msg.end(), nullptr, false);
  if (!j.is_object()) throw std::runtime_error(from + " sent a TEE " + what + " that is not a JSON object");
  return j;
}

}  // namespace

std::vector<uint8_t> encode_tee_request(const TeeRequest& r) {
  return with_kind(kTeeRequestMessage, json{{"config_sha256", hex(r.config_sha256)},
                                            {"prompt", r.prompt},
                                            {"max_new_tokens", r.opt.max_new_tokens},
                                            {"temperature", r.opt.sampling.temperature},
                                            {"top_k", r.opt.sampling.top_k},
                                            {"seed", r.opt.sampling.seed},
                                            {"epc_overcommit", r.epc_overcommit}}
                                           .dump());
}

TeeRequest decode_tee_request(const std::vector<uint8_t>& msg, const std::string& from) {
  const json j = body_of(msg, kTeeRequestMessage, from, "request");
  TeeRequest r;
  try {
    const std::string sha = j.at("config_sha256").get<std::string>();
    if (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw std::runtime_error("'config_sha256' must be 64 lower-case hex digits");
    for (size_t i = 0; i < 32; ++i) r.config_sha256[i] = uint8_t(std::stoul(sha.substr(2 * i, 2), nullptr, 16));
    r.prompt = j.at("prompt").get<std::vector<int32_t>>();
    r.opt.max_new_tokens = j.at("max_new_tokens").get<int64_t>();
    r.opt.sampling.temperature = j.at("temperature").get<double>();
    r.opt.sampling.top_k = j.at("top_k").get<int64_t>();
    r.opt.sampling.seed = j.at("seed").get<uint64_t>();
    r.epc_overcommit = j.value("epc_overcommit", 0.0);
  } catch (const std::exception& e) {
    throw std::runtime_error(from + " sent a malformed TEE request: " + e.what());
  }
  return r;
}

std::vector<uint8_t> encode_tee_result(const TeeResult& r) {
  return with_kind(kTeeResultMessage, json{{"tokens", r.tokens}, {"seconds", r.seconds}}.dump());
}

TeeResult decode_tee_result(const std::vector<uint8_t>& msg, const std::string& from) {
  if (!msg.empty() && mpc::message_kind(msg, from) == mpc::ClientMessage::error)
    throw std::runtime_error(from + " refused: " + mpc::error_text(msg));
  const json j = body_of(msg, kTeeResultMessage, from, "result");
  TeeResult r;
  try {
    r.tokens = j.at("tokens").get<std::vector<int32_t>>();
    r.seconds = j.at("seconds").get<std::vector<double>>();
  } catch (const std::exception& e) {
    throw std::runtime_error(from + " sent a malformed TEE result: " + e.what());
  }
  if (r.seconds.size() != r.tokens.size()) throw std::runtime_error(from + " sent a TEE result with one time per token missing");
  return r;
}

std::vector<nn::PrivateToken> generate_tee(const TeeClientOptions& o, const std::string& config_json,
                                           const std::vector<int32_t>& prompt, const nn::GenerateOptions& opt) {
  const std::string who = "TEE worker at " + o.worker.str();
  const net::Clock::time_point deadline = net::Clock::now() + o.timeout;
  const net::TlsContext tls(o.tls);
  net::Fd fd = net::connect_until(o.worker, deadline, "client: ", who);
  auto conn = net::open_message_conn(std::move(fd), tls, false, net::tee_worker_common_name(), who, deadline,
                                     o.max_message_bytes);
  if (!o.session_token.empty()) conn->send(nn::encode_token(o.session_token), o.timeout);
  TeeRequest r;
  r.config_sha256 = sha256(config_json);
  r.prompt = prompt;
  r.opt = opt;
  r.epc_overcommit = o.epc_overcommit;
  try {
    conn->send(encode_tee_request(r), o.timeout);
  } catch (const net::LinkError&) {  // a worker that refused the token has closed: its reason is waiting
    decode_tee_result(conn->recv(o.timeout), who);
    throw;
  }
  const TeeResult res = decode_tee_result(conn->recv(o.timeout), who);
  if (int64_t(res.tokens.size()) != opt.max_new_tokens)
    throw std::runtime_error(who + " returned " + std::to_string(res.tokens.size()) + " tokens, not the " +
                             std::to_string(opt.max_new_tokens) + " asked for");
  conn->close();
  std::vector<nn::PrivateToken> out;
  for (size_t i = 0; i < res.tokens.size(); ++i) out.push_back({res.tokens[i], res.seconds[i]});
  return out;
}

}  // namespace veil::serve
