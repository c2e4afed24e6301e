#include "veil/tune/space.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

namespace veil::tune {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("search space: " + what); }

double number(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key)) bad(where + ": missing \"" + key + "\"");
  if (!j[key].is_number()) bad(where + ": \"" + key + "\" must be a number, got " + j[key].dump());
  double v = j[key].get<double>();
  if (!std::isfinite(v)) bad(where + ": \"" + key + "\" must be finite");
  return v;
}

Param parse_param(const std::string& name, const nlohmann::json& j) {
  const std::string where = "params." + name;
  if (!j.is_object()) bad(where + " must be an object like {\"type\": \"float\", \"min\": 0, \"max\": 1}");
  Param p;
  p.name = name;
  std::string type = j.value("type", "");
  if (type == "float" || type == "real") p.type = ParamType::real;
  else if (type == "int" || type == "integer") p.type = ParamType::integer;
  else if (type == "categorical") p.type = ParamType::categorical;
  else bad(where + ".type must be \"float\", \"int\" or \"categorical\", got \"" + type + "\"");
  if (p.type == ParamType::categorical) {
    if (!j.contains("values") || !j["values"].is_array() || j["values"].empty())
      bad(where + ".values must be a non-empty array for a categorical parameter");
    for (const auto& v : j["values"]) p.values.push_back(v);
    return p;
  }
  p.min = number(j, "min", where);
  p.max = number(j, "max", where);
  if (!(p.min <= p.max)) bad(where + ": min (" + std::to_string(p.min) + ") exceeds max (" + std::to_string(p.max) + ")");
  std::string scale = j.value("scale", "linear");
  if (scale == "linear") p.scale = Scale::linear;
  else if (scale == "log") p.scale = Scale::log;
  else bad(where + ".scale must be \"linear\" or \"log\", got \"" + scale + "\"");
  if (p.scale == Scale::log && p.min <= 0) bad(where + ": a log-scale range needs min > 0");
  return p;
}

}  // namespace

nlohmann::json SearchSpace::sample(std::mt19937_64& rng) const {
  nlohmann::json c = nlohmann::json::object();
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const Param& p : params) {
    if (p.type == ParamType::categorical) {
      c[p.name] = p.values[std::uniform_int_distribution<size_t>(0, p.values.size() - 1)(rng)];
      continue;
    }
    double x = u(rng);
    double v = p.scale == Scale::log ? std::exp(std::log(p.min) + x * (std::log(p.max) - std::log(p.min)))
                                     : p.min + x * (p.max - p.min);
    if (p.type == ParamType::integer) {
      long lo = std::lround(std::ceil(p.min)), hi = std::lround(std::floor(p.max));
      long k = p.scale == Scale::log ? std::lround(v) : lo + long(std::floor(x * double(hi - lo + 1)));
      c[p.name] = std::clamp(k, lo, hi);
    } else {
      c[p.name] = v;
    }
  }
  return c;
}

std::vector<nlohmann::json> SearchSpace::sample_n(int n, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::vector<nlohmann::json> out;
  for (int i = 0; i < n; ++i) out.push_back(sample(rng));
  return out;
}

SearchSpace parse_space(const nlohmann::json& j) {
  if (!j.is_object()) bad("the top level must be a JSON object");
  SearchSpace s;
  s.metric = j.value("metric", "");
  if (s.metric.empty()) bad("\"metric\" (the key the trial prints each epoch, e.g. \"val_loss\") is required");
  std::string dir = j.value("direction", "minimize");
  if (dir == "minimize") s.minimize = true;
  else if (dir == "maximize") s.minimize = false;
  else bad("\"direction\" must be \"minimize\" or \"maximize\", got \"" + dir + "\"");
  if (!j.contains("epochs") || !j["epochs"].is_number_integer() || j["epochs"].get<int>() < 1)
    bad("\"epochs\" must be a positive integer (the epochs of a full trial)");
  s.epochs = j["epochs"].get<int>();
  if (!j.contains("params") || !j["params"].is_object() || j["params"].empty())
    bad("\"params\" must be a non-empty object of hyper-parameters");
  for (const auto& [name, pj] : j["params"].items()) s.params.push_back(parse_param(name, pj));
  if (j.contains("budget")) {
    const auto& b = j["budget"];
    if (!b.is_object()) bad("\"budget\" must be an object");
    if (b.contains("money")) {
      s.budget.money = number(b, "money", "budget");
      if (s.budget.money <= 0) bad("budget.money must be positive (dollars)");
    }
    if (b.contains("deadline_hours")) {
      double h = number(b, "deadline_hours", "budget");
      if (h <= 0) bad("budget.deadline_hours must be positive");
      s.budget.deadline_s = h * 3600;
    }
    if (b.contains("max_trials")) {
      if (!b["max_trials"].is_number_integer() || b["max_trials"].get<int>() < 1)
        bad("budget.max_trials must be a positive integer");
      s.budget.max_trials = b["max_trials"].get<int>();
    }
  }
  if (j.contains("command")) {
    if (!j["command"].is_string()) bad("\"command\" must be a string");
    s.command = j["command"].get<std::string>();
  }
  if (j.contains("report_timeout_s")) {
    s.report_timeout_s = number(j, "report_timeout_s", "top level");
    if (s.report_timeout_s <= 0) bad("report_timeout_s must be positive");
  }
  return s;
}

SearchSpace load_space(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("search space: cannot open " + path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::invalid_argument("search space " + path + ": not valid JSON: " + e.what());
  }
  return parse_space(j);
}

}  // namespace veil::tune
