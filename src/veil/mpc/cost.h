// Declared cost of a kernel: rounds on the critical path and bytes sent, as functions of the
// element count n and the ring. Tests compare these with the link's counters; `veil bench ops`
// and docs/PROTOCOLS.md print them.
#pragma once
#include <cstdint>

namespace veil::mpc {

struct Cost {
  int64_t rounds = 0;       // max over parties of send phases
  int64_t bytes_max = 0;    // bytes sent by the busiest party
  int64_t bytes_total = 0;  // bytes sent by all three parties
  Cost operator+(const Cost& o) const {
    return {rounds + o.rounds, bytes_max + o.bytes_max, bytes_total + o.bytes_total};
  }
  Cost operator*(int64_t k) const { return {rounds * k, bytes_max * k, bytes_total * k}; }
};

inline constexpr int ceil_log2(int64_t v) {
  int r = 0;
  while ((int64_t{1} << r) < v) ++r;
  return r;
}

}  // namespace veil::mpc
