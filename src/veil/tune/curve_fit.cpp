#include "veil/tune/curve_fit.h"

#include <algorithm>
#include <cmath>
#include <Eigen/Dense>  // the tune layer does not link Eigen3::Eigen; the header path is enough

namespace veil::tune {

namespace {

double pow3(double x, const double* p) { return p[0] - p[1] * std::pow(x, -p[2]); }
double pow4(double x, const double* p) { return p[0] - std::pow(p[1] * x + p[2], -p[3]); }
double exp3(double x, const double* p) { return p[0] - std::exp(-p[1] * x + p[2]); }
double log_power(double x, const double* p) { return p[0] / (1 + std::pow(x / std::exp(p[1]), p[2])); }
double janoschek(double x, const double* p) {
  return p[0] - (p[0] - p[1]) * std::exp(-p[2] * std::pow(x, p[3]));
}
double mmf(double x, const double* p) { return p[0] - (p[0] - p[1]) / (1 + std::pow(p[2] * x, p[3])); }
double ilog2(double x, const double* p) { return p[0] - p[1] / std::log(x + 1); }

// Starting points in normalised units: the curve rises from about -1 towards about 0.
std::vector<std::vector<double>> starts(const std::string& n) {
  if (n == "pow3") return {{0.1, 1.0, 0.5}, {0.0, 1.0, 1.0}, {0.5, 1.5, 0.2}};
  if (n == "pow4") return {{0.1, 1.0, 0.5, 0.5}, {0.0, 0.5, 0.5, 1.0}};
  if (n == "exp3") return {{0.0, 0.5, 0.0}, {0.1, 0.2, 0.5}, {0.0, 1.0, 1.0}};
  if (n == "log_power") return {{0.5, 0.0, -1.0}, {0.2, 1.0, -0.5}};
  if (n == "janoschek") return {{0.1, -1.5, 0.5, 1.0}, {0.0, -1.0, 0.2, 0.7}};
  if (n == "mmf") return {{0.1, -1.5, 0.5, 1.0}, {0.0, -1.0, 1.0, 0.8}};
  return {{0.5, 1.0}, {0.0, 0.5}};
}

double sse_of(const CurveFamily& fam, const std::vector<double>& p, const std::vector<double>& x,
              const std::vector<double>& y) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double r = y[i] - fam.f(x[i], p.data());
    s += r * r;
  }
  return std::isfinite(s) ? s : HUGE_VAL;
}

FamilyFit lm(const CurveFamily& fam, std::vector<double> p, const std::vector<double>& x, const std::vector<double>& y) {
  const int n = int(x.size()), k = fam.params;
  double lambda = 1e-2, cur = sse_of(fam, p, x, y);
  Eigen::MatrixXd J(n, k);
  Eigen::VectorXd r(n);
  for (int it = 0; it < 200 && std::isfinite(cur); ++it) {
    for (int i = 0; i < n; ++i) r(i) = y[i] - fam.f(x[i], p.data());
    for (int j = 0; j < k; ++j) {
      double h = 1e-6 * std::max(1.0, std::abs(p[j]));
      std::vector<double> a = p, b = p;
      a[j] += h, b[j] -= h;
      for (int i = 0; i < n; ++i) J(i, j) = (fam.f(x[i], a.data()) - fam.f(x[i], b.data())) / (2 * h);
    }
    if (!J.allFinite()) break;
    Eigen::MatrixXd A = J.transpose() * J;
    Eigen::VectorXd g = J.transpose() * r;
    bool improved = false;
    while (lambda < 1e12) {
      Eigen::MatrixXd M = A;
      for (int j = 0; j < k; ++j) M(j, j) += lambda * (A(j, j) + 1e-9);
      Eigen::VectorXd d = M.ldlt().solve(g);
      std::vector<double> q = p;
      for (int j = 0; j < k; ++j) q[j] += d(j);
      double s = sse_of(fam, q, x, y);
      if (s < cur) {
        bool tiny = cur - s < 1e-12 * (1 + cur);
        p = q, cur = s, lambda = std::max(lambda / 3, 1e-12), improved = true;
        if (tiny) it = 1000;
        break;
      }
      lambda *= 4;
    }
    if (!improved) break;
  }
  FamilyFit f;
  f.family = fam.name;
  f.params = p;
  f.sse = cur;
  f.ok = std::isfinite(cur);
  return f;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

const std::vector<CurveFamily>& curve_families() {
  static const std::vector<CurveFamily> f = {{"pow3", 3, pow3},   {"pow4", 4, pow4},           {"exp3", 3, exp3},
                                             {"log_power", 3, log_power}, {"janoschek", 4, janoschek},
                                             {"mmf", 4, mmf},     {"ilog2", 2, ilog2}};
  return f;
}

FamilyFit fit_family(const CurveFamily& fam, const std::vector<double>& x, const std::vector<double>& y) {
  FamilyFit best;
  best.family = fam.name;
  best.sse = HUGE_VAL;
  for (const auto& s : starts(fam.name)) {
    FamilyFit f = lm(fam, s, x, y);
    if (f.ok && f.sse < best.sse) best = f;
  }
  return best;
}

double CurvePrediction::prob_better(double best, bool minimize) const {
  if (!ok) return 1.0;
  double s = std::max(stddev, 1e-12);
  double z = (best - mean) / s;
  return minimize ? normal_cdf(z) : normal_cdf(-z);
}

CurvePrediction predict_curve(const std::vector<double>& metric, int target_epoch, bool minimize) {
  CurvePrediction out;
  const size_t n = metric.size();
  if (n < 3) return out;
  // Normalise: z = sign * y, scaled so the observed range is 1 and the last point is 0.
  std::vector<double> x(n), z(n);
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  for (size_t i = 0; i < n; ++i) {
    x[i] = double(i + 1);
    double v = minimize ? -metric[i] : metric[i];
    lo = std::min(lo, v), hi = std::max(hi, v);
    z[i] = v;
  }
  const double last = z.back(), scale = std::max(hi - lo, 1e-9 * (1 + std::abs(last)));
  for (double& v : z) v = (v - last) / scale;
  const double zmin = (lo - last) / scale, zmax = (hi - last) / scale;
  const double T = double(target_epoch);
  std::vector<double> pred, w;
  double res_var = 0, wsum = 0;
  for (const auto& fam : curve_families()) {
    if (size_t(fam.params) >= n) continue;  // need more points than parameters
    FamilyFit f = fit_family(fam, x, z);
    if (!f.ok) continue;
    double p = fam.f(T, f.params.data());
    // Extrapolations that leave a plausible band are discarded.
    if (!std::isfinite(p) || p > zmax + 1.5 || p < zmin - 0.5) continue;
    double s2 = f.sse / double(n - size_t(fam.params) + 1);
    double wk = 1.0 / (s2 + 1e-4);
    pred.push_back(p);
    w.push_back(wk);
    res_var += wk * s2;
    wsum += wk;
  }
  if (pred.empty()) {  // no family fits: the last value, with the whole observed range as doubt
    out.ok = true;
    out.mean = minimize ? -(last) : last;
    out.stddev = scale;
    return out;
  }
  double mu = 0;
  for (size_t i = 0; i < pred.size(); ++i) mu += w[i] * pred[i];
  mu /= wsum;
  double spread = 0;
  for (size_t i = 0; i < pred.size(); ++i) spread += w[i] * (pred[i] - mu) * (pred[i] - mu);
  spread /= wsum;
  res_var /= wsum;
  double reach = std::max(0.0, T - double(n)) / double(n);
  double var = spread + res_var * (1 + reach);
  double zm = last + mu * scale;
  out.ok = true;
  out.members = int(pred.size());
  out.mean = minimize ? -zm : zm;
  out.stddev = std::sqrt(var) * scale;
  return out;
}

}  // namespace veil::tune
