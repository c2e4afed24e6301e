#include "veil/nn/remote_generate.h"

#include <memory>

#include <nlohmann/json.hpp>

#include "veil/mpc/client_wire.h"
#include "veil/mpc/context.h"
#include "veil/mpc/net_client_channel.h"
#include "veil/net/message_conn.h"
#include "veil/net/socket.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/ditto_generate.h"
#include "veil/nn/session_request.h"
#include "veil/nn/session_token.h"

namespace veil::nn {

namespace {

std::string party_at(int i, const net::Endpoint& e) { return "party " + std::to_string(i) + " at " + e.str(); }

// TCP to all three first, so that a party that is not running is named even when another one is
// slow to answer the TLS handshake; then the handshakes.
std::array<std::unique_ptr<net::MessageConn>, 3> connect_parties(const RemoteParties& p, const net::TlsContext& tls) {
  const auto deadline = net::Clock::now() + p.timeout;
  std::array<net::Fd, 3> fds;
  for (int i = 0; i < 3; ++i)
    fds[size_t(i)] = net::connect_until(p.endpoints[size_t(i)], deadline, "client: ", "party " + std::to_string(i));
  std::array<std::unique_ptr<net::MessageConn>, 3> conns;
  for (int i = 0; i < 3; ++i) {
    const std::string who = party_at(i, p.endpoints[size_t(i)]);
    try {
      conns[size_t(i)] = net::open_message_conn(std::move(fds[size_t(i)]), tls, false, net::party_common_name(i), who,
                                                deadline, p.max_message_bytes);
    } catch (const net::LinkError& e) {
      throw net::LinkError(std::string("client: ") + e.what() +
                           " (is it busy with another session, or does it use another CA?)");
    }
  }
  return conns;
}

}  // namespace

std::vector<PrivateToken> generate_remote(const RemoteParties& parties, const std::string& config_json,
                                          const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                          const ProgressFn& on_progress) {
  const model::Gpt2Config config = model::parse_gpt2_config(nlohmann::json::parse(config_json), "the client's config.json");
  const net::TlsContext tls(parties.tls);
  auto conns = connect_parties(parties, tls);

  SessionRequest req;
  const Seed id = random_seed();
  std::copy(id.begin(), id.end(), req.session_id.begin());
  req.config_sha256 = sha256(config_json);
  req.prompt_tokens = int64_t(prompt.size());
  req.max_new_tokens = opt.max_new_tokens;
  req.sampling = {opt.sampling.temperature, opt.sampling.top_k, 0};  // the seed stays with the client
  req.token_input = parties.token_input;
  req.kv = opt.kv;
  const PrecisionPlan plan = parties.plan ? *parties.plan : builtin_plan("fp64");
  req.plan_sha256 = plan_fingerprint(plan);
  for (int i = 0; i < 3; ++i) {
    if (!parties.session_token.empty()) conns[size_t(i)]->send(encode_token(parties.session_token), parties.timeout);
    conns[size_t(i)]->send(encode_request(req, i), parties.timeout);
  }
  for (int i = 0; i < 3; ++i) {
    const std::vector<uint8_t> reply = conns[size_t(i)]->recv(parties.timeout);
    const mpc::ClientMessage kind = mpc::message_kind(reply, conns[size_t(i)]->peer());
    if (kind == mpc::ClientMessage::error)
      throw std::runtime_error("client: " + conns[size_t(i)]->peer() + " refused the session: " + mpc::error_text(reply));
    if (kind != mpc::ClientMessage::accept || reply.size() != 1)
      throw std::runtime_error("client: " + conns[size_t(i)]->peer() + " answered the request with garbage");
  }

  mpc::NetClientEnd end({conns[0].get(), conns[1].get(), conns[2].get()}, parties.timeout);
  std::vector<PrivateToken> out = run_generate_client(
      end, prompt, opt, {parties.token_input, config.vocab_size, mpc_config_for(plan).frac_bits_fm64, onehot_bits_for(plan)},
      on_progress);
  for (auto& c : conns) c->close();
  return out;
}

}  // namespace veil::nn
