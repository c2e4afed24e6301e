#include "veil/nn/kv_policy_config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace veil::nn {

namespace {

struct Named {
  KvPolicyKind kind;
  const char* name;
};
constexpr Named kPolicies[] = {{KvPolicyKind::full, "full"},   {KvPolicyKind::streaming, "streaming"},
                               {KvPolicyKind::h2o, "h2o"},     {KvPolicyKind::snapkv, "snapkv"},
                               {KvPolicyKind::quest, "quest"}, {KvPolicyKind::topk, "topk"},
                               {KvPolicyKind::mpcache, "mpcache"}};

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("KV policy: " + what); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

int64_t budget_tokens(double budget, int64_t context) {
  if (context <= 0) return 0;
  const auto n = int64_t(std::ceil(budget * double(context) - 1e-9));
  return std::clamp<int64_t>(n, 1, context);
}

const char* kv_policy_name(KvPolicyKind k) {
  for (const Named& p : kPolicies)
    if (p.kind == k) return p.name;
  return "?";
}

std::vector<std::string> kv_policy_names() {
  std::vector<std::string> out;
  for (const Named& p : kPolicies) out.emplace_back(p.name);
  return out;
}

KvPolicyKind parse_kv_policy(const std::string& name) {
  for (const Named& p : kPolicies)
    if (name == p.name) return p.kind;
  std::string all;
  for (const Named& p : kPolicies) all += std::string(all.empty() ? "" : ", ") + p.name;
  bad("unknown policy '" + name + "'; choose one of " + all);
}

const char* static_reveal_name(StaticReveal r) { return r == StaticReveal::positions ? "positions" : "count"; }

StaticReveal parse_static_reveal(const std::string& name) {
  if (name == "positions") return StaticReveal::positions;
  if (name == "count") return StaticReveal::count;
  bad("unknown static-eviction reveal mode '" + name + "'; choose positions or count");
}

void validate(const KvPolicyConfig& c) {
  if (!(c.budget > 0 && c.budget <= 1)) bad("--kv-budget must be in (0, 1], got " + num(c.budget));
  if (c.sink < 0) bad("--kv-sink must be >= 0, got " + std::to_string(c.sink));
  if (!(c.window > 0 && c.window <= 1)) bad("--kv-window must be in (0, 1], got " + num(c.window));
  if (c.snap_window < 1) bad("--kv-snap-window must be >= 1 token, got " + std::to_string(c.snap_window));
  if (c.pool < 1 || c.pool % 2 == 0) bad("--kv-pool must be an odd number >= 1, got " + std::to_string(c.pool));
  if (c.page < 1) bad("--kv-page must be >= 1, got " + std::to_string(c.page));
  if (!(c.gamma >= 0 && c.gamma < 1)) bad("--kv-gamma must be in [0, 1), got " + num(c.gamma));
  if (c.fine < 1) bad("--kv-fine must be >= 1, got " + std::to_string(c.fine));
  if (c.coarse % c.fine != 0 || c.coarse / c.fine < 2)
    bad("--kv-coarse must be a multiple (at least 2) of --kv-fine: a coarse cluster is made of fine ones; got coarse " +
        std::to_string(c.coarse) + " and fine " + std::to_string(c.fine));
  if (!(c.alpha >= 0 && c.alpha <= 1)) bad("--kv-alpha must be in [0, 1], got " + num(c.alpha));
}

nlohmann::json to_json(const KvPolicyConfig& c) {
  nlohmann::json j = {{"policy", kv_policy_name(c.kind)}};
  if (c.kind == KvPolicyKind::full) return j;
  j["budget"] = c.budget;
  switch (c.kind) {
    case KvPolicyKind::streaming:
      j["sink"] = c.sink;
      break;
    case KvPolicyKind::h2o:
    case KvPolicyKind::topk:
      break;
    case KvPolicyKind::snapkv:
      j["snap_window"] = c.snap_window, j["pool"] = c.pool;
      break;
    case KvPolicyKind::quest:
      j["page"] = c.page;
      break;
    case KvPolicyKind::mpcache:
      j["static"] = c.static_eviction;
      j["gamma"] = c.gamma, j["window"] = c.window, j["reveal"] = static_reveal_name(c.reveal);
      j["fine"] = c.fine, j["coarse"] = c.coarse, j["alpha"] = c.alpha, j["share"] = c.share;
      break;
    case KvPolicyKind::full:
      break;
  }
  return j;
}

std::string describe(const KvPolicyConfig& c) {
  std::string s = kv_policy_name(c.kind);
  const nlohmann::json j = to_json(c);
  for (const auto& [k, v] : j.items())
    if (k != "policy") s += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return s;
}

}  // namespace veil::nn
