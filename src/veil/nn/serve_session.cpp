#include "veil/nn/serve_session.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "veil/model/checkpoint_layout.h"
#include "veil/mpc/net_client_channel.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/share_bundle.h"

namespace veil::nn {

namespace {

// A plan bundle: every tensor of the layout with its shape in each encoding, and a plan the
// parties' kernels can run.
ServedModel served_plan_model(ShareBundle b, ServedModel m, const std::string& bundle_path) {
  std::vector<std::string> names;
  for (const auto& [name, _] : b.plan_weights) names.push_back(name);
  try {
    check_plan_for_model(*b.plan, names, m.config.n_layer);
    check_plan_for_mpc(*b.plan, mpc_config_for(*b.plan));
  } catch (const PlanError& e) {
    throw BundleError("share bundle " + bundle_path + ": " + e.what());
  }
  for (const auto& [name, t] : model::gpt2_layout(m.config)) {
    auto it = b.plan_weights.find(name);
    if (it == b.plan_weights.end()) {
      if (t.required) throw BundleError("share bundle " + bundle_path + " lacks weight '" + name + "'");
      continue;
    }
    for (const RingTensor& e : it->second)
      if (e.shape != t.shape)
        throw BundleError("share bundle " + bundle_path + ": weight '" + name + "' has shape " + shape_str(e.shape) +
                          " on " + std::string(ring_name(e.ring)) + ", its config asks for " + shape_str(t.shape));
    m.parameters += numel(t.shape);
  }
  m.plan_sha256 = plan_fingerprint(*b.plan);
  m.plan_name = b.plan->name;
  m.plan = std::move(b.plan);
  m.plan_weights = std::make_shared<const PlanWeightShares>(std::move(b.plan_weights));
  return m;
}

}  // namespace

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
  if (b.plan) return served_plan_model(std::move(b), std::move(m), bundle_path);
  m.plan_sha256 = plan_fingerprint(builtin_plan("fp64"));
  m.plan_name = "fp64";
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
                                    std::chrono::milliseconds timeout, SessionTokenVerifier* tokens) {
  std::vector<uint8_t> msg = client.recv(timeout);
  std::string token;
  try {
    if (decode_token(msg, token, client.peer())) msg = client.recv(timeout);
  } catch (const std::runtime_error& e) {
    throw SessionRefused(e.what());
  }
  if (tokens)
    if (std::string why = tokens->accept(token, int64_t(std::time(nullptr))); !why.empty()) throw SessionRefused(why);
  SessionRequest r;
  try {
    r = decode_request(msg, party, client.peer());
  } catch (const std::runtime_error& e) {
    throw SessionRefused(e.what());
  }
  if (std::string why = check_request(r, m.config, m.config_sha256); !why.empty()) throw SessionRefused(why);
  if (r.plan_sha256 != m.plan_sha256)
    throw SessionRefused("the client asks for precision plan " + hex(r.plan_sha256).substr(0, 16) +
                         "..., but this party serves plan '" + m.plan_name + "' (" + hex(m.plan_sha256).substr(0, 16) +
                         "...): run the client with --precision " + (m.plan ? m.plan_name : std::string("fp64")) +
                         " and the client folder `veil share-model` wrote with these bundles");
  if (m.plan && r.kv.kind != KvPolicyKind::full)
    throw SessionRefused("this party serves precision plan '" + m.plan_name +
                         "', which runs with the full KV cache: drop --kv-policy");
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
  GenerateOptions opt;
  opt.max_new_tokens = r.max_new_tokens;
  opt.sampling = r.sampling;
  opt.kv = r.kv;
  // The party knows only the prompt's length; the ids come from the client.
  const std::vector<int32_t> prompt(size_t(r.prompt_tokens), 0);
  if (m.plan) {
    // The plan's kernels may want other fraction bits than the link's context: a context of their
    // own (one round of seed setup, the same on all three parties, who serve the same plan).
    const mpc::Config cfg = mpc_config_for(*m.plan);
    std::optional<mpc::Context> own;
    if (cfg.frac_bits_fm32 != ctx.config().frac_bits_fm32 || cfg.frac_bits_fm64 != ctx.config().frac_bits_fm64)
      own.emplace(ctx.link(), cfg);
    DittoBackend be(own ? *own : ctx, m.plan_weights, *m.plan, channel, r.token_input);
    Gpt2<DittoBackend> model(be, m.config);
    generate(be, model, prompt, opt);
  } else {
    MpcBackend be(ctx, m.weights, channel, r.token_input);
    Gpt2<MpcBackend> model(be, m.config);
    generate(be, model, prompt, opt);
  }
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          ctx.link().total() - before};
}

}  // namespace veil::nn
