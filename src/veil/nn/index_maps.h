// The public index maps behind the layout ops of the Backend concept (nn/backend.h), for backends
// that apply them to any element storage: out[i] = x[idx[i]], with the output's shape.
#pragma once
#include <cstdint>
#include <vector>

#include "veil/core/tensor.h"

namespace veil::nn {

struct IndexMap {
  std::vector<int64_t> idx;
  Shape shape;
};

IndexMap split_heads_map(const Shape& x, int64_t heads);                     // (T, H·D) -> (H, T, D)
IndexMap merge_heads_map(const Shape& x);                                    // (H, T, D) -> (T, H·D)
IndexMap slice_cols_map(const Shape& x, int64_t begin, int64_t n);           // (..., C) -> (..., n)
IndexMap select_rows_map(const Shape& x, const std::vector<int64_t>& rows);  // (..., T, C) -> (..., R, C)
// Into the flat concatenation of a then b: (..., T1, C), (..., T2, C) -> (..., T1 + T2, C).
IndexMap concat_rows_map(const Shape& a, const Shape& b);
// A vector (N) broadcast over x (..., N).
IndexMap broadcast_last_map(const Shape& x, int64_t n);

template <class T> std::vector<T> apply_map(const std::vector<T>& x, const IndexMap& m) {
  std::vector<T> out(m.idx.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = x[size_t(m.idx[i])];
  return out;
}

}  // namespace veil::nn
