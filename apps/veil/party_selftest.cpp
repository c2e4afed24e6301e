#include "veil/party_selftest.h"

#include <random>

#include "veil/core/fixed_point.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/io.h"

namespace veil::app {

namespace {

// Compares revealed `got` with `want`; trunc results may exceed the reference by one ulp.
template <class T>
std::string compare(const char* op, const Tensor<T>& got, const std::vector<T>& want, bool allow_ulp) {
  if (got.size() != want.size())
    return std::string(op) + "<" + std::string(ring_name<T>()) + ">: got " + std::to_string(got.size()) +
           " elements, expected " + std::to_string(want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    T diff = T(got[i] - want[i]);
    if (diff == 0 || (allow_ulp && (diff == 1 || diff == T(-1)))) continue;
    return std::string(op) + "<" + std::string(ring_name<T>()) + "> element " + std::to_string(i) + ": got " +
           std::to_string(signed_t<T>(got[i])) + ", expected " + std::to_string(signed_t<T>(want[i]));
  }
  return "";
}

template <class T> std::string selftest_ring(mpc::Context& ctx, uint64_t seed) {
  const int f = ctx.config().frac_bits<T>();
  std::mt19937_64 rng(seed * 2 + sizeof(T));  // public: every party draws the same plaintexts
  std::uniform_real_distribution<double> real(-4.0, 4.0);
  auto draw = [&](const Shape& s) {
    Tensor<T> t(s);
    for (T& v : t.data) v = fxp_encode<T>(real(rng), f);
    return t;
  };
  const Shape sx{2, 3}, sw{3, 2};
  Tensor<T> x = draw(sx), y = draw(sx), w = draw(sw);
  for (size_t i = 0; i < y.size(); i += 2) y[i] = x[i];  // eq_aa sees both outcomes

  // Party 0 owns x; party 1 owns y and w. The others pass only the shape.
  auto input = [&](int owner, const Tensor<T>& t) {
    return mpc::share_input<T>(ctx, owner, ctx.id() == owner ? t : Tensor<T>(), t.shape);
  };
  mpc::AShare<T> X = input(0, x), Y = input(1, y), W = input(1, w);

  std::vector<T> prod(x.size()), trunc(x.size()), ltz(x.size()), eq(x.size()), mm(4, T(0));
  for (size_t i = 0; i < x.size(); ++i) {
    prod[i] = T(x[i] * y[i]);
    trunc[i] = T(signed_t<T>(prod[i]) >> f);
    ltz[i] = signed_t<T>(x[i]) < 0;
    eq[i] = x[i] == y[i];
  }
  for (size_t r = 0; r < 2; ++r)
    for (size_t c = 0; c < 2; ++c)
      for (size_t k = 0; k < 3; ++k) mm[r * 2 + c] = T(mm[r * 2 + c] + x[r * 3 + k] * w[k * 2 + c]);

  mpc::AShare<T> Z = mpc::mul_aa(ctx, X, Y);
  for (std::string e : {compare("mul_aa", mpc::reveal_all(ctx, Z), prod, false),
                        compare("matmul_aa", mpc::reveal_all(ctx, mpc::matmul_aa(ctx, X, W)), mm, false),
                        compare("trunc_a", mpc::reveal_all(ctx, mpc::trunc_a(ctx, Z, f)), trunc, true),
                        compare("ltz_a", mpc::reveal_all(ctx, mpc::ltz_a(ctx, X)), ltz, false),
                        compare("eq_aa", mpc::reveal_all(ctx, mpc::eq_aa(ctx, X, Y)), eq, false)})
    if (!e.empty()) return e;
  return "";
}

}  // namespace

std::string run_selftest(mpc::Context& ctx, uint64_t seed) {
  std::string e = selftest_ring<uint32_t>(ctx, seed);
  return e.empty() ? selftest_ring<uint64_t>(ctx, seed) : e;
}

}  // namespace veil::app
