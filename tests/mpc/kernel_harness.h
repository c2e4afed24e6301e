// Test harness: runs a kernel on three in-process parties, returns the revealed result and the
// kernel's own traffic (max over parties), so tests can compare it with the plaintext twin and
// with the declared cost.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <type_traits>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/io.h"
#include "veil/mpc/runtime.h"

namespace veil::mpc::testing {

struct Measured {
  int64_t rounds = 0, bytes_max = 0, bytes_total = 0;
};

template <class T>
std::vector<T> random_ring(size_t n, uint64_t seed, T mask = T(~T(0))) {
  std::mt19937_64 rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = T(rng()) & mask;
  return v;
}

// inputs[j] is shared by party j % 3; `kernel` maps the shared inputs to a shared output (an
// arithmetic or, for Out = BShare<T>, a boolean sharing), which is revealed to all. Returns the
// plaintext output and the kernel's traffic.
template <class T, class Out>
std::pair<std::vector<T>, Measured> run_kernel_as(const std::vector<Tensor<T>>& inputs,
                                                  const std::function<Out(Context&, std::vector<AShare<T>>&)>& kernel) {
  std::vector<T> out;
  std::array<net::Traffic, 3> delta;
  run_parties([&](Context& ctx) {
    std::vector<AShare<T>> xs;
    for (size_t j = 0; j < inputs.size(); ++j)
      xs.push_back(share_input(ctx, int(j % 3), inputs[j], inputs[j].shape));
    sync_parties(ctx);  // same round depth on every party before measuring
    net::Traffic before = ctx.link().total();
    Out y = kernel(ctx, xs);
    delta[size_t(ctx.id())] = ctx.link().total() - before;
    Tensor<T> r;
    if constexpr (std::is_same_v<Out, BShare<T>>) r = reveal_all_b(ctx, y);
    else r = reveal_all(ctx, y);
    if (ctx.id() == 0) out = r.data;
  });
  Measured m;
  for (auto& d : delta) {
    m.rounds = std::max<int64_t>(m.rounds, int64_t(d.rounds));
    m.bytes_max = std::max<int64_t>(m.bytes_max, int64_t(d.bytes));
    m.bytes_total += int64_t(d.bytes);
  }
  return {out, m};
}

template <class T>
std::pair<std::vector<T>, Measured> run_kernel(const std::vector<Tensor<T>>& inputs,
                                               const std::function<AShare<T>(Context&, std::vector<AShare<T>>&)>& kernel) {
  return run_kernel_as<T, AShare<T>>(inputs, kernel);
}
template <class T>
std::pair<std::vector<T>, Measured> run_kernel_b(const std::vector<Tensor<T>>& inputs,
                                                 const std::function<BShare<T>(Context&, std::vector<AShare<T>>&)>& kernel) {
  return run_kernel_as<T, BShare<T>>(inputs, kernel);
}

inline void expect_cost(const Measured& m, const Cost& c) {
  EXPECT_EQ(m.rounds, c.rounds) << "rounds";
  EXPECT_EQ(m.bytes_max, c.bytes_max) << "bytes of the busiest party";
  EXPECT_EQ(m.bytes_total, c.bytes_total) << "bytes of all parties";
}

}  // namespace veil::mpc::testing
