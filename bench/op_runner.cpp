#include "op_runner.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "veil/mpc/io.h"

namespace veil::bench {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

OpResult run_op(const std::string& op, const std::string& shape, const std::string& ring,
                const OpSetup& setup, int runs) {
  OpResult r{op, shape, ring};
  std::vector<double> walls;
  for (int run = 0; run < runs; ++run) {
    std::array<double, 3> wall{};
    std::array<net::Traffic, 3> traffic{};
    mpc::run_parties([&](mpc::Context& ctx) {
      std::function<void()> body = setup(ctx);
      // Align the parties before the clock starts.
      mpc::sync_parties(ctx);
      net::Traffic before = ctx.link().total();
      auto t0 = std::chrono::steady_clock::now();
      body();
      wall[size_t(ctx.id())] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      traffic[size_t(ctx.id())] = ctx.link().total() - before;
    });
    walls.push_back(*std::max_element(wall.begin(), wall.end()));
    r.bytes_max = r.bytes_total = r.rounds = 0;
    for (auto& t : traffic) {
      r.bytes_max = std::max<int64_t>(r.bytes_max, int64_t(t.bytes));
      r.bytes_total += int64_t(t.bytes);
      r.rounds = std::max<int64_t>(r.rounds, int64_t(t.rounds));
    }
  }
  r.wall_median_s = median(walls);
  r.wall_min_s = *std::min_element(walls.begin(), walls.end());
  r.wall_max_s = *std::max_element(walls.begin(), walls.end());
  return r;
}

}  // namespace veil::bench
