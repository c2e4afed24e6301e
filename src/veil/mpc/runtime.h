// Runs the three parties of a computation as threads of this process over the in-process
// transport. If one party throws, its link is closed so the others fail fast; the first error
// (by party id) is rethrown with the party named.
#pragma once
#include <array>
#include <functional>

#include "veil/mpc/context.h"

namespace veil::mpc {

struct PartyTraffic {
  std::array<net::Traffic, 3> total;                                 // per party
  std::array<std::map<std::string, net::Traffic>, 3> by_tag;         // per party
  uint64_t max_bytes() const;
  uint64_t sum_bytes() const;
  uint64_t max_rounds() const;
};

PartyTraffic run_parties(const std::function<void(Context&)>& fn, Config cfg = {},
                         net::LinkOptions opt = {});

}  // namespace veil::mpc
