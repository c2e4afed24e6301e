// Test harness for fixed-point functions: party 0 shares fixed-point inputs, the function runs
// on three in-process parties, the output is revealed and decoded; the function's own traffic
// (max over parties) is measured so tests can print rounds and bytes.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>

#include "veil/core/fixed_point.h"
#include "veil/mpc/io.h"
#include "veil/mpc/runtime.h"

namespace veil::fxp::testing {

using mpc::AShare;
using mpc::Context;

struct Measured {
  int64_t rounds = 0, bytes_max = 0, bytes_total = 0;
};

template <class T> int default_frac_bits() { return mpc::Config{}.frac_bits<T>(); }

struct Input {
  std::vector<double> values;  // encoded as fixed point unless `integer`
  Shape shape;
  bool integer = false;
};

// Runs `fn` on the shared inputs and returns the revealed raw ring output.
template <class T>
std::vector<T> run_raw(const std::vector<Input>& inputs,
                       const std::function<AShare<T>(Context&, std::vector<AShare<T>>&)>& fn, Measured* m = nullptr) {
  const int F = default_frac_bits<T>();
  std::vector<T> out;
  std::array<net::Traffic, 3> delta;
  mpc::run_parties([&](Context& ctx) {
    std::vector<AShare<T>> xs;
    for (const Input& in : inputs) {
      Tensor<T> t(in.shape);
      if (ctx.id() == 0)
        for (size_t i = 0; i < in.values.size(); ++i)
          t[i] = in.integer ? T(signed_t<T>(std::llround(in.values[i]))) : fxp_encode<T>(in.values[i], F);
      xs.push_back(mpc::share_input(ctx, 0, t, in.shape));
    }
    mpc::reveal_all(ctx, mpc::share_public(ctx, Tensor<T>({1})));  // align the parties
    net::Traffic before = ctx.link().total();
    AShare<T> y = fn(ctx, xs);
    delta[size_t(ctx.id())] = ctx.link().total() - before;
    Tensor<T> r = mpc::reveal_all(ctx, y);
    if (ctx.id() == 0) out = r.data;
  });
  if (m) {
    *m = {};
    for (auto& d : delta) {
      m->rounds = std::max<int64_t>(m->rounds, int64_t(d.rounds));
      m->bytes_max = std::max<int64_t>(m->bytes_max, int64_t(d.bytes));
      m->bytes_total += int64_t(d.bytes);
    }
  }
  return out;
}

// The same, decoding the output as fixed point.
template <class T>
std::vector<double> run_fxp(const std::vector<Input>& inputs,
                            const std::function<AShare<T>(Context&, std::vector<AShare<T>>&)>& fn, Measured* m = nullptr) {
  return fxp_decode<T>(run_raw<T>(inputs, fn, m), default_frac_bits<T>());
}

// The value as the input encoding sees it (references are computed on this).
template <class T> double quantize(double x) { return fxp_decode<T>(fxp_encode<T>(x, default_frac_bits<T>()), default_frac_bits<T>()); }

inline std::vector<double> uniform(size_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
inline std::vector<double> linspace(size_t n, double lo, double hi) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * double(i) / double(n - 1);
  return v;
}

// One quotable line per measurement.
inline void report(const std::string& fn, std::string_view ring, const std::string& range, size_t n, double max_abs,
                   double max_rel, const Measured& m) {
  std::printf("[fxp-accuracy] %-14s %s %-28s n=%-6zu max_abs=%.3e max_rel=%.3e rounds=%lld bytes_max=%lld bytes_total=%lld\n",
              fn.c_str(), std::string(ring).c_str(), range.c_str(), n, max_abs, max_rel, (long long)m.rounds,
              (long long)m.bytes_max, (long long)m.bytes_total);
}

}  // namespace veil::fxp::testing
