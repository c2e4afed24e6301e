// Network models of the benchmarks (ARCHITECTURE.md): modelled time =
// compute wall time + bytes sent by the busiest party / bandwidth + rounds × RTT.
#pragma once
#include <cstdint>

namespace veil::bench {

struct NetModel {
  const char* name;
  double bits_per_s;
  double rtt_s;
  double time(double wall_s, int64_t bytes_max, int64_t rounds) const {
    return wall_s + double(bytes_max) * 8.0 / bits_per_s + double(rounds) * rtt_s;
  }
};

inline constexpr NetModel kLan{"LAN", 5e9, 0.4e-3};   // Ditto / PUMA setup
inline constexpr NetModel kWan{"WAN", 400e6, 40e-3};  // Ditto setup

}  // namespace veil::bench
