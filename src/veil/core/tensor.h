// Row-major dense tensors over a plain element type (ring elements or floats).
#pragma once
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace veil {

using Shape = std::vector<int64_t>;

inline int64_t numel(const Shape& s) {
  return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>());
}
std::string shape_str(const Shape& s);

template <class T>
struct Tensor {
  Shape shape;
  std::vector<T> data;  // row-major, numel(shape) elements

  Tensor() = default;
  explicit Tensor(Shape s, T fill = T{}) : shape(std::move(s)), data(size_t(numel(shape)), fill) {}
  Tensor(Shape s, std::vector<T> d) : shape(std::move(s)), data(std::move(d)) {
    if (int64_t(data.size()) != numel(shape))
      throw std::invalid_argument("Tensor: " + std::to_string(data.size()) +
                                  " elements do not fit shape " + shape_str(shape));
  }
  size_t size() const { return data.size(); }
  int64_t dim(int i) const { return shape.at(size_t(i < 0 ? int(shape.size()) + i : i)); }
  T& operator[](size_t i) { return data[i]; }
  const T& operator[](size_t i) const { return data[i]; }
};

}  // namespace veil
