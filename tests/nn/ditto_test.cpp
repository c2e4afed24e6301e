// The mixed-ring MPC backend (Ditto) on the tiny random GPT-2: its casts and scaling, the fp64
// plan against the FM64 MpcBackend, the ditto plan against the plaintext simulation of the plan
// and the float model, and the traffic of both plans. Plans themselves: precision_plan_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "nn_test_util.h"
#include "veil/core/fixed_point.h"
#include "veil/mpc/io.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/ditto_backend.h"
#include "veil/nn/bert.h"
#include "veil/nn/ditto_generate.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plain_backend.h"
#include "veil/nn/plan_sim.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn {
namespace {

static_assert(Backend<DittoBackend>);
static_assert(Backend<PlanSimBackend>);

const std::string kModel = test::gpt2_fixture();
const std::vector<int32_t> kPrompt = {5, 17, 42, 99, 3, 250, 7, 64};

const std::string kBert = test::bert_fixture();
const std::vector<int32_t> kBertIds = {2, 17, 45, 99, 3, 64, 120, 7, 33, 81, 5, 1};
const std::vector<int32_t> kBertTypes = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};

// ---------------------------------------------------------------- casts and scaling in the backend

// Party 0 shares `xs` on `from` with f_from fraction bits; `op` maps it (on a DittoBackend with the
// ditto plan and no weights); the result is revealed and decoded.
std::vector<double> run_on_backend(const std::vector<double>& xs, Ring from, int f_from,
                                   const std::function<RingTensor(DittoBackend&, const RingTensor&)>& op) {
  std::vector<double> out;
  mpc::ClientPort port;
  const Shape shape{int64_t(xs.size())};
  mpc::run_parties([&](mpc::Context& ctx) {
    DittoBackend be(ctx, PlanWeightShares{}, builtin_plan("ditto"), port);
    RingTensor x;
    if (from == Ring::FM32) {
      veil::Tensor<uint32_t> t(shape);
      for (size_t i = 0; i < xs.size(); ++i) t[i] = fxp_encode<uint32_t>(xs[i], f_from);
      x = RingTensor::of(mpc::share_input(ctx, 0, t, shape), f_from);
    } else {
      veil::Tensor<uint64_t> t(shape);
      for (size_t i = 0; i < xs.size(); ++i) t[i] = fxp_encode<uint64_t>(xs[i], f_from);
      x = RingTensor::of(mpc::share_input(ctx, 0, t, shape), f_from);
    }
    const RingTensor y = op(be, x);
    std::vector<double> got;
    if (y.ring == Ring::FM32) got = fxp_decode<uint32_t>(mpc::reveal_all(ctx, y.a32).data, y.frac_bits);
    else got = fxp_decode<uint64_t>(mpc::reveal_all(ctx, y.a64).data, y.frac_bits);
    if (ctx.id() == 0) out = got;
  }, mpc_config_for(builtin_plan("ditto")));
  return out;
}

TEST(DittoBackendTest, CastsBetweenFormatsWithinAnUlpOfTheTarget) {
  struct Case {
    Ring from;
    int f_from;
    Ring to;
    int f_to;
    double lim;  // |x| <= lim
  };
  const Case cases[] = {
      {Ring::FM64, 36, Ring::FM32, 8, 100},     // a product at 2F to FM32 (one free down-cast)
      {Ring::FM64, 18, Ring::FM32, 8, 8e6},     // up to 2^23: the FM32 range at 8 bits
      {Ring::FM64, 42, Ring::FM32, 2, 100},     // a 64-bit truncation first (drop 40 > 32)
      {Ring::FM64, 4, Ring::FM32, 8, 1000},     // a left shift first
      {Ring::FM32, 16, Ring::FM64, 18, 16000},  // up-cast with a shift: |x|·2^16 < 2^30
      {Ring::FM32, 8, Ring::FM64, 18, 4e6},     // |x|·2^8 <= 2^30 (the up-cast's range)
      {Ring::FM32, 20, Ring::FM64, 18, 1000},   // a 32-bit truncation first
      {Ring::FM32, 0, Ring::FM64, 40, 1000},    // the shift beyond 32
      {Ring::FM64, 36, Ring::FM64, 18, 1000},   // trunc_a
      {Ring::FM32, 4, Ring::FM32, 8, 1000},     // a local shift
  };
  for (const Case& c : cases) {
    std::vector<double> xs;
    std::mt19937_64 rng(uint64_t(c.f_from * 100 + c.f_to));
    std::uniform_real_distribution<double> d(-c.lim, c.lim);
    for (int i = 0; i < 999; ++i) xs.push_back(d(rng));
    xs.push_back(c.lim), xs.push_back(-c.lim), xs.push_back(0);
    for (double& x : xs) x = std::ldexp(std::nearbyint(std::ldexp(x, c.f_from)), -c.f_from);  // on the input grid
    const std::vector<double> got = run_on_backend(xs, c.from, c.f_from, [&](DittoBackend& be, const RingTensor& x) {
      const RingTensor y = be.to(x, c.to, c.f_to);
      EXPECT_EQ(y.ring, c.to);
      EXPECT_EQ(y.frac_bits, c.f_to);
      return y;
    });
    ASSERT_EQ(got.size(), xs.size());
    double worst = 0;
    for (size_t i = 0; i < xs.size(); ++i) worst = std::max(worst, std::abs(got[i] - xs[i]) * std::ldexp(1.0, c.f_to));
    EXPECT_LE(worst, 2.0) << ring_name(c.from) << "/" << c.f_from << " -> " << ring_name(c.to) << "/" << c.f_to;
  }
}

TEST(DittoBackendTest, ScaleMovesTheBinaryPointOrMultiplies) {
  std::vector<double> xs;
  for (int i = -500; i <= 500; ++i) xs.push_back(double(i) * 0.173);
  for (double c : {0.25, -0.125, 4.0, 0.3, -1.7}) {
    const std::vector<double> got = run_on_backend(xs, Ring::FM64, 18, [&](DittoBackend& be, const RingTensor& x) {
      const RingTensor y = be.scale(x, c);
      const bool pow2 = c == 0.25 || c == -0.125 || c == 4.0;
      if (pow2) { EXPECT_EQ(y.frac_bits, 18 + std::max(0, -std::ilogb(c))) << c; }  // moved, not multiplied
      return be.to(y, Ring::FM64, 18);
    });
    double worst = 0;
    for (size_t i = 0; i < xs.size(); ++i) worst = std::max(worst, std::abs(got[i] - xs[i] * c));
    EXPECT_LT(worst, 100 * std::ldexp(1.0, -18)) << c;  // c itself is rounded to 18 bits
  }
}

// Under Ditto's shape queries and keys reach FM64 at the linear layers' 8 fraction bits and q·kᵀ
// runs on FM32 on their low halves: exact, at 16 bits; the softmax then up-casts the scores.
TEST(DittoBackendTest, QueryKeyScoresRunExactlyOnFm32) {
  const int64_t t = 5, heads = 2, d = 4;
  std::vector<double> xs;  // (T, H·D), as a linear layer's output at 8 + 4 fraction bits
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-6.0, 6.0);
  for (int64_t i = 0; i < t * heads * d; ++i) xs.push_back(std::ldexp(std::nearbyint(std::ldexp(u(rng), 12)), -12));
  std::vector<double> q_open, s_open;
  mpc::ClientPort port;
  mpc::run_parties([&](mpc::Context& ctx) {
    DittoBackend be(ctx, PlanWeightShares{}, builtin_plan("ditto"), port);
    veil::Tensor<uint32_t> in(Shape{t, heads * d});
    for (size_t i = 0; i < xs.size(); ++i) in[i] = fxp_encode<uint32_t>(xs[i], 12);
    const RingTensor x = RingTensor::of(mpc::share_input(ctx, 0, in, in.shape), 12);
    const RingTensor q = be.split_heads(x, heads);  // (H,T,D)
    EXPECT_EQ(q.ring, Ring::FM64);
    EXPECT_EQ(q.frac_bits, 8);
    const RingTensor s = be.matmul_nt(q, q);  // (H,T,T)
    EXPECT_EQ(s.ring, Ring::FM32);
    EXPECT_EQ(s.frac_bits, 16);
    const RingTensor p = be.softmax(be.scale(s, 0.5), false);
    EXPECT_EQ(p.ring, Ring::FM64);
    const auto qo = fxp_decode<uint64_t>(mpc::reveal_all(ctx, q.a64).data, q.frac_bits);
    const auto so = fxp_decode<uint32_t>(mpc::reveal_all(ctx, s.a32).data, s.frac_bits);
    if (ctx.id() == 0) q_open = qo, s_open = so;
  }, mpc_config_for(builtin_plan("ditto")));
  ASSERT_EQ(s_open.size(), size_t(heads * t * t));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = 0; j < t; ++j) {
        double want = 0;
        for (int64_t k = 0; k < d; ++k) want += q_open[size_t((h * t + i) * d + k)] * q_open[size_t((h * t + j) * d + k)];
        EXPECT_EQ(s_open[size_t((h * t + i) * t + j)], want) << h << "," << i << "," << j;  // exact
      }
}

// softmax(scores)·v with more keys than v has columns: attend normalises after the product,
// (e·v)·r, under both plans (ditto: scores from FM32, their maximum taken there), with and
// without the causal mask, against a double softmax; the plan simulation computes the same.
TEST(DittoBackendTest, AttendNormalisesAfterTheProductWithinTheSoftmaxError) {
  const int64_t heads = 2, tq = 3, tk = 40, d = 8;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> us(-6.0, 6.0), uv(-2.0, 2.0);
  std::vector<double> s(size_t(heads * tq * tk)), v(size_t(heads * tk * d));
  for (double& x : s) x = std::ldexp(std::nearbyint(std::ldexp(us(rng), 8)), -8);
  for (double& x : v) x = std::ldexp(std::nearbyint(std::ldexp(uv(rng), 8)), -8);
  for (const char* name : {"ditto", "fp64"})
    for (bool causal : {false, true}) {
      const PrecisionPlan plan = builtin_plan(name);
      const bool small = std::string(name) == "ditto";
      const Ring sring = small ? Ring::FM32 : Ring::FM64;
      const int sf = small ? 16 : 18, vf = small ? 8 : 18;
      std::vector<double> got;
      mpc::ClientPort port;
      mpc::run_parties([&](mpc::Context& ctx) {
        DittoBackend be(ctx, PlanWeightShares{}, plan, port);
        auto share = [&](const std::vector<double>& xs, Ring r, int f, Shape shape) {
          if (r == Ring::FM32) {
            veil::Tensor<uint32_t> t(shape);
            for (size_t i = 0; i < xs.size(); ++i) t[i] = fxp_encode<uint32_t>(xs[i], f);
            return RingTensor::of(mpc::share_input(ctx, 0, t, shape), f);
          }
          veil::Tensor<uint64_t> t(shape);
          for (size_t i = 0; i < xs.size(); ++i) t[i] = fxp_encode<uint64_t>(xs[i], f);
          return RingTensor::of(mpc::share_input(ctx, 0, t, shape), f);
        };
        const RingTensor y = be.attend(share(s, sring, sf, {heads, tq, tk}), share(v, Ring::FM64, vf, {heads, tk, d}), causal);
        EXPECT_EQ(y.ring, Ring::FM64);
        const auto o = fxp_decode<uint64_t>(mpc::reveal_all(ctx, y.a64).data, y.frac_bits);
        if (ctx.id() == 0) got = o;
      }, mpc_config_for(plan));
      PlanSimBackend sim(Weights{}, plan);
      auto sim_tensor = [](const std::vector<double>& xs, Ring r, int f, Shape shape) {
        SimTensor t;
        t.shape = std::move(shape), t.ring = r, t.frac_bits = f, t.v = xs;
        return t;
      };
      const SimTensor ys = sim.attend(sim_tensor(s, sring, sf, {heads, tq, tk}), sim_tensor(v, Ring::FM64, vf, {heads, tk, d}), causal);
      ASSERT_EQ(got.size(), size_t(heads * tq * d));
      const std::vector<double> want = test::softmax_times_v(s, v, heads, tq, tk, d, causal);
      const double worst = test::max_abs_diff(got, want), worst_sim = test::max_abs_diff(ys.v, want);
      std::printf("[ditto] attend %s%s: |MPC - exact| %.2e, |simulation - exact| %.2e\n", name, causal ? " (causal)" : "",
                  worst, worst_sim);
      EXPECT_LT(worst, 2e-4) << name << (causal ? " causal" : "");
      EXPECT_LT(worst_sim, 5e-5) << name << (causal ? " causal" : "");
    }
}

// Finer linear layers (12 fraction bits: scores at 24 would keep 7 integer bits on FM32) keep
// q·kᵀ on FM64.
TEST(DittoBackendTest, FinerLinearLayersKeepTheScoresOnFm64) {
  PrecisionPlan plan = builtin_plan("ditto");
  plan.ops[size_t(PlanOp::linear)].frac_bits = 12;
  mpc::ClientPort port;
  mpc::run_parties([&](mpc::Context& ctx) {
    DittoBackend be(ctx, PlanWeightShares{}, plan, port);
    veil::Tensor<uint32_t> in(Shape{3, 8});
    for (size_t i = 0; i < in.size(); ++i) in[i] = fxp_encode<uint32_t>(0.25 * double(i % 5), 12);
    const RingTensor q = be.split_heads(RingTensor::of(mpc::share_input(ctx, 0, in, in.shape), 12), 2);
    EXPECT_EQ(q.frac_bits, 12);
    EXPECT_EQ(be.matmul_nt(q, q).ring, Ring::FM64);
  }, mpc_config_for(plan));
}

// The plan simulation makes the same choice and reports scores that leave FM32's range.
TEST(DittoBackendTest, SimulationReportsScoresBeyondFm32) {
  for (double v : {1.0, 100.0}) {
    PlanSimBackend sim(Weights{}, builtin_plan("ditto"));
    SimTensor x;
    x.shape = {3, 8}, x.ring = Ring::FM32, x.frac_bits = 8;
    x.v.assign(24, v);
    const SimTensor q = sim.split_heads(x, 2);
    const SimTensor s = sim.matmul_nt(q, q);
    EXPECT_EQ(s.ring, Ring::FM32);
    EXPECT_EQ(s.frac_bits, 16);
    // Each score is D·v² = 4·v² at 16 fraction bits: 2^18 for v = 1, above 2^30 for v = 100.
    if (v == 1.0) {
      EXPECT_EQ(sim.range_violations(), 0);
    } else {
      EXPECT_GT(sim.range_violations(), 0);
      EXPECT_NE(sim.first_violation().find("q·kᵀ on FM32"), std::string::npos) << sim.first_violation();
    }
  }
}

// ---------------------------------------------------------------- the backend on the tiny model

struct ModelRun {
  std::vector<double> logits;  // of the last token
  mpc::PartyTraffic traffic;
};

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}
double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}
size_t argmax_of(const std::vector<double>& v) { return size_t(std::max_element(v.begin(), v.end()) - v.begin()); }

// The client thread sends `inputs` (one message each, in order), the parties run `party` (which
// reveals its result to the client), the client reconstructs. Returns the decoded result and the
// parties' traffic.
template <class Party>
ModelRun run_with_inputs(const std::vector<std::vector<uint64_t>>& inputs, int frac_bits, mpc::Config cfg, const Party& party) {
  mpc::ClientPort port;
  for (const auto& in : inputs) port.send_input(in);
  std::vector<uint64_t> out;
  std::thread client([&] {
    try {
      out = port.receive_output();
    } catch (...) {
    }
  });
  ModelRun r;
  try {
    r.traffic = mpc::run_parties([&](mpc::Context& ctx) { party(ctx, port); }, cfg);
  } catch (...) {
    port.close();
    client.join();
    throw;
  }
  client.join();
  for (uint64_t v : out) r.logits.push_back(fxp_decode<uint64_t>(v, frac_bits));
  return r;
}

// The client's input for `tokens` of a vocabulary of v: ids, or one-hot rows.
std::vector<uint64_t> token_input(const std::vector<int32_t>& tokens, int64_t v, TokenInput input) {
  if (input == TokenInput::secret_ids) return {tokens.begin(), tokens.end()};
  std::vector<uint64_t> rows(tokens.size() * size_t(v), 0);
  for (size_t t = 0; t < tokens.size(); ++t) rows[t * size_t(v) + size_t(tokens[t])] = 1;
  return rows;
}

template <class Party>
ModelRun run_with_client(const std::vector<int32_t>& prompt, int64_t vocab, TokenInput input, int frac_bits, mpc::Config cfg,
                    const Party& party) {
  return run_with_inputs({token_input(prompt, vocab, input)}, frac_bits, cfg, party);
}

ModelRun run_ditto(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt, const PrecisionPlan& plan,
              TokenInput input = TokenInput::client_onehot) {
  Prg owner(random_seed());
  auto shares = deal_plan_weights(ck.weights, plan, owner);
  const mpc::Config cfg = mpc_config_for(plan);
  return run_with_client(prompt, ck.config.vocab_size, input, cfg.frac_bits_fm64, cfg, [&](mpc::Context& ctx, mpc::ClientPort& port) {
    DittoBackend be(ctx, shares[size_t(ctx.id())], plan, port, input);
    Gpt2<DittoBackend> model(be, ck.config);
    auto cache = model.new_cache();
    be.reveal_to_client(model.next_logits(be.input_tokens(std::vector<int32_t>(prompt.size(), 0)), cache));
  });
}

ModelRun run_fm64(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt, TokenInput input = TokenInput::client_onehot) {
  Prg owner(random_seed());
  const mpc::Config cfg;
  auto shares = deal_weights(ck.weights, cfg.frac_bits<uint64_t>(), owner);
  return run_with_client(prompt, ck.config.vocab_size, input, cfg.frac_bits<uint64_t>(), cfg,
                         [&](mpc::Context& ctx, mpc::ClientPort& port) {
    MpcBackend be(ctx, shares[size_t(ctx.id())], port, input);
    Gpt2<MpcBackend> model(be, ck.config);
    auto cache = model.new_cache();
    be.reveal_to_client(model.next_logits(be.input_tokens(std::vector<int32_t>(prompt.size(), 0)), cache));
  });
}

std::vector<double> run_plain(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt) {
  PlainBackend be(ck.weights);
  Gpt2<PlainBackend> model(be, ck.config);
  auto cache = model.new_cache();
  const veil::Tensor<float> l = model.next_logits(be.input_tokens(prompt), cache);
  return {l.data.begin(), l.data.end()};
}

std::vector<double> run_sim(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt, const PrecisionPlan& plan,
                            int64_t* violations = nullptr) {
  PlanSimBackend be(ck.weights, plan, mpc_config_for(plan).frac_bits_fm64);
  Gpt2<PlanSimBackend> model(be, ck.config);
  auto cache = model.new_cache();
  const veil::Tensor<float> l = be.reveal_to_client(model.next_logits(be.input_tokens(prompt), cache));
  if (violations) *violations = be.range_violations();
  if (be.range_violations()) std::printf("[ditto] plan %s: first range violation: %s\n", plan.name.c_str(), be.first_violation().c_str());
  return {l.data.begin(), l.data.end()};
}

std::string by_tag(const mpc::PartyTraffic& t) {
  std::map<std::string, uint64_t> sum;
  for (const auto& tags : t.by_tag)
    for (const auto& [tag, tr] : tags) sum[tag] += tr.bytes;
  std::string s;
  for (const char* tag : {"embedding", "linear", "attention", "softmax", "layernorm", "activation", "residual", "lm_head", "cast"})
    if (sum.count(tag)) s += std::string(s.empty() ? "" : ", ") + tag + " " + std::to_string(sum[tag]);
  return s;
}

void print_run(const char* what, const ModelRun& r) {
  std::printf("[ditto] %-22s bytes all parties %9llu, busiest %9llu, rounds %5llu  (by op, all parties: %s)\n", what,
              (unsigned long long)r.traffic.sum_bytes(), (unsigned long long)r.traffic.max_bytes(),
              (unsigned long long)r.traffic.max_rounds(), by_tag(r.traffic).c_str());
}

TEST(DittoBackendTest, Fp64PlanMatchesTheFm64Backend) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  const std::vector<double> plain = run_plain(ck, kPrompt);
  const ModelRun fm64 = run_fm64(ck, kPrompt);
  const ModelRun ditto = run_ditto(ck, kPrompt, builtin_plan("fp64"));
  const double scale = max_abs(plain);
  std::printf("[ditto] fp64 plan: |DittoBackend - MpcBackend| %.3e, |DittoBackend - plain| %.3e, |MpcBackend - plain| %.3e, max |logit| %.3f\n",
              max_diff(ditto.logits, fm64.logits), max_diff(ditto.logits, plain), max_diff(fm64.logits, plain), scale);
  print_run("MpcBackend (FM64)", fm64);
  print_run("DittoBackend fp64", ditto);
  EXPECT_LT(max_diff(ditto.logits, plain), 0.01 * scale);
  EXPECT_LT(max_diff(ditto.logits, fm64.logits), 0.01 * scale);
  EXPECT_EQ(argmax_of(ditto.logits), argmax_of(plain));
  // The same kernels, minus the truncation of a power-of-two scale: no dearer than MpcBackend.
  EXPECT_LE(ditto.traffic.sum_bytes(), fm64.traffic.sum_bytes());
}

TEST(DittoBackendTest, DittoPlanMatchesItsSimulationAndIsCheaper) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  const PrecisionPlan plan = builtin_plan("ditto");
  const std::vector<double> plain = run_plain(ck, kPrompt);
  int64_t violations = -1;
  const std::vector<double> sim = run_sim(ck, kPrompt, plan, &violations);
  const ModelRun ditto = run_ditto(ck, kPrompt, plan);
  const ModelRun fp64 = run_ditto(ck, kPrompt, builtin_plan("fp64"));
  const double scale = max_abs(sim);
  double mean_mpc_sim = 0;
  for (size_t i = 0; i < sim.size(); ++i) mean_mpc_sim += std::abs(ditto.logits[i] - sim[i]) / double(sim.size());
  std::printf("[ditto] ditto plan: |MPC - simulation| max %.3e mean %.3e; |simulation - float| %.3e; |MPC - float| %.3e; "
              "max |logit| %.3f; top-1 MPC %zu, simulation %zu, float %zu\n",
              max_diff(ditto.logits, sim), mean_mpc_sim, max_diff(sim, plain), max_diff(ditto.logits, plain), scale,
              argmax_of(ditto.logits), argmax_of(sim), argmax_of(plain));
  print_run("DittoBackend fp64", fp64);
  print_run("DittoBackend ditto", ditto);
  std::printf("[ditto] tiny-random-gpt2, 8-token prefill, last logits: ditto/fp64 bytes %.3f (all parties), %.3f (busiest), rounds %.3f\n",
              double(ditto.traffic.sum_bytes()) / double(fp64.traffic.sum_bytes()),
              double(ditto.traffic.max_bytes()) / double(fp64.traffic.max_bytes()),
              double(ditto.traffic.max_rounds()) / double(fp64.traffic.max_rounds()));
  PrecisionPlan puma = plan;
  puma.ops[size_t(PlanOp::gelu)].approx = GeluApprox::puma;
  std::printf("[ditto] ditto plan with PUMA's GeLU instead of Quad (quantization alone): |simulation - float| %.3e\n",
              max_diff(run_sim(ck, kPrompt, puma), plain));
  EXPECT_EQ(violations, 0);
  // The MPC's own errors (truncations: 1 ulp at 2^-8 on FM32; the softmax and LayerNorm kernels)
  // against the plan's rounding to nearest.
  EXPECT_LT(max_diff(ditto.logits, sim), 0.05 * scale);
  // Quantization: 8 fraction bits for the weights and the residual stream, Quad instead of GeLU
  // (the tiny model was not distilled to it): the float model is further away.
  EXPECT_LT(max_diff(sim, plain), 0.5 * scale);
  EXPECT_EQ(argmax_of(ditto.logits), argmax_of(sim));
  EXPECT_LT(ditto.traffic.sum_bytes(), fp64.traffic.sum_bytes());
  EXPECT_LT(ditto.traffic.max_bytes(), fp64.traffic.max_bytes());
}

// Per-tensor power-of-two scales (what tools/distill.py calibrates; here from the weights' maxima
// alone): the FM32 weights keep more fraction bits, products carry 8 + f_W of them (more than the
// attention's 18 for f_W > 10: a 32-bit truncation before the up-cast).
TEST(DittoBackendTest, WeightScalesTightenTheQuantization) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  PrecisionPlan plan = builtin_plan("ditto");
  plan.ops[size_t(PlanOp::gelu)].approx = GeluApprox::puma;  // isolate the quantization
  const PrecisionPlan uncalibrated = plan;
  for (const auto& [name, w] : ck.weights) {
    if (name.find("ln_") != std::string::npos || name.find(".bias") != std::string::npos) continue;
    double m = 0;
    for (float v : w.data) m = std::max(m, double(std::abs(v)));
    plan.scales[name] = {std::min(12, int(std::floor(double(plan.weight_bits - 1) - std::log2(m))) - 1), Ring::FM32};
  }
  EXPECT_EQ(plan.scales.at("h.0.attn.c_attn.weight").frac_bits, 12);
  const std::vector<double> plain = run_plain(ck, kPrompt);
  int64_t violations = -1;
  const std::vector<double> sim = run_sim(ck, kPrompt, plan, &violations);
  const std::vector<double> sim_uncal = run_sim(ck, kPrompt, uncalibrated);
  const ModelRun mpc = run_ditto(ck, kPrompt, plan);
  std::printf("[ditto] ditto plan, PUMA GeLU: |simulation - float| %.3e with weight scales (f_W up to 12), %.3e without; "
              "|MPC - simulation| %.3e\n", max_diff(sim, plain), max_diff(sim_uncal, plain), max_diff(mpc.logits, sim));
  print_run("DittoBackend scaled", mpc);
  EXPECT_EQ(violations, 0);
  EXPECT_LT(max_diff(sim, plain), max_diff(sim_uncal, plain));
  EXPECT_LT(max_diff(mpc.logits, sim), 0.05 * max_abs(sim));
  EXPECT_EQ(argmax_of(mpc.logits), argmax_of(plain));
}

// The trained tiny GPT-2 (4 layers of 128, head size 32: a scale that is not a power of two) and,
// when tools/distill.py has produced it, its distillation to the ditto plan with calibrated scales.
TEST(DittoBackendTest, TrainedTinyGpt2UnderBothPlans) {
  const std::string dir = test::repo_path("models/tiny-gpt2"), distilled = test::repo_path("models/tiny-gpt2-ditto");
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " is absent";
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(dir);
  const std::vector<int32_t> prompt = test::random_ids(16, int32_t(ck.config.vocab_size), 3);
  const ModelRun fp64 = run_ditto(ck, prompt, builtin_plan("fp64"));
  const ModelRun ditto = run_ditto(ck, prompt, builtin_plan("ditto"));
  int64_t violations = -1;
  const std::vector<double> sim = run_sim(ck, prompt, builtin_plan("ditto"), &violations);
  const std::vector<double> plain = run_plain(ck, prompt);
  std::printf("[ditto] tiny-gpt2 (4x128), 16-token prefill: fp64 |MPC - float| %.3e; ditto |MPC - simulation| %.3e, "
              "|simulation - float| %.3e (Quad, not distilled), max |logit| %.2f\n",
              max_diff(fp64.logits, plain), max_diff(ditto.logits, sim), max_diff(sim, plain), max_abs(plain));
  print_run("tiny-gpt2 fp64", fp64);
  print_run("tiny-gpt2 ditto", ditto);
  std::printf("[ditto] tiny-gpt2 (4x128), 16-token prefill: ditto/fp64 bytes %.3f (all parties), rounds %.3f\n",
              double(ditto.traffic.sum_bytes()) / double(fp64.traffic.sum_bytes()),
              double(ditto.traffic.max_rounds()) / double(fp64.traffic.max_rounds()));
  EXPECT_EQ(violations, 0);
  EXPECT_LT(max_diff(fp64.logits, plain), 0.02 * max_abs(plain));
  EXPECT_LT(max_diff(ditto.logits, sim), 0.05 * max_abs(sim));
  EXPECT_LT(ditto.traffic.sum_bytes(), fp64.traffic.sum_bytes());
  if (!std::filesystem::exists(distilled + "/plan.json")) {
    std::printf("[ditto] %s is absent: the distilled model was not checked\n", distilled.c_str());
    return;
  }
  const Gpt2Checkpoint student = load_gpt2_checkpoint(distilled);
  const PrecisionPlan plan = load_precision_plan(distilled + "/plan.json");
  const ModelRun mpc = run_ditto(student, prompt, plan);
  const std::vector<double> student_sim = run_sim(student, prompt, plan, &violations);
  std::printf("[ditto] tiny-gpt2-ditto with its plan: |MPC - simulation| %.3e, max |logit| %.2f, top-1 %zu / %zu\n",
              max_diff(mpc.logits, student_sim), max_abs(student_sim), argmax_of(mpc.logits), argmax_of(student_sim));
  print_run("tiny-gpt2-ditto", mpc);
  EXPECT_EQ(violations, 0);
  EXPECT_LT(max_diff(mpc.logits, student_sim), 0.05 * max_abs(student_sim));
}

TEST(DittoBackendTest, SecretIdsAndClientOneHotAgree) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  const PrecisionPlan plan = builtin_plan("ditto");
  const ModelRun a = run_ditto(ck, kPrompt, plan, TokenInput::secret_ids), b = run_ditto(ck, kPrompt, plan, TokenInput::client_onehot);
  const std::vector<double> sim = run_sim(ck, kPrompt, plan);
  EXPECT_LT(max_diff(a.logits, sim), 0.05 * max_abs(sim));
  EXPECT_LT(max_diff(b.logits, sim), 0.05 * max_abs(sim));
}

TEST(DittoBackendTest, PrivateGenerationFollowsThePlanSimulation) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << kModel << " is absent";
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(kModel);
  GenerateOptions opt;
  opt.max_new_tokens = 4;
  for (const char* name : {"fp64", "ditto"}) {
    const PrecisionPlan plan = builtin_plan(name);
    PlanSimBackend sim(ck.weights, plan);
    Gpt2<PlanSimBackend> model(sim, ck.config);
    std::vector<int32_t> want;
    for (const GeneratedToken& t : generate(sim, model, kPrompt, opt)) want.push_back(t.id);
    const std::vector<PrivateToken> got = generate_private(ck, kPrompt, opt, plan);
    ASSERT_EQ(got.size(), want.size());
    int64_t bytes = 0, rounds = 0;
    std::string ids;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].id, want[i]) << name << " step " << i;
      bytes += got[i].bytes_total, rounds += got[i].rounds;
      ids += (i ? "," : "") + std::to_string(got[i].id);
    }
    std::printf("[ditto] generate_private --precision %-5s 8-token prompt + 4 tokens: %s; bytes all parties %lld (decode steps %lld each on average), rounds %lld\n",
                name, ids.c_str(), (long long)bytes, (long long)((bytes - got[0].bytes_total) / int64_t(got.size() - 1)),
                (long long)rounds);
  }
}


// ---------------------------------------------------------------- BERT on the mixed backend

ModelRun run_bert_ditto(const BertCheckpoint& ck, const PrecisionPlan& plan) {
  Prg owner(random_seed());
  auto shares = deal_plan_weights(ck.weights, plan, owner);
  const mpc::Config cfg = mpc_config_for(plan);
  const std::vector<std::vector<uint64_t>> inputs = {token_input(kBertIds, ck.config.vocab_size, TokenInput::client_onehot),
                                                     token_input(kBertTypes, ck.config.type_vocab_size, TokenInput::client_onehot)};
  return run_with_inputs(inputs, cfg.frac_bits_fm64, cfg, [&](mpc::Context& ctx, mpc::ClientPort& port) {
    DittoBackend be(ctx, shares[size_t(ctx.id())], plan, port, TokenInput::client_onehot);
    Bert<DittoBackend> bert(be, ck.config);
    const std::vector<int32_t> len(kBertIds.size(), 0);
    const auto ids = be.input_tokens(len);
    const auto types = be.input_tokens(len);
    be.reveal_to_client(bert.classify(ids, types));
  });
}

ModelRun run_bert_fm64(const BertCheckpoint& ck) {
  Prg owner(random_seed());
  const mpc::Config cfg;
  auto shares = deal_weights(ck.weights, cfg.frac_bits<uint64_t>(), owner);
  const std::vector<std::vector<uint64_t>> inputs = {token_input(kBertIds, ck.config.vocab_size, TokenInput::client_onehot),
                                                     token_input(kBertTypes, ck.config.type_vocab_size, TokenInput::client_onehot)};
  return run_with_inputs(inputs, cfg.frac_bits<uint64_t>(), cfg, [&](mpc::Context& ctx, mpc::ClientPort& port) {
    MpcBackend be(ctx, shares[size_t(ctx.id())], port, TokenInput::client_onehot);
    Bert<MpcBackend> bert(be, ck.config);
    const std::vector<int32_t> len(kBertIds.size(), 0);
    const auto ids = be.input_tokens(len);
    const auto types = be.input_tokens(len);
    be.reveal_to_client(bert.classify(ids, types));
  });
}

std::vector<double> run_bert_plain(const BertCheckpoint& ck) {
  PlainBackend be(ck.weights);
  Bert<PlainBackend> bert(be, ck.config);
  const veil::Tensor<float> l = bert.classify(be.input_tokens(kBertIds), be.input_tokens(kBertTypes));
  return {l.data.begin(), l.data.end()};
}

std::vector<double> run_bert_sim(const BertCheckpoint& ck, const PrecisionPlan& plan, int64_t* violations = nullptr) {
  PlanSimBackend be(ck.weights, plan, mpc_config_for(plan).frac_bits_fm64);
  Bert<PlanSimBackend> bert(be, ck.config);
  const veil::Tensor<float> l = be.reveal_to_client(bert.classify(be.input_tokens(kBertIds), be.input_tokens(kBertTypes)));
  if (violations) *violations = be.range_violations();
  if (be.range_violations()) std::printf("[ditto] BERT, plan %s: first range violation: %s\n", plan.name.c_str(), be.first_violation().c_str());
  return {l.data.begin(), l.data.end()};
}

TEST(DittoBackendTest, BertWeightsMapToPlanOps) {
  EXPECT_EQ(layer_of("encoder.layer.3.output.dense.bias"), 3);
  EXPECT_EQ(layer_of("embeddings.LayerNorm.weight"), std::nullopt);
  const auto ln = weight_uses("encoder.layer.1.attention.output.LayerNorm.weight", true);
  ASSERT_EQ(ln.size(), 1u);
  EXPECT_EQ(ln[0].op, PlanOp::layernorm);
  EXPECT_EQ(ln[0].layer, 1);
  EXPECT_EQ(weight_uses("encoder.layer.0.attention.self.query.weight", true)[0].op, PlanOp::linear);
  EXPECT_EQ(weight_uses("embeddings.token_type_embeddings.weight", true)[0].op, PlanOp::embedding);
  EXPECT_EQ(weight_uses("embeddings.LayerNorm.bias", true)[0].layer, std::nullopt);
  EXPECT_EQ(weight_uses("pooler.dense.weight", true)[0].op, PlanOp::linear);
  EXPECT_EQ(weight_uses("classifier.weight", true)[0].op, PlanOp::lm_head);
  EXPECT_FALSE(weight_uses("classifier.bias", true)[0].matrix);
  EXPECT_TRUE(is_head_weight("classifier.weight"));
  EXPECT_THROW(weight_uses("bert.pooler.dense.weight", true), PlanError);  // canonical names only
}

// The fp64 plan on the mixed backend computes what MpcBackend computes; the ditto plan what its
// plaintext simulation computes, for fewer bytes.
TEST(DittoBackendTest, BertUnderBothPlans) {
  if (!std::filesystem::exists(kBert)) GTEST_SKIP() << kBert << " is absent";
  const BertCheckpoint ck = load_bert_checkpoint(kBert);
  const std::vector<double> plain = run_bert_plain(ck);
  const ModelRun fm64 = run_bert_fm64(ck);
  const ModelRun fp64 = run_bert_ditto(ck, builtin_plan("fp64"));
  const PrecisionPlan plan = builtin_plan("ditto");
  int64_t violations = -1;
  const std::vector<double> sim = run_bert_sim(ck, plan, &violations);
  const std::vector<double> fp64_sim = run_bert_sim(ck, builtin_plan("fp64"));
  const ModelRun ditto = run_bert_ditto(ck, plan);
  const double scale = std::max(max_abs(plain), 0.1);
  std::printf("[ditto] tiny-random-bert, %zu tokens, classifier logits (max |logit| %.3f): fp64 |Ditto - MpcBackend| %.3e, "
              "|Ditto - float| %.3e, |simulation - float| %.3e; ditto |MPC - simulation| %.3e, |simulation - float| %.3e\n",
              kBertIds.size(), max_abs(plain), max_diff(fp64.logits, fm64.logits), max_diff(fp64.logits, plain),
              max_diff(fp64_sim, plain), max_diff(ditto.logits, sim), max_diff(sim, plain));
  print_run("BERT MpcBackend (FM64)", fm64);
  print_run("BERT DittoBackend fp64", fp64);
  print_run("BERT DittoBackend ditto", ditto);
  std::printf("[ditto] tiny-random-bert: ditto/fp64 bytes %.3f (all parties), rounds %.3f\n",
              double(ditto.traffic.sum_bytes()) / double(fp64.traffic.sum_bytes()),
              double(ditto.traffic.max_rounds()) / double(fp64.traffic.max_rounds()));
  ASSERT_EQ(fp64.logits.size(), plain.size());
  ASSERT_EQ(ditto.logits.size(), plain.size());
  // Fixed-point error at 18 fraction bits (the accuracy test holds MpcBackend within 0.05).
  EXPECT_LT(max_diff(fp64.logits, fm64.logits), 0.02 * scale);
  EXPECT_LT(max_diff(fp64.logits, plain), 0.05);
  EXPECT_LE(fp64.traffic.sum_bytes(), fm64.traffic.sum_bytes());
  EXPECT_EQ(violations, 0);
  EXPECT_LT(max_diff(ditto.logits, sim), 0.05 * scale);
  EXPECT_LT(ditto.traffic.sum_bytes(), fp64.traffic.sum_bytes());
}

}  // namespace
}  // namespace veil::nn
