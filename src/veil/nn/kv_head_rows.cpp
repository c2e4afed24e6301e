#include "veil/nn/kv_head_rows.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace veil::nn {

Tensor<float> attend_head_rows(const Tensor<float>& q, const Tensor<float>& k, const Tensor<float>& v, double scale,
                               const HeadRows& rows, std::vector<std::vector<float>>* probs) {
  if (q.shape.size() != 3 || q.dim(1) != 1 || k.shape.size() != 3 || k.shape != v.shape || k.dim(0) != q.dim(0) ||
      k.dim(2) != q.dim(2) || int64_t(rows.size()) != q.dim(0))
    throw std::invalid_argument("attend_head_rows: expects q (H,1,D), k and v (H,Tk,D) and H row lists, got " +
                                shape_str(q.shape) + ", " + shape_str(k.shape) + ", " + std::to_string(rows.size()));
  const int64_t heads = q.dim(0), tk = k.dim(1), d = q.dim(2);
  Tensor<float> out({heads, 1, d});
  if (probs) probs->assign(size_t(heads), {});
  for (int64_t h = 0; h < heads; ++h) {
    const std::vector<int64_t>& r = rows[size_t(h)];
    const float* qh = q.data.data() + h * d;
    std::vector<double> s(r.size());
    double m = -INFINITY;
    for (size_t i = 0; i < r.size(); ++i) {
      if (r[i] < 0 || r[i] >= tk) throw std::out_of_range("attend_head_rows: row " + std::to_string(r[i]));
      const float* kr = k.data.data() + (h * tk + r[i]) * d;
      double dot = 0;
      for (int64_t j = 0; j < d; ++j) dot += double(qh[j]) * kr[j];
      s[i] = dot * scale;
      m = std::max(m, s[i]);
    }
    double sum = 0;
    for (double& x : s) sum += x = std::exp(x - m);
    float* o = out.data.data() + h * d;
    for (size_t i = 0; i < r.size(); ++i) {
      const double w = s[i] / sum;
      const float* vr = v.data.data() + (h * tk + r[i]) * d;
      for (int64_t j = 0; j < d; ++j) o[j] += float(w * vr[j]);
      if (probs) (*probs)[size_t(h)].push_back(float(w));
    }
  }
  return out;
}

std::vector<std::vector<double>> attention_received(const Tensor<float>& p, int64_t first) {
  const int64_t heads = p.dim(0), t = p.dim(1), tk = p.dim(2);
  std::vector<std::vector<double>> out(size_t(heads), std::vector<double>(size_t(tk), 0.0));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = first; i < t; ++i) {
      const float* row = p.data.data() + (h * t + i) * tk;
      for (int64_t j = 0; j < tk; ++j) out[size_t(h)][size_t(j)] += row[j];
    }
  return out;
}

std::vector<int64_t> top_rows(const std::vector<double>& v, const std::vector<int64_t>& candidates, int64_t k) {
  std::vector<int64_t> c = candidates;
  k = std::clamp<int64_t>(k, 0, int64_t(c.size()));
  std::stable_sort(c.begin(), c.end(), [&v](int64_t a, int64_t b) { return v[size_t(a)] > v[size_t(b)]; });
  c.resize(size_t(k));
  std::sort(c.begin(), c.end());
  return c;
}

}  // namespace veil::nn
