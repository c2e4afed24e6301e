#include "veil/mpc/layout.h"

#include <stdexcept>

#include "veil/mpc/instantiate.h"

namespace veil::mpc {

template <class T> AShare<T> concat(const std::vector<const AShare<T>*>& parts) {
  size_t n = 0;
  for (auto* p : parts) n += p->size();
  AShare<T> out(Shape{int64_t(n)});
  size_t off = 0;
  for (auto* p : parts) {
    std::copy(p->s0.begin(), p->s0.end(), out.s0.begin() + long(off));
    std::copy(p->s1.begin(), p->s1.end(), out.s1.begin() + long(off));
    off += p->size();
  }
  return out;
}

template <class T> AShare<T> slice(const AShare<T>& x, size_t off, size_t n, Shape shape) {
  if (off + n > x.size()) throw std::out_of_range("fxp::slice: range past the end of the share");
  if (shape.empty()) shape = {int64_t(n)};
  if (size_t(numel(shape)) != n) throw std::invalid_argument("fxp::slice: shape does not match n");
  AShare<T> out;
  out.shape = std::move(shape);
  out.s0.assign(x.s0.begin() + long(off), x.s0.begin() + long(off + n));
  out.s1.assign(x.s1.begin() + long(off), x.s1.begin() + long(off + n));
  return out;
}

template <class T> AShare<T> reshape(AShare<T> x, Shape shape) {
  if (size_t(numel(shape)) != x.size())
    throw std::invalid_argument("fxp::reshape: " + shape_str(shape) + " does not hold " +
                                std::to_string(x.size()) + " elements");
  x.shape = std::move(shape);
  return x;
}

template <class T> AShare<T> gather(const AShare<T>& x, const std::vector<int64_t>& idx, Shape shape) {
  AShare<T> out(std::move(shape));
  if (out.size() != idx.size()) throw std::invalid_argument("fxp::gather: shape does not match idx");
  for (size_t i = 0; i < idx.size(); ++i) {
    out.s0[i] = x.s0[size_t(idx[i])];
    out.s1[i] = x.s1[size_t(idx[i])];
  }
  return out;
}

template <class T> AShare<T> repeat_each(const AShare<T>& x, int64_t times, Shape shape) {
  AShare<T> out(std::move(shape));
  if (out.size() != x.size() * size_t(times)) throw std::invalid_argument("fxp::repeat_each: bad shape");
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < size_t(times); ++j) {
      out.s0[i * size_t(times) + j] = x.s0[i];
      out.s1[i * size_t(times) + j] = x.s1[i];
    }
  return out;
}

template <class T> AShare<T> sum_rows(const AShare<T>& x, int64_t cols) {
  if (cols <= 0 || x.size() % size_t(cols) != 0) throw std::invalid_argument("fxp::sum_rows: bad cols");
  size_t rows = x.size() / size_t(cols);
  AShare<T> out(Shape{int64_t(rows)});
  for (size_t r = 0; r < rows; ++r) {
    T a = 0, b = 0;
    for (size_t j = 0; j < size_t(cols); ++j) a += x.s0[r * size_t(cols) + j], b += x.s1[r * size_t(cols) + j];
    out.s0[r] = a, out.s1[r] = b;
  }
  return out;
}

#define X(T)                                                                                 \
  template AShare<T> concat(const std::vector<const AShare<T>*>&);                           \
  template AShare<T> slice(const AShare<T>&, size_t, size_t, Shape);                         \
  template AShare<T> reshape(AShare<T>, Shape);                                              \
  template AShare<T> gather(const AShare<T>&, const std::vector<int64_t>&, Shape);           \
  template AShare<T> repeat_each(const AShare<T>&, int64_t, Shape);                          \
  template AShare<T> sum_rows(const AShare<T>&, int64_t);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::mpc
