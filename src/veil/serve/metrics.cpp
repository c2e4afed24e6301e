#include "veil/serve/metrics.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace veil::serve {

namespace {

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

const char* type_name(int t) { return t == 0 ? "counter" : t == 1 ? "gauge" : "histogram"; }

// The label set with one more label (the histogram's le) at the end.
std::string with_le(const std::string& labels, const std::string& le) {
  const std::string l = "le=\"" + le + "\"";
  if (labels.empty()) return "{" + l + "}";
  return labels.substr(0, labels.size() - 1) + "," + l + "}";
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!valid_name(labels[i].first) || labels[i].first.find(':') != std::string::npos)
      throw std::invalid_argument("metrics: bad label name '" + labels[i].first + "'");
    if (i) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void Metrics::declare(const std::string& name, Type type, const std::string& help, std::vector<double> bounds) {
  if (!valid_name(name)) throw std::invalid_argument("metrics: bad metric name '" + name + "'");
  for (size_t i = 1; i < bounds.size(); ++i)
    if (!(bounds[i] > bounds[i - 1])) throw std::invalid_argument("metrics: histogram " + name + "'s bounds must increase");
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second.type != type) throw std::invalid_argument("metrics: " + name + " declared twice with different types");
    return;
  }
  families_.emplace(name, Family{type, help, std::move(bounds), {}});
  order_.push_back(name);
}

void Metrics::counter(const std::string& name, const std::string& help) { declare(name, Type::counter, help, {}); }
void Metrics::gauge(const std::string& name, const std::string& help) { declare(name, Type::gauge, help, {}); }
void Metrics::histogram(const std::string& name, const std::string& help, std::vector<double> bounds) {
  declare(name, Type::histogram, help, std::move(bounds));
}

Metrics::Series& Metrics::series(const std::string& name, Type type, const Labels& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) throw std::invalid_argument("metrics: " + name + " is not declared");
  if (it->second.type != type)
    throw std::invalid_argument("metrics: " + name + " is a " + type_name(int(it->second.type)));
  Series& s = it->second.series[render_labels(labels)];
  if (type == Type::histogram && s.buckets.empty()) s.buckets.assign(it->second.bounds.size(), 0);
  return s;
}

void Metrics::add(const std::string& name, const Labels& labels, double value) {
  if (value < 0) throw std::invalid_argument("metrics: counter " + name + " cannot decrease");
  std::lock_guard lock(mu_);
  series(name, Type::counter, labels).value += value;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  series(name, Type::gauge, labels).value = value;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  Series& s = series(name, Type::histogram, labels);
  const std::vector<double>& b = families_.at(name).bounds;
  for (size_t i = 0; i < b.size(); ++i)
    if (value <= b[i]) {
      ++s.buckets[i];
      break;
    }
  ++s.count;
  s.value += value;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) throw std::invalid_argument("metrics: " + name + " is not declared");
  auto s = it->second.series.find(render_labels(labels));
  return s == it->second.series.end() ? 0 : s->second.value;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    std::string help;
    for (char c : f.help) help += c == '\n' ? std::string("\\n") : c == '\\' ? std::string("\\\\") : std::string(1, c);
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type_name(int(f.type)) + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::histogram) {
        out += name + labels + " " + format_value(s.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += s.buckets[i];
        out += name + "_bucket" + with_le(labels, format_value(f.bounds[i])) + " " + std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket" + with_le(labels, "+Inf") + " " + std::to_string(s.count) + "\n";
      out += name + "_sum" + labels + " " + format_value(s.value) + "\n";
      out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace veil::serve
