// Fixed-point encoding of reals in Z_2^k: x ↦ round(x · 2^f) mod 2^k (two's complement).
#pragma once
#include <cmath>
#include <vector>

#include "veil/core/ring.h"

namespace veil {

template <class T>
T fxp_encode(double x, int frac_bits) {
  return T(signed_t<T>(std::llround(std::ldexp(x, frac_bits))));
}
template <class T>
double fxp_decode(T v, int frac_bits) {
  return std::ldexp(double(signed_t<T>(v)), -frac_bits);
}
template <class T>
std::vector<T> fxp_encode(const std::vector<double>& xs, int frac_bits) {
  std::vector<T> out(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) out[i] = fxp_encode<T>(xs[i], frac_bits);
  return out;
}
template <class T>
std::vector<double> fxp_decode(const std::vector<T>& vs, int frac_bits) {
  std::vector<double> out(vs.size());
  for (size_t i = 0; i < vs.size(); ++i) out[i] = fxp_decode<T>(vs[i], frac_bits);
  return out;
}

}  // namespace veil
