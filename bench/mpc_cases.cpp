// Protocol kernels (mpc/) measured by `veil bench ops`.
#include <random>

#include "ops_cases.h"
#include "veil/core/gemm.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/io.h"

namespace veil::bench {

namespace {
// A random sharing of the given shape, made without communication (each party draws its
// components from the pairwise PRGs, so they are consistent replicated shares).
template <class T> mpc::AShare<T> random_share(mpc::Context& ctx, const Shape& shape) {
  mpc::AShare<T> a(shape);
  a.s0 = ctx.prg_prev().draw<T>(a.size());
  a.s1 = ctx.prg_next().draw<T>(a.size());
  return a;
}

template <class T> void add_ring_cases(std::vector<OpCase>& out, bool quick) {
  const std::string ring(ring_name<T>());
  const int64_t n = quick ? 1 << 16 : 1 << 20;
  const std::string nstr = quick ? "65536" : "1M";
  out.push_back({"mul_aa", nstr, ring, [n](mpc::Context& ctx) {
    auto x = random_share<T>(ctx, {n}), y = random_share<T>(ctx, {n});
    return std::function<void()>([&ctx, x, y] { mpc::mul_aa(ctx, x, y); });
  }});
  out.push_back({"trunc_a", nstr, ring, [n](mpc::Context& ctx) {
    auto x = random_share<T>(ctx, {n});
    for (auto* s : {&x.s0, &x.s1}) for (auto& v : *s) v >>= 3;  // keep in range
    return std::function<void()>([&ctx, x] { mpc::trunc_a(ctx, x, ctx.config().frac_bits<T>()); });
  }});
  for (auto [m, k, nn] : {std::array<int64_t, 3>{128, 768, 768}, {1, 768, 3072}}) {
    if (quick) m = std::min<int64_t>(m, 16);
    std::string shape = std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(nn);
    out.push_back({"matmul_pp (plaintext, one product)", shape, ring, [m, k, nn](mpc::Context& ctx) {
      auto x = random_share<T>(ctx, {m, k}), y = random_share<T>(ctx, {k, nn});
      return std::function<void()>([&ctx, x, y, m, k, nn] {
        if (ctx.id() != 0) return;
        std::vector<T> z(size_t(m * nn));
        gemm_acc(x.s0.data(), y.s0.data(), z.data(), m, k, nn);
      });
    }});
    out.push_back({"matmul_aa", shape, ring, [m, k, nn](mpc::Context& ctx) {
      auto x = random_share<T>(ctx, {m, k}), y = random_share<T>(ctx, {k, nn});
      return std::function<void()>([&ctx, x, y] { mpc::matmul_aa(ctx, x, y); });
    }});
  }
  out.push_back({"ltz_a", nstr, ring, [n](mpc::Context& ctx) {
    auto x = random_share<T>(ctx, {n});
    return std::function<void()>([&ctx, x] { mpc::ltz_a(ctx, x); });
  }});
  out.push_back({"eq_aa", nstr, ring, [n](mpc::Context& ctx) {
    auto x = random_share<T>(ctx, {n}), y = random_share<T>(ctx, {n});
    return std::function<void()>([&ctx, x, y] { mpc::eq_aa(ctx, x, y); });
  }});
}
}  // namespace

std::vector<OpCase> mpc_op_cases(bool quick) {
  std::vector<OpCase> out;
  add_ring_cases<uint32_t>(out, quick);
  add_ring_cases<uint64_t>(out, quick);
  return out;
}

}  // namespace veil::bench
