#include "kernel_breakdown.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "veil/core/fixed_point.h"
#include "veil/fxp/gelu.h"
#include "veil/fxp/layernorm.h"
#include "veil/fxp/softmax.h"
#include "veil/mpc/io.h"
#include "veil/mpc/runtime.h"

namespace veil::bench {

namespace {

using T = uint64_t;

struct TagRow {
  int64_t bytes = 0, rounds = 0;
};

// Runs `body` on fresh shares of uniform reals in [lo, hi) and returns, per tag, the bytes of all
// parties and the rounds (max over parties) that the body added.
std::map<std::string, TagRow> measure(const Shape& shape, double lo, double hi,
                                      const std::function<void(mpc::Context&, const mpc::AShare<T>&)>& body) {
  std::array<std::map<std::string, net::Traffic>, 3> before, after;
  std::array<net::Traffic, 3> tb, ta;
  mpc::run_parties([&](mpc::Context& ctx) {
    Tensor<T> x(shape);
    if (ctx.id() == 0) {
      std::mt19937_64 rng(7);
      std::uniform_real_distribution<double> u(lo, hi);
      for (auto& v : x.data) v = fxp_encode<T>(u(rng), ctx.config().frac_bits<T>());
    }
    mpc::AShare<T> xs = mpc::share_input(ctx, 0, x, shape);
    mpc::sync_parties(ctx);
    before[size_t(ctx.id())] = ctx.link().by_tag();
    tb[size_t(ctx.id())] = ctx.link().total();
    body(ctx, xs);
    after[size_t(ctx.id())] = ctx.link().by_tag();
    ta[size_t(ctx.id())] = ctx.link().total();
  });
  std::map<std::string, TagRow> rows;
  for (int p = 0; p < 3; ++p) {
    for (const auto& [tag, t] : after[size_t(p)]) {
      net::Traffic b = before[size_t(p)].count(tag) ? before[size_t(p)].at(tag) : net::Traffic{};
      if (t.bytes == b.bytes && t.rounds == b.rounds) continue;
      TagRow& r = rows[tag];
      r.bytes += int64_t(t.bytes - b.bytes);
      r.rounds = std::max<int64_t>(r.rounds, int64_t(t.rounds - b.rounds));
    }
    TagRow& all = rows["(total)"];
    all.bytes += int64_t(ta[size_t(p)].bytes - tb[size_t(p)].bytes);
    all.rounds = std::max<int64_t>(all.rounds, int64_t(ta[size_t(p)].rounds - tb[size_t(p)].rounds));
  }
  return rows;
}

void print_block(const std::string& title, const Shape& shape, double lo, double hi,
                 const std::function<void(mpc::Context&, const mpc::AShare<T>&)>& body) {
  const int64_t n = numel(shape);
  auto rows = measure(shape, lo, hi, body);
  std::vector<std::pair<std::string, TagRow>> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.bytes > b.second.bytes; });
  std::printf("\n%s, %lld elements (FM64):\n\n| tag | all parties | bytes per element | rounds |\n|---|---:|---:|---:|\n",
              title.c_str(), static_cast<long long>(n));
  for (const auto& [tag, r] : sorted)
    std::printf("| %s | %lld | %.2f | %lld |\n", tag.c_str(), static_cast<long long>(r.bytes), double(r.bytes) / double(n),
                static_cast<long long>(r.rounds));
}

}  // namespace

void print_kernel_breakdown() {
  std::printf("Traffic per link tag (tags nest: a row includes the kernels called inside it).\n");
  print_block("GeLU of a 128x3072 block (BERT-base MLP)", {128, 3072}, -6, 6,
              [](mpc::Context& ctx, const mpc::AShare<T>& x) { fxp::f_gelu(ctx, x); });
  print_block("Softmax of 12x128x128 scores (BERT-base attention, one layer)", {12, 128, 128}, -8, 8,
              [](mpc::Context& ctx, const mpc::AShare<T>& x) { fxp::f_softmax(ctx, x); });
  print_block("LayerNorm of 128x768 (public gamma, beta)", {128, 768}, -3, 3, [](mpc::Context& ctx, const mpc::AShare<T>& x) {
    fxp::f_layernorm(ctx, x, std::vector<double>(768, 1.0), std::vector<double>(768, 0.0), 1e-5);
  });
}

}  // namespace veil::bench
