#include "veil/serve/cost_model.h"

#include <Eigen/Dense>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>

#include "veil/core/digest.h"
#include "veil/core/file_read.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/ditto_generate.h"
#include "veil/nn/private_generate.h"

namespace veil::serve {

namespace {

// Least squares x of A x ≈ y.
Eigen::VectorXd solve(const Eigen::MatrixXd& a, const Eigen::VectorXd& y) { return a.colPivHouseholderQr().solve(y); }

template <size_t N>
nlohmann::json arr(const std::array<double, N>& a) {
  return nlohmann::json(std::vector<double>(a.begin(), a.end()));
}

template <size_t N>
std::array<double, N> read_arr(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_array() || j[key].size() != N)
    throw std::runtime_error(where + ": '" + key + "' must be an array of " + std::to_string(N) + " numbers");
  std::array<double, N> out{};
  for (size_t i = 0; i < N; ++i) {
    if (!j[key][i].is_number()) throw std::runtime_error(where + ": '" + key + "' must hold numbers");
    out[i] = j[key][i].get<double>();
  }
  return out;
}

// The settings of nn::to_json(KvPolicyConfig) back (its keys; the others keep their defaults).
nn::KvPolicyConfig kv_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("policy") || !j["policy"].is_string())
    throw std::runtime_error(where + ": 'kv' must be an object with a 'policy' name");
  nn::KvPolicyConfig c;
  try {
    c.kind = nn::parse_kv_policy(j["policy"].get<std::string>());
    if (j.contains("budget")) c.budget = j["budget"].get<double>();
    if (j.contains("sink")) c.sink = j["sink"].get<int64_t>();
    if (j.contains("snap_window")) c.snap_window = j["snap_window"].get<int64_t>();
    if (j.contains("pool")) c.pool = j["pool"].get<int64_t>();
    if (j.contains("page")) c.page = j["page"].get<int64_t>();
    if (j.contains("static")) c.static_eviction = j["static"].get<bool>();
    if (j.contains("gamma")) c.gamma = j["gamma"].get<double>();
    if (j.contains("window")) c.window = j["window"].get<double>();
    if (j.contains("reveal")) c.reveal = nn::parse_static_reveal(j["reveal"].get<std::string>());
    if (j.contains("fine")) c.fine = j["fine"].get<int64_t>();
    if (j.contains("coarse")) c.coarse = j["coarse"].get<int64_t>();
    if (j.contains("alpha")) c.alpha = j["alpha"].get<double>();
    if (j.contains("share")) c.share = j["share"].get<bool>();
    nn::validate(c);
  } catch (const std::exception& e) {
    throw std::runtime_error(where + ": bad 'kv': " + e.what());
  }
  return c;
}

}  // namespace

Cost CostProfile::predict(const RequestShape& r) const {
  const double n = double(r.prompt_tokens);
  Cost c;
  if (r.new_tokens <= 0) return c;
  c.bytes = prefill_bytes[0] + prefill_bytes[1] * n + prefill_bytes[2] * n * n;
  c.rounds = prefill_rounds[0] + prefill_rounds[1] * n + prefill_rounds[2] * n * n;
  // decode steps at contexts n+1 .. n+new-1: the sum of d + e·t
  const double k = double(r.new_tokens - 1);
  const double sum_t = k * n + k * (k + 1) / 2;
  c.bytes += decode_bytes[0] * k + decode_bytes[1] * sum_t;
  c.rounds += decode_rounds[0] * k + decode_rounds[1] * sum_t;
  c.bytes = std::max(c.bytes, 0.0), c.rounds = std::max(c.rounds, 0.0);
  return c;
}

double CostProfile::seconds(const RequestShape& r) const { return seconds(predict(r)); }

nlohmann::json CostProfile::to_json() const {
  return {{"model", model},
          {"config_sha256", config_sha256},
          {"precision", precision},
          {"kv_policy", kv_policy},
          {"kv", nn::to_json(kv)},
          {"prefill_bytes", arr(prefill_bytes)},
          {"prefill_rounds", arr(prefill_rounds)},
          {"decode_bytes", arr(decode_bytes)},
          {"decode_rounds", arr(decode_rounds)},
          {"bytes_per_second", bytes_per_second},
          {"round_seconds", round_seconds}};
}

CostProfile CostProfile::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw std::runtime_error(where + ": a cost profile is a JSON object");
  CostProfile p;
  auto str = [&](const char* key) {
    if (!j.contains(key) || !j[key].is_string()) throw std::runtime_error(where + ": '" + std::string(key) + "' must be a string");
    return j[key].get<std::string>();
  };
  auto num = [&](const char* key) {
    if (!j.contains(key) || !j[key].is_number()) throw std::runtime_error(where + ": '" + std::string(key) + "' must be a number");
    return j[key].get<double>();
  };
  p.model = str("model");
  p.config_sha256 = str("config_sha256");
  p.precision = str("precision");
  p.kv_policy = str("kv_policy");
  if (j.contains("kv")) p.kv = kv_from_json(j["kv"], where);
  p.prefill_bytes = read_arr<3>(j, "prefill_bytes", where);
  p.prefill_rounds = read_arr<3>(j, "prefill_rounds", where);
  p.decode_bytes = read_arr<2>(j, "decode_bytes", where);
  p.decode_rounds = read_arr<2>(j, "decode_rounds", where);
  p.bytes_per_second = num("bytes_per_second");
  p.round_seconds = num("round_seconds");
  if (!(p.bytes_per_second > 0) || p.round_seconds < 0)
    throw std::runtime_error(where + ": bytes_per_second must be > 0 and round_seconds >= 0");
  return p;
}

void fit_profile(CostProfile& p, const std::vector<StepSample>& samples) {
  std::vector<StepSample> pre, dec;
  std::set<int64_t> pre_n, dec_t;
  for (const StepSample& s : samples) (s.prefill ? pre : dec).push_back(s), (s.prefill ? pre_n : dec_t).insert(s.context);
  if (pre_n.size() < 3 || dec_t.size() < 2)
    throw std::invalid_argument("a cost profile needs prefills of at least 3 prompt lengths and decode steps at 2 contexts");
  Eigen::MatrixXd a(pre.size(), 3);
  Eigen::VectorXd yb(pre.size()), yr(pre.size());
  for (size_t i = 0; i < pre.size(); ++i) {
    const double n = double(pre[i].context);
    a.row(Eigen::Index(i)) << 1, n, n * n;
    yb[Eigen::Index(i)] = pre[i].bytes, yr[Eigen::Index(i)] = pre[i].rounds;
  }
  Eigen::VectorXd b = solve(a, yb), r = solve(a, yr);
  p.prefill_bytes = {b[0], b[1], b[2]};
  p.prefill_rounds = {r[0], r[1], r[2]};
  Eigen::MatrixXd d(dec.size(), 2);
  Eigen::VectorXd db(dec.size()), dr(dec.size());
  for (size_t i = 0; i < dec.size(); ++i) {
    d.row(Eigen::Index(i)) << 1, double(dec[i].context);
    db[Eigen::Index(i)] = dec[i].bytes, dr[Eigen::Index(i)] = dec[i].rounds;
  }
  b = solve(d, db), r = solve(d, dr);
  p.decode_bytes = {b[0], b[1]};
  p.decode_rounds = {r[0], r[1]};
  // seconds ≈ bytes·x0 + rounds·x1, both x >= 0 (a negative one is dropped and the other refitted)
  Eigen::MatrixXd s(samples.size(), 2);
  Eigen::VectorXd t(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    s.row(Eigen::Index(i)) << samples[i].bytes, samples[i].rounds;
    t[Eigen::Index(i)] = samples[i].seconds;
  }
  Eigen::VectorXd x = solve(s, t);
  if (x[0] <= 0 || x[1] < 0) {
    const double bytes = s.col(0).sum(), seconds = t.sum();
    x[0] = seconds / std::max(bytes, 1.0), x[1] = 0;
  }
  p.bytes_per_second = 1.0 / std::max(x[0], 1e-15);
  p.round_seconds = x[1];
}

CostProfile measure_profile(const std::string& model_dir, const std::string& precision, const nn::KvPolicyConfig& kv) {
  nn::validate(kv);
  if (kv.kind != nn::KvPolicyKind::full && kv.kind != nn::KvPolicyKind::streaming && kv.kind != nn::KvPolicyKind::mpcache)
    throw std::invalid_argument(std::string("KV policy ") + nn::kv_policy_name(kv.kind) +
                                " runs in plaintext only; a cost profile takes full, streaming or mpcache");
  const bool planned = !precision.empty() && precision != "fm64";
  if (planned && kv.kind != nn::KvPolicyKind::full)
    throw std::invalid_argument("a precision plan runs with the full KV cache; profile --precision " + precision +
                                " with --kv-policy full");
  std::optional<nn::PrecisionPlan> plan;
  if (planned) plan = nn::resolve_precision(precision, model_dir).plan;
  const nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(model_dir);
  const std::string config = read_file_or_throw(model_dir + "/config.json");
  CostProfile p;
  p.model = std::filesystem::path(model_dir).filename().string();
  if (p.model.empty()) p.model = std::filesystem::path(model_dir).parent_path().filename().string();
  p.config_sha256 = hex(sha256(std::string_view(config)));
  nn::GenerateOptions opt;
  opt.max_new_tokens = 4;
  opt.kv = kv;
  p.kv = kv;
  p.kv_policy = nn::describe(opt.kv);
  p.precision = "fm64";
  if (plan) {  // a built-in name as given (the folder's plan.json may stand for it), a file's plan by its name
    const std::vector<std::string> builtin = nn::builtin_plan_names();
    if (std::find(builtin.begin(), builtin.end(), precision) != builtin.end())
      p.precision = precision;
    else
      p.precision = !plan->name.empty() ? plan->name : std::filesystem::path(precision).stem().string();
  }
  std::vector<StepSample> samples;
  for (int64_t n : {4, 12, 24, 40}) {
    std::vector<int32_t> prompt;
    for (int64_t i = 0; i < n; ++i) prompt.push_back(int32_t((i * 7919 + 13) % ck.config.vocab_size));
    const std::vector<nn::PrivateToken> out =
        plan ? nn::generate_private(ck, prompt, opt, *plan) : nn::generate_private(ck, prompt, opt);
    for (size_t k = 0; k < out.size(); ++k)
      samples.push_back({n + int64_t(k), k == 0, double(out[k].bytes_total), double(out[k].rounds), out[k].seconds});
  }
  fit_profile(p, samples);
  return p;
}

}  // namespace veil::serve
