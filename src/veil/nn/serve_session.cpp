#include "veil/nn/serve_session.h"

#include <nlohmann/json.hpp>

#include "veil/model/checkpoint_layout.h"
#include "veil/mpc/net_client_channel.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/share_bundle.h"

namespace veil::nn {

ServedModel load_served_model(const std::string& bundle_path, const AeadKey& key, int party) {
  ShareBundle b = read_share_bundle(bundle_path, key, party);
  ServedModel m;
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(b.config_json);
  } catch (const nlohmann::json::exception& e) {
    throw BundleError("share bundle " + bundle_path + ": its config.json is not valid JSON: " + e.what());
  }
  m.config = model::parse_gpt2_config(config, bundle_path + " (config.json)");
  m.config_sha256 = sha256(b.config_json);
  if (b.frac_bits != mpc::Config{}.frac_bits<uint64_t>())
    throw BundleError("share bundle " + bundle_path + " encodes weights with " + std::to_string(b.frac_bits) +
                      " fraction bits, this build computes with " + std::to_string(mpc::Config{}.frac_bits<uint64_t>()));
  for (const auto& [name, t] : model::gpt2_layout(m.config)) {
    auto it = b.weights.find(name);
    if (it == b.weights.end()) {
      if (t.required) throw BundleError("share bundle " + bundle_path + " lacks weight '" + name + "'");
      continue;
    }
    if (it->second.shape != t.shape)
      throw BundleError("share bundle " + bundle_path + ": weight '" + name + "' has shape " + shape_str(it->second.shape) +
                        ", its config asks for " + shape_str(t.shape));
    m.parameters += numel(t.shape);
  }
  m.weights = std::make_shared<const MpcBackend::WeightShares>(std::move(b.weights));
  return m;
}

SessionRequest read_session_request(net::MessageConn& client, const ServedModel& m, int party,
                                    std::chrono::milliseconds timeout) {
  const std::vector<uint8_t> msg = client.recv(timeout);
  SessionRequest r;
  try {
    r = decode_request(msg, party, client.peer());
  } catch (const std::runtime_error& e) {
    throw SessionRefused(e.what());
  }
  if (std::string why = check_request(r, m.config, m.config_sha256); !why.empty()) throw SessionRefused(why);
  return r;
}

void confirm_session(mpc::Context& ctx, const SessionRequest& r) {
  net::Link::Scope scope(ctx.link(), "session");
  const Sha256 mine = request_fingerprint(r);
  ctx.link().send(ctx.next(), mine.data(), mine.size());
  ctx.link().send(ctx.prev(), mine.data(), mine.size());
  Sha256 from_next, from_prev;
  ctx.link().recv(ctx.next(), from_next.data(), from_next.size());
  ctx.link().recv(ctx.prev(), from_prev.data(), from_prev.size());
  if (from_next != mine || from_prev != mine)
    throw SessionRefused("the three parties received different session requests (another client reached some of "
                         "them at the same time?); session refused, try again");
}

SessionOutcome run_session(mpc::Context& ctx, net::MessageConn& client, const ServedModel& m, const SessionRequest& r,
                           std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const net::Traffic before = ctx.link().total();
  client.send(encode_accept(), timeout);
  mpc::NetClientChannel channel(client, ctx.link(), timeout, max_input_elements(r, m.config));
  MpcBackend be(ctx, m.weights, channel, r.token_input);
  Gpt2<MpcBackend> model(be, m.config);
  GenerateOptions opt;
  opt.max_new_tokens = r.max_new_tokens;
  opt.sampling = r.sampling;
  opt.kv = r.kv;
  // The party knows only the prompt's length; the ids come from the client.
  generate(be, model, std::vector<int32_t>(size_t(r.prompt_tokens), 0), opt);
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          ctx.link().total() - before};
}

}  // namespace veil::nn
