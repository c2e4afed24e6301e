#include "veil/tune/curves.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace veil::tune {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool q = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (q) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (c == '"') q = false;
      else cur += c;
    } else if (c == '"') {
      q = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

namespace {
std::string csv_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}
}  // namespace

void write_curves(const std::string& path, const CurveSet& set) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << "# veil-tune-curves v1\n";
  f << "# metric=" << set.metric << " direction=" << (set.minimize ? "minimize" : "maximize")
    << " epochs=" << set.epochs << "\n";
  for (const auto& p : set.provenance) f << "# " << p << "\n";
  for (size_t c = 0; c < set.curves.size(); ++c)
    if (!set.curves[c].failure.empty()) f << "# failed " << c << " " << set.curves[c].failure << "\n";
  f << "config,epoch,metric,seconds,params\n";
  f.precision(7);
  for (size_t c = 0; c < set.curves.size(); ++c) {
    const Curve& cv = set.curves[c];
    const std::string pj = csv_quote(cv.params.dump());
    if (cv.metric.empty()) f << c << ",0,,," << pj << "\n";  // keeps the config of a run with no epoch
    for (size_t e = 0; e < cv.metric.size(); ++e)
      f << c << "," << e + 1 << "," << cv.metric[e] << "," << cv.seconds[e] << "," << pj << "\n";
  }
}

CurveSet read_curves(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open curves file " + path);
  CurveSet s;
  std::string line;
  int ln = 0;
  bool header = false;
  auto fail = [&](const std::string& m) { throw std::runtime_error(path + ":" + std::to_string(ln) + ": " + m); };
  std::vector<std::pair<size_t, std::string>> failures;
  while (std::getline(f, line)) {
    ++ln;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::string body = line.substr(line.find_first_not_of("# "));
      if (body.rfind("metric=", 0) == 0) {
        std::istringstream is(body);
        std::string kv;
        while (is >> kv) {
          auto eq = kv.find('=');
          if (eq == std::string::npos) continue;
          std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
          if (k == "metric") s.metric = v;
          else if (k == "direction") s.minimize = v != "maximize";
          else if (k == "epochs") s.epochs = std::stoi(v);
        }
      } else if (body.rfind("failed ", 0) == 0) {
        std::istringstream is(body.substr(7));
        size_t c;
        is >> c;
        std::string rest;
        std::getline(is, rest);
        failures.emplace_back(c, rest.empty() ? rest : rest.substr(1));
      } else if (body.rfind("veil-tune-curves", 0) != 0) {
        s.provenance.push_back(body);
      }
      continue;
    }
    if (!header) {
      if (line.rfind("config,epoch,metric,seconds,params", 0) != 0) fail("expected the header config,epoch,metric,seconds,params");
      header = true;
      continue;
    }
    auto v = split_csv_line(line);
    if (v.size() != 5) fail("expected 5 fields, got " + std::to_string(v.size()));
    size_t c;
    int e;
    try {
      c = std::stoul(v[0]);
      e = std::stoi(v[1]);
    } catch (...) {
      fail("config and epoch must be integers");
    }
    if (c > 1000000) fail("config id too large");
    if (s.curves.size() <= c) s.curves.resize(c + 1);
    Curve& cv = s.curves[c];
    if (cv.params.is_null()) {
      cv.params = nlohmann::json::parse(v[4], nullptr, false);
      if (cv.params.is_discarded()) fail("params is not valid JSON");
    }
    if (e == 0) continue;
    if (e != int(cv.metric.size()) + 1) fail("epochs of config " + std::to_string(c) + " must be consecutive from 1");
    try {
      cv.metric.push_back(std::stod(v[2]));
      cv.seconds.push_back(std::stod(v[3]));
    } catch (...) {
      fail("metric and seconds must be numbers");
    }
  }
  if (!header) throw std::runtime_error(path + ": no header line; is this a veil tune curves file?");
  for (auto& [c, m] : failures)
    if (c < s.curves.size()) s.curves[c].failure = m;
  if (s.epochs == 0)
    for (const auto& cv : s.curves) s.epochs = std::max(s.epochs, int(cv.metric.size()));
  for (auto& cv : s.curves)
    if (int(cv.metric.size()) < s.epochs && cv.failure.empty()) cv.failure = "curve ends after epoch " + std::to_string(cv.metric.size());
  return s;
}

}  // namespace veil::tune
