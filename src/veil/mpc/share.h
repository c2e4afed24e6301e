// Replicated secret shares (RSS) over Z_2^k. x = x0 + x1 + x2 (arithmetic) or x0 ^ x1 ^ x2
// (boolean, bits packed in the element word). Party i holds (x_i, x_{i+1}): s0 = x_i, s1 = x_{i+1}.
#pragma once
#include <vector>

#include "veil/core/tensor.h"

namespace veil::mpc {

template <class T>
struct AShare {  // arithmetic sharing
  Shape shape;
  std::vector<T> s0, s1;
  AShare() = default;
  explicit AShare(Shape s) : shape(std::move(s)), s0(size_t(numel(shape))), s1(size_t(numel(shape))) {}
  size_t size() const { return s0.size(); }
};

template <class T>
struct BShare {  // boolean sharing, `nbits` low bits of each word are meaningful
  Shape shape;
  std::vector<T> s0, s1;
  int nbits = int(sizeof(T) * 8);
  BShare() = default;
  BShare(Shape s, int bits)
      : shape(std::move(s)), s0(size_t(numel(shape))), s1(size_t(numel(shape))), nbits(bits) {}
  size_t size() const { return s0.size(); }
};

}  // namespace veil::mpc
