#include "gemm_bench.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "op_runner.h"
#include "veil/core/gemm.h"
#include "veil/core/ring.h"

namespace veil::bench {

namespace {
template <class T>
double time_gemm(void (*fn)(const T*, const T*, T*, int64_t, int64_t, int64_t), int64_t m, int64_t k, int64_t n, int runs) {
  std::mt19937_64 rng(1);
  std::vector<T> a(size_t(m * k)), b(size_t(k * n)), c(size_t(m * n));
  for (auto& v : a) v = T(rng());
  for (auto& v : b) v = T(rng());
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    fn(a.data(), b.data(), c.data(), m, k, n);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

template <class T> void rows(int runs) {
  for (auto [m, k, n] : {std::array<int64_t, 3>{128, 768, 768}, {1, 768, 3072}, {128, 768, 3072}}) {
    double blocked = time_gemm<T>(&gemm_acc<T>, m, k, n, runs);
    double naive = time_gemm<T>(&gemm_naive<T>, m, k, n, runs);
    double macs = double(m * k * n);
    std::printf("| %lldx%lldx%lld | %s | %.5f | %.2f | %.5f | %.2f | %.1f× |\n", static_cast<long long>(m),
                static_cast<long long>(k), static_cast<long long>(n), std::string(ring_name<T>()).c_str(), blocked,
                macs / blocked / 1e9, naive, macs / naive / 1e9, naive / blocked);
    std::fflush(stdout);
  }
}
}  // namespace

void print_gemm_table(int runs) {
  std::printf("| shape (M×K×N) | ring | blocked median (s) | blocked G mult-adds/s | naive median (s) | naive G mult-adds/s | speed-up |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  rows<uint32_t>(runs);
  rows<uint64_t>(runs);
}

}  // namespace veil::bench
