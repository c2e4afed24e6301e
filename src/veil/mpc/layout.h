// Data movement and public linear maps on arithmetic shares: concatenation, slices, gathers,
// per-row broadcast and row sums. Each applies the same public index map (or public linear map)
// to both share components, so it is local and costs nothing. It lives in mpc/ because it reads
// share components; fxp/ uses it and never touches components itself.
#pragma once
#include <vector>

#include "veil/mpc/share.h"

namespace veil::mpc {

// Flat concatenation of the parts (shape {Σ n_i}).
template <class T> AShare<T> concat(const std::vector<const AShare<T>*>& parts);
// Elements [off, off + n) of x's flat storage, with the given shape (default {n}).
template <class T> AShare<T> slice(const AShare<T>& x, size_t off, size_t n, Shape shape = {});
// x with a new shape of the same element count.
template <class T> AShare<T> reshape(AShare<T> x, Shape shape);
// out[i] = x[idx[i]].
template <class T> AShare<T> gather(const AShare<T>& x, const std::vector<int64_t>& idx, Shape shape);
// Each element repeated `times` times in a row: broadcasts a per-row value (R) over rows (R, C).
template <class T> AShare<T> repeat_each(const AShare<T>& x, int64_t times, Shape shape);
// Sums of consecutive groups of `cols` elements: (R·cols) -> (R). Ring sums, no truncation.
template <class T> AShare<T> sum_rows(const AShare<T>& x, int64_t cols);

// Rows and columns of a tensor reduced along its last axis.
inline int64_t last_dim(const Shape& s) { return s.empty() ? 1 : s.back(); }
inline Shape drop_last(const Shape& s) { return s.empty() ? Shape{} : Shape(s.begin(), s.end() - 1); }

}  // namespace veil::mpc
