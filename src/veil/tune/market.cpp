#include "veil/tune/market.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "veil/tune/curves.h"

namespace veil::tune {

double PriceSeries::at(double time) const {
  if (t.empty()) return 0;
  auto it = std::upper_bound(t.begin(), t.end(), time);
  if (it == t.begin()) return price.front();
  return price[size_t(it - t.begin()) - 1];
}

double PriceSeries::dollars(double t0, double t1) const {
  if (t1 <= t0 || t.empty()) return 0;
  double sum = 0, cur = t0;
  auto it = std::upper_bound(t.begin(), t.end(), t0);
  while (cur < t1) {
    double next = it == t.end() ? t1 : std::min(t1, *it);
    sum += at(cur) * (next - cur);
    cur = next;
    if (it != t.end()) ++it;
  }
  return sum / 3600.0;
}

double parse_iso8601(const std::string& s) {
  std::tm tm{};
  int off_h = 0, off_m = 0;
  char sign = '+';
  int n = std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d%c%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec, &sign, &off_h, &off_m);
  if (n < 6) throw std::runtime_error("bad timestamp \"" + s + "\" (expected 2020-07-31T11:24:57+00:00)");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  double t = double(timegm(&tm));
  if (n == 9) t -= (sign == '-' ? -1 : 1) * (off_h * 3600.0 + off_m * 60.0);
  return t;
}

std::map<std::string, PriceSeries> load_aws_spot_prices(const std::string& path, const std::string& product) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open spot price history " + path);
  std::string line;
  std::getline(f, line);
  auto head = split_csv_line(line);
  auto col = [&](const std::string& n) {
    auto it = std::find(head.begin(), head.end(), n);
    if (it == head.end()) throw std::runtime_error(path + ": no column " + n + " (expected the AWS describe-spot-price-history CSV)");
    return size_t(it - head.begin());
  };
  size_t ci = col("InstanceType"), cp = col("ProductDescription"), cs = col("SpotPrice"), ct = col("Timestamp");
  std::map<std::string, std::vector<std::pair<double, double>>> raw;
  double t_min = kInf;
  int ln = 1;
  while (std::getline(f, line)) {
    ++ln;
    if (line.empty()) continue;
    auto v = split_csv_line(line);
    if (v.size() <= std::max({ci, cp, cs, ct})) throw std::runtime_error(path + ":" + std::to_string(ln) + ": too few fields");
    if (v[cp] != product) continue;
    double t = parse_iso8601(v[ct]);
    t_min = std::min(t_min, t);
    raw[v[ci]].emplace_back(t, std::stod(v[cs]));
  }
  if (raw.empty()) throw std::runtime_error(path + ": no rows for product \"" + product + "\"");
  std::map<std::string, PriceSeries> out;
  for (auto& [ty, pts] : raw) {
    std::sort(pts.begin(), pts.end());
    PriceSeries s;
    for (auto& [t, p] : pts) {
      if (!s.t.empty() && s.t.back() == t - t_min) {
        s.price.back() = p;
        continue;
      }
      s.t.push_back(t - t_min);
      s.price.push_back(p);
    }
    out[ty] = std::move(s);
  }
  return out;
}

AvailabilityTrace::AvailabilityTrace(std::string name, double gap_s, std::vector<int> counts)
    : name_(std::move(name)), gap_(gap_s), n_(std::move(counts)) {
  if (n_.empty()) throw std::runtime_error("trace " + name_ + " has no data");
  if (!(gap_ > 0)) throw std::runtime_error("trace " + name_ + " needs gap_seconds > 0");
  const size_t n = n_.size();
  next_down_.assign(n, -1);
  next_up_.assign(n, -1);
  int64_t down = -1, up = -1;
  for (size_t k = 2 * n; k-- > 0;) {  // two passes over the trace so the answer wraps around
    size_t i = k % n;
    if (n_[i] > 0) up = int64_t(k);
    else down = int64_t(k);
    if (k < n) {
      next_down_[i] = down < 0 ? -1 : down - int64_t(k);
      next_up_[i] = up < 0 ? -1 : up - int64_t(k);
    }
  }
}

size_t AvailabilityTrace::tick(double t) const {
  double d = duration_s();
  double w = t - std::floor(t / d) * d;
  return std::min(n_.size() - 1, size_t(std::floor(w / gap_)));
}

// Start time of the tick `ahead` ticks after the one containing t. The result is nudged
// a microsecond into that tick so that tick() of it is that tick despite rounding.
double AvailabilityTrace::tick_time(double t, int64_t ahead) const {
  const double d = duration_s();
  double period = std::floor(t / d);
  double start = period * d + double(tick(t)) * gap_;
  return start + double(ahead) * gap_ + 1e-6;
}

double AvailabilityTrace::next_unavailable(double t) const {
  size_t i = tick(t);
  if (next_down_[i] < 0) return kInf;
  if (next_down_[i] == 0) return t;
  return tick_time(t, next_down_[i]);
}

double AvailabilityTrace::next_available(double t) const {
  size_t i = tick(t);
  if (next_up_[i] < 0) return kInf;
  if (next_up_[i] == 0) return t;
  return tick_time(t, next_up_[i]);
}

AvailabilityTrace load_skypilot_trace(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open spot trace " + path);
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].is_array() || !j.contains("metadata") ||
      !j["metadata"].contains("gap_seconds"))
    throw std::runtime_error(path + ": expected {\"metadata\": {\"gap_seconds\": N}, \"data\": [...]}");
  std::vector<int> n;
  for (const auto& v : j["data"]) n.push_back(v.get<int>());
  return AvailabilityTrace(std::filesystem::path(path).stem().string(), j["metadata"]["gap_seconds"].get<double>(),
                           std::move(n));
}

double RevocationEstimate::probability(double hours) const { return 1.0 - std::exp(-rate_per_hour * hours); }

RevocationEstimate estimate_revocation(const AvailabilityTrace& tr, double t0, double t1) {
  RevocationEstimate e;
  size_t a = size_t(std::max(0.0, t0) / tr.gap_s());
  size_t b = std::min(tr.ticks(), size_t(std::ceil(t1 / tr.gap_s())));
  if (b <= a) return e;
  size_t up = 0;
  for (size_t i = a; i < b; ++i) {
    if (tr.count(i) > 0) {
      ++up;
      if (i + 1 < b && tr.count(i + 1) == 0) ++e.revocations;
    }
  }
  e.held_hours = double(up) * tr.gap_s() / 3600.0;
  e.availability = double(up) / double(b - a);
  // One pseudo-revocation over the window when none was seen: a trace never proves zero risk.
  e.rate_per_hour = (double(e.revocations) + (e.revocations ? 0.0 : 0.5)) / std::max(e.held_hours, 1e-9);
  return e;
}

int Market::type_index(const std::string& n) const {
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i].name == n) return int(i);
  return -1;
}

Market load_market(const std::string& path, const std::string& data_dir) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open market file " + path);
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(path + ": not valid JSON");
  Market m;
  m.data_dir = data_dir;
  m.name = j.value("name", "market");
  m.on_demand_source = j.value("on_demand_source", "");
  m.speed_note = j.value("speed_note", "");
  auto prices = load_aws_spot_prices(data_dir + "/" + j.at("spot_prices").get<std::string>(), j.value("product", "Linux/UNIX"));
  for (const auto& t : j.at("types")) {
    InstanceType it;
    it.name = t.at("name").get<std::string>();
    it.vcpus = t.value("vcpus", 1.0);
    it.on_demand = t.at("on_demand").get<double>();
    it.speed = t.at("speed").get<double>();
    if (!(it.on_demand > 0) || !(it.speed > 0)) throw std::runtime_error(path + ": type " + it.name + " needs on_demand > 0 and speed > 0");
    auto p = prices.find(it.name);
    if (p == prices.end()) throw std::runtime_error(path + ": no spot price history for " + it.name);
    m.types.push_back(it);
    m.spot.push_back(p->second);
  }
  if (m.types.empty()) throw std::runtime_error(path + ": \"types\" is empty");
  m.baseline = m.type_index(j.value("baseline", m.types[0].name));
  if (m.baseline < 0) throw std::runtime_error(path + ": baseline type is not among \"types\"");
  for (const auto& s : j.at("scenarios")) m.scenarios.push_back({s.at("name"), s.at("traces")});
  return m;
}

MarketReplay make_replay(const Market& m, size_t s, uint64_t seed, double horizon_s) {
  if (s >= m.scenarios.size()) throw std::runtime_error("market " + m.name + " has no scenario " + std::to_string(s));
  MarketReplay r;
  r.market = &m;
  r.scenario = m.scenarios[s].name;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(m.data_dir + "/" + m.scenarios[s].trace_dir))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  if (files.empty()) throw std::runtime_error("no *.json traces in " + m.data_dir + "/" + m.scenarios[s].trace_dir);
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + s);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (size_t i = 0; i < m.types.size(); ++i) {
    r.traces.push_back(load_skypilot_trace(files[i % files.size()]));
    const auto& tr = r.traces.back();
    r.estimate.push_back(estimate_revocation(tr, 0, tr.duration_s() / 2));
  }
  // One offset for all traces of the scenario: zones observed over the same period.
  double span = r.traces[0].duration_s();
  r.trace_offset_s = span / 2 + u(rng) * span / 2;
  double pspan = 0;
  for (const auto& p : m.spot) pspan = std::max(pspan, p.span());
  r.price_offset_s = u(rng) * std::max(0.0, pspan - horizon_s);
  return r;
}

}  // namespace veil::tune
