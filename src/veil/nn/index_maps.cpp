#include "veil/nn/index_maps.h"

#include <stdexcept>

namespace veil::nn {

IndexMap split_heads_map(const Shape& x, int64_t heads) {
  if (x.size() != 2 || heads <= 0 || x[1] % heads != 0)
    throw std::invalid_argument("split_heads: cannot split " + shape_str(x) + " into " + std::to_string(heads) + " heads");
  const int64_t t = x[0], c = x[1], d = c / heads;
  IndexMap m{std::vector<int64_t>(size_t(t * c)), {heads, t, d}};
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = 0; j < d; ++j) m.idx[size_t((h * t + i) * d + j)] = i * c + h * d + j;
  return m;
}

IndexMap merge_heads_map(const Shape& x) {
  if (x.size() != 3) throw std::invalid_argument("merge_heads: expects (H, T, D), got " + shape_str(x));
  const int64_t heads = x[0], t = x[1], d = x[2];
  IndexMap m{std::vector<int64_t>(size_t(heads * t * d)), {t, heads * d}};
  for (int64_t i = 0; i < t; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < d; ++j) m.idx[size_t(i * heads * d + h * d + j)] = (h * t + i) * d + j;
  return m;
}

IndexMap slice_cols_map(const Shape& x, int64_t begin, int64_t n) {
  const int64_t c = x.back(), rows = numel(x) / c;
  if (begin < 0 || n < 0 || begin + n > c)
    throw std::invalid_argument("slice_cols: columns " + std::to_string(begin) + "+" + std::to_string(n) + " of " + shape_str(x));
  Shape out = x;
  out.back() = n;
  IndexMap m{std::vector<int64_t>(size_t(rows * n)), out};
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) m.idx[size_t(i * n + j)] = i * c + begin + j;
  return m;
}

IndexMap select_rows_map(const Shape& x, const std::vector<int64_t>& rows) {
  const size_t r = x.size();
  if (r < 2) throw std::invalid_argument("select_rows: expects (..., T, C), got " + shape_str(x));
  const int64_t t = x[r - 2], c = x[r - 1], b = numel(x) / (t * c), nr = int64_t(rows.size());
  for (int64_t row : rows)
    if (row < 0 || row >= t) throw std::out_of_range("select_rows: row " + std::to_string(row) + " of " + shape_str(x));
  Shape out = x;
  out[r - 2] = nr;
  IndexMap m{std::vector<int64_t>(size_t(b * nr * c)), out};
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t i = 0; i < nr; ++i)
      for (int64_t j = 0; j < c; ++j) m.idx[size_t((bi * nr + i) * c + j)] = (bi * t + rows[size_t(i)]) * c + j;
  return m;
}

IndexMap concat_rows_map(const Shape& a, const Shape& b) {
  const size_t r = a.size();
  if (r < 2 || b.size() != r || a[r - 1] != b[r - 1] || numel(a) / (a[r - 2] * a[r - 1]) != numel(b) / (b[r - 2] * b[r - 1]))
    throw std::invalid_argument("concat_rows: cannot stack " + shape_str(a) + " and " + shape_str(b));
  const int64_t t1 = a[r - 2], t2 = b[r - 2], c = a[r - 1], nb = numel(a) / (t1 * c), off_b = nb * t1 * c;
  Shape out = a;
  out[r - 2] = t1 + t2;
  IndexMap m{std::vector<int64_t>(size_t(nb * (t1 + t2) * c)), out};
  for (int64_t bi = 0; bi < nb; ++bi)
    for (int64_t i = 0; i < t1 + t2; ++i)
      for (int64_t j = 0; j < c; ++j)
        m.idx[size_t((bi * (t1 + t2) + i) * c + j)] = i < t1 ? (bi * t1 + i) * c + j : off_b + (bi * t2 + (i - t1)) * c + j;
  return m;
}

IndexMap broadcast_last_map(const Shape& x, int64_t n) {
  if (x.empty() || x.back() != n)
    throw std::invalid_argument("add_bias: a bias of " + std::to_string(n) + " does not fit " + shape_str(x));
  IndexMap m{std::vector<int64_t>(size_t(numel(x))), x};
  for (size_t i = 0; i < m.idx.size(); ++i) m.idx[i] = int64_t(i) % n;
  return m;
}

}  // namespace veil::nn
