// Fixed-point operations (fxp/) measured by `veil bench ops`, on inputs in their working ranges.
#include <random>

#include "ops_cases.h"
#include "veil/core/fixed_point.h"
#include "veil/fxp/exp.h"
#include "veil/fxp/gelu.h"
#include "veil/fxp/layernorm.h"
#include "veil/fxp/max.h"
#include "veil/fxp/softmax.h"
#include "veil/mpc/io.h"

namespace veil::bench {

namespace {
// Party 0 shares uniform reals in [lo, hi) (untimed setup).
template <class T> mpc::AShare<T> uniform_share(mpc::Context& ctx, const Shape& shape, double lo, double hi) {
  Tensor<T> x(shape);
  if (ctx.id() == 0) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(lo, hi);
    for (auto& v : x.data) v = fxp_encode<T>(u(rng), ctx.config().frac_bits<T>());
  }
  return mpc::share_input(ctx, 0, x, shape);
}

std::string dims(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

template <class T> void add_cases(std::vector<OpCase>& out, bool quick) {
  const std::string ring(ring_name<T>());
  const Shape exp_shape = {quick ? 1 << 14 : 1 << 20};
  out.push_back({"exp", quick ? "16384" : "1M", ring, [exp_shape](mpc::Context& ctx) {
    auto x = uniform_share<T>(ctx, exp_shape, -14, 0);
    return std::function<void()>([&ctx, x] { fxp::f_exp(ctx, x); });
  }});
  const Shape sm = quick ? Shape{2, 32, 32} : Shape{12, 128, 128};
  out.push_back({"softmax", dims(sm), ring, [sm](mpc::Context& ctx) {
    auto x = uniform_share<T>(ctx, sm, -8, 8);
    return std::function<void()>([&ctx, x] { fxp::f_softmax(ctx, x); });
  }});
  const Shape gl = {quick ? 8 : 128, 3072};
  out.push_back({"gelu", dims(gl), ring, [gl](mpc::Context& ctx) {
    auto x = uniform_share<T>(ctx, gl, -6, 6);
    return std::function<void()>([&ctx, x] { fxp::f_gelu(ctx, x); });
  }});
  const Shape ln = {quick ? 8 : 128, 768};
  out.push_back({"layernorm", dims(ln), ring, [ln](mpc::Context& ctx) {
    auto x = uniform_share<T>(ctx, ln, -3, 3);
    auto g = uniform_share<T>(ctx, {ln[1]}, 0.5, 1.5), b = uniform_share<T>(ctx, {ln[1]}, -0.5, 0.5);
    return std::function<void()>([&ctx, x, g, b] { fxp::f_layernorm(ctx, x, g, b, 1e-5); });
  }});
  const Shape am = {1, quick ? 4096 : 50257};
  out.push_back({"argmax", dims(am), ring, [am](mpc::Context& ctx) {
    auto x = uniform_share<T>(ctx, am, -10, 10);
    return std::function<void()>([&ctx, x] { fxp::argmax_last(ctx, x); });
  }});
}
}  // namespace

// The non-linear ring is FM64 (PUMA; Ditto keeps softmax and LayerNorm there); FM32 rows show
// the same functions at 8 fraction bits where they are usable (GeLU under Ditto's plan).
std::vector<OpCase> fxp_op_cases(bool quick) {
  std::vector<OpCase> out;
  add_cases<uint64_t>(out, quick);
  std::vector<OpCase> fm32;
  add_cases<uint32_t>(fm32, quick);
  for (auto& c : fm32)
    if (c.op == "gelu") out.push_back(std::move(c));
  return out;
}

}  // namespace veil::bench
