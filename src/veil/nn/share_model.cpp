#include "veil/nn/share_model.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "veil/mpc/context.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/precision_plan.h"
#include "veil/nn/share_bundle.h"

namespace veil::nn {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ModelFolderError("cannot read " + p.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void refuse_existing(const fs::path& p, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(p, ec))
    throw BundleError(p.string() + " already exists (pass --force to replace the bundles and client files)");
}

}  // namespace

std::string bundle_key_file(const std::string& key_dir, int party) {
  return (fs::path(key_dir) / ("party-" + std::to_string(party) + ".key")).string();
}

ShareModelReport share_model(const std::string& model_dir, const std::string& out_dir, const ShareModelOptions& opt) {
  const fs::path in(model_dir), out(out_dir);
  for (const char* f : {"vocab.json", "merges.txt"})
    if (!fs::is_regular_file(in / f)) throw ModelFolderError("model folder " + model_dir + " has no " + f + " (the client needs it)");
  Gpt2Checkpoint ck = load_gpt2_checkpoint(model_dir);  // checks config.json against the weights
  const std::string config_text = read_text(in / "config.json");
  std::optional<PrecisionPlan> plan;
  ShareModelReport r;
  if (!opt.precision.empty() && opt.precision != "fp64") {
    ResolvedPlan p = resolve_precision(opt.precision, model_dir);
    std::vector<std::string> names;
    for (const auto& [name, _] : ck.weights) names.push_back(name);
    check_plan_for_model(p.plan, names, ck.config.n_layer);
    check_plan_for_mpc(p.plan, mpc_config_for(p.plan));
    r.plan_source = p.source, r.plan_note = p.note;
    plan = std::move(p.plan);
  }

  r.client_dir = (out / "client").string();
  for (int i = 0; i < 3; ++i) r.bundles[size_t(i)] = (out / ("party-" + std::to_string(i) + ".bundle")).string();
  for (const std::string& b : r.bundles) refuse_existing(b, opt.overwrite);
  for (const char* f : {"config.json", "vocab.json", "merges.txt", "plan.json"}) refuse_existing(out / "client" / f, opt.overwrite);

  std::error_code ec;
  fs::create_directories(out / "client", ec);
  if (ec) throw BundleError("cannot create " + (out / "client").string() + ": " + ec.message());
  std::array<AeadKey, 3> keys;
  const std::string key_dir = opt.key_dir.empty() ? (out / "keys").string() : opt.key_dir;
  if (opt.key_dir.empty()) {
    fs::create_directories(key_dir, ec);
    if (ec) throw BundleError("cannot create " + key_dir + ": " + ec.message());
    fs::permissions(key_dir, fs::perms::owner_all, ec);
    for (int i = 0; i < 3; ++i)
      if (fs::exists(bundle_key_file(key_dir, i)))
        throw BundleError(bundle_key_file(key_dir, i) + " already exists: pass --key-dir " + key_dir +
                          " to seal the new bundles under the existing keys, or remove the old keys");
    for (int i = 0; i < 3; ++i) {
      keys[size_t(i)] = random_aead_key();
      write_bundle_key(bundle_key_file(key_dir, i), keys[size_t(i)]);
    }
  } else {
    for (int i = 0; i < 3; ++i) keys[size_t(i)] = read_bundle_key(bundle_key_file(key_dir, i));
  }
  for (int i = 0; i < 3; ++i) r.keys[size_t(i)] = bundle_key_file(key_dir, i);

  for (const auto& [name, w] : ck.weights) r.parameters += int64_t(w.size());
  Prg owner(random_seed());
  if (plan) {
    auto shares = deal_plan_weights(ck.weights, *plan, owner);
    ck.weights.clear();
    for (int i = 0; i < 3; ++i) {
      ShareBundle b{i, 0, config_text, {}, plan, std::move(shares[size_t(i)])};
      write_share_bundle(r.bundles[size_t(i)], b, keys[size_t(i)]);
    }
    std::ofstream(out / "client" / "plan.json") << plan_json(*plan) << "\n";
  } else {
    const int frac = mpc::Config{}.frac_bits<uint64_t>();
    auto shares = deal_weights(ck.weights, frac, owner);
    ck.weights.clear();
    for (int i = 0; i < 3; ++i) {
      ShareBundle b{i, frac, config_text, std::move(shares[size_t(i)])};
      write_share_bundle(r.bundles[size_t(i)], b, keys[size_t(i)]);
    }
    fs::remove(out / "client" / "plan.json", ec);  // an FM64 deployment's client resolves fp64 without it
  }
  for (const char* f : {"config.json", "vocab.json", "merges.txt"}) {
    fs::copy_file(in / f, out / "client" / f, fs::copy_options::overwrite_existing, ec);
    if (ec) throw BundleError("cannot copy " + (in / f).string() + " to " + r.client_dir + ": " + ec.message());
  }
  return r;
}

}  // namespace veil::nn
