#include "veil/tune/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace veil::tune {

std::string progress_table(double t, double spent, const SimResult& r, const std::string& metric) {
  std::ostringstream o;
  char buf[256];
  std::snprintf(buf, sizeof buf, "[%s] t=%.2f h  spent=$%.3f  best %s=%.4f  trials=%d  revocations=%d  stopped=%d  failed=%d\n",
                r.method.c_str(), t / 3600, spent, metric.c_str(), r.best, r.trials, r.revocations, r.stopped_early,
                r.failed);
  o << buf;
  o << "  cfg  status   ep    last     best   instance            cost  rev mig\n";
  for (const auto& s : r.trials_table) {
    std::snprintf(buf, sizeof buf, "  %3zu  %-8s %2d  %7.4f  %7.4f  %-18s %6.3f  %3d %3d%s%s\n", s.config, s.status.c_str(),
                  s.epochs, s.last, s.best, s.instance.c_str(), s.cost, s.revocations, s.migrations,
                  s.error.empty() ? "" : "  ", s.error.substr(0, 100).c_str());
    o << buf;
  }
  return o.str();
}

std::string svg_best_vs_cost(const std::vector<PlotSeries>& series, const std::string& metric, const std::string& title) {
  const double W = 720, H = 440, L = 70, R = 170, T = 40, B = 50;
  double xmax = 0, ymin = HUGE_VAL, ymax = -HUGE_VAL;
  for (const auto& s : series)
    for (auto [x, y] : s.points)
      if (std::isfinite(y)) xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  if (!(xmax > 0)) xmax = 1;
  if (!(ymax > ymin)) ymin -= 0.5, ymax += 0.5;
  // Zoom on the interesting part: from the lowest best to a bit above the median start.
  std::vector<double> firsts;
  for (const auto& s : series)
    if (!s.points.empty()) firsts.push_back(s.points.front().second);
  if (!firsts.empty()) {
    std::sort(firsts.begin(), firsts.end());
    ymax = std::min(ymax, firsts[firsts.size() / 2] + 0.1 * (ymax - ymin));
  }
  double pad = 0.05 * (ymax - ymin);
  ymin -= pad, ymax += pad;
  auto X = [&](double x) { return L + (W - L - R) * x / xmax; };
  auto Y = [&](double y) { return T + (H - T - B) * (ymax - std::clamp(y, ymin, ymax)) / (ymax - ymin); };
  static const char* colors[] = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"};
  std::ostringstream o;
  char b[512];
  std::snprintf(b, sizeof b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
  o << b << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::snprintf(b, sizeof b, "<text x=\"%.0f\" y=\"22\" font-size=\"14\">%s</text>\n", L, title.c_str());
  o << b;
  std::snprintf(b, sizeof b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#444\"/>\n", L, T, W - L - R, H - T - B);
  o << b;
  for (int i = 0; i <= 5; ++i) {
    double xv = xmax * i / 5, yv = ymin + (ymax - ymin) * i / 5;
    std::snprintf(b, sizeof b,
                  "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">$%.2f</text>\n"
                  "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.3f</text>\n"
                  "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                  X(xv), H - B + 18, xv, L - 6, Y(yv) + 4, yv, L, W - R, Y(yv), Y(yv));
    o << b;
  }
  std::snprintf(b, sizeof b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">money spent (USD)</text>\n", (L + W - R) / 2, H - 12);
  o << b;
  std::snprintf(b, sizeof b, "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" text-anchor=\"middle\">best %s</text>\n", (T + H - B) / 2, (T + H - B) / 2, metric.c_str());
  o << b;
  for (size_t i = 0; i < series.size(); ++i) {
    const char* c = colors[i % 7];
    std::string d;
    double py = NAN;
    for (auto [x, y] : series[i].points) {
      if (!std::isfinite(y)) continue;
      std::snprintf(b, sizeof b, "%s%.1f,%.1f ", d.empty() ? "M" : "L", X(x), std::isfinite(py) ? Y(py) : Y(y));
      d += b;
      std::snprintf(b, sizeof b, "L%.1f,%.1f ", X(x), Y(y));
      d += b;
      py = y;
    }
    o << "<path d=\"" << d << "\" fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\"/>\n";
    std::snprintf(b, sizeof b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"3\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                  W - R + 12, W - R + 32, T + 14 + 18.0 * double(i), T + 14 + 18.0 * double(i), c, W - R + 38,
                  T + 18 + 18.0 * double(i), series[i].name.c_str());
    o << b;
  }
  o << "</svg>\n";
  return o.str();
}

void paste_between_markers(const std::string& file, const std::string& name, const std::string& text) {
  std::string doc;
  {
    std::ifstream f(file);
    if (f) doc.assign(std::istreambuf_iterator<char>(f), {});
  }
  const std::string begin = "<!-- " + name + ":begin -->", end = "<!-- " + name + ":end -->";
  auto a = doc.find(begin), z = doc.find(end);
  std::string block = begin + "\n" + text + end;
  if (a == std::string::npos || z == std::string::npos || z < a) doc += "\n" + block + "\n";
  else doc = doc.substr(0, a) + block + doc.substr(z + end.size());
  std::ofstream f(file);
  if (!f) throw std::runtime_error("cannot write " + file);
  f << doc;
}

double cost_to_reach(const SimResult& r, double target, bool minimize, double tol) {
  double lim = minimize ? target * (1 + tol) : target * (1 - tol);
  for (auto [c, b] : r.best_vs_cost)
    if (minimize ? b <= lim : b >= lim) return c;
  return HUGE_VAL;
}

}  // namespace veil::tune
