// KV-cache policies on the plaintext backend against hand-made attention patterns: each policy's
// selection logic (what it keeps, what it attends to) where the right answer is known by
// construction, the settings' validation, and every policy on a real GPT-2 at a budget that
// covers everything (it must then equal the full cache).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"
#include "veil/nn/kv_policy_factory.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {
namespace {

using T = Tensor<float>;
using Cache = KvCache<PlainBackend>;

KvPolicyConfig config(KvPolicyKind kind, double budget) {
  KvPolicyConfig c;
  c.kind = kind;
  c.budget = budget;
  return c;
}

// (H, rows, D) with every entry 0 except the given (h, row, d) values.
T keys(int64_t h, int64_t rows, int64_t d, const std::vector<std::tuple<int64_t, int64_t, int64_t, float>>& set = {}) {
  T k({h, rows, d});
  for (auto [hi, r, j, v] : set) k.data[size_t((hi * rows + r) * d + j)] = v;
  return k;
}

// Values whose row r is r + 1 in every column: an attention output tells which rows it mixed.
T values(int64_t h, int64_t rows, int64_t d) {
  T v({h, rows, d});
  for (int64_t i = 0; i < h; ++i)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < d; ++j) v.data[size_t((i * rows + r) * d + j)] = float(r + 1);
  return v;
}

// Runs one prefill pass of layer 0..n_layer−1 with the same q, k, v (as Gpt2::hidden does).
void prefill(PlainBackend& be, Cache& cache, const std::vector<T>& q, const std::vector<T>& k, const T& v) {
  for (int64_t l = 0; l < cache.n_layer(); ++l) {
    cache.append(be, l, k[size_t(l)], v);
    cache.policy()->attend(be, l, q[size_t(l)], cache, 1.0);
  }
  cache.advance(q[0].dim(1));
  cache.policy()->end_pass(be, cache, q[0].dim(1));
}

// One decoding step of every layer; returns layer 0's output.
T step(PlainBackend& be, Cache& cache, const T& q, const T& k, const T& v) {
  T y;
  for (int64_t l = 0; l < cache.n_layer(); ++l) {
    cache.append(be, l, k, v);
    T out = cache.policy()->attend(be, l, q, cache, 1.0);
    if (l == 0) y = out;
  }
  cache.advance(1);
  cache.policy()->end_pass(be, cache, 1);
  return y;
}

TEST(KvPolicyConfig, ValidatesEverySetting) {
  EXPECT_NO_THROW(validate(KvPolicyConfig{}));
  auto bad = [](auto set) {
    KvPolicyConfig c;
    c.kind = KvPolicyKind::mpcache;
    set(c);
    EXPECT_THROW(validate(c), std::invalid_argument);
  };
  bad([](KvPolicyConfig& c) { c.budget = 0; });
  bad([](KvPolicyConfig& c) { c.budget = 1.5; });
  bad([](KvPolicyConfig& c) { c.window = 0; });
  bad([](KvPolicyConfig& c) { c.gamma = -1e-3; });
  bad([](KvPolicyConfig& c) { c.alpha = 1.2; });
  bad([](KvPolicyConfig& c) { c.fine = 0; });
  bad([](KvPolicyConfig& c) { c.coarse = 24; });  // not a multiple of 16
  bad([](KvPolicyConfig& c) { c.coarse = 16; });  // one fine cluster per coarse one
  bad([](KvPolicyConfig& c) { c.pool = 4; });
  bad([](KvPolicyConfig& c) { c.snap_window = 0; });
  EXPECT_THROW(parse_kv_policy("lru"), std::invalid_argument);
  EXPECT_EQ(parse_kv_policy("snapkv"), KvPolicyKind::snapkv);
  EXPECT_THROW(parse_static_reveal("none"), std::invalid_argument);
  EXPECT_EQ(budget_tokens(0.2, 100), 20);
  EXPECT_EQ(budget_tokens(0.2, 101), 21);
  EXPECT_EQ(budget_tokens(0.01, 5), 1);
  EXPECT_EQ(budget_tokens(1.0, 7), 7);
}

TEST(KvPolicyConfig, PlaintextBaselinesAreRefusedUnderOtherBackends) {
  struct NotPlain : PlainBackend {
    using PlainBackend::PlainBackend;
  };
  EXPECT_THROW(make_kv_policy<NotPlain>(config(KvPolicyKind::h2o, 0.5), 2), std::invalid_argument);
  EXPECT_NE(make_kv_policy<NotPlain>(config(KvPolicyKind::streaming, 0.5), 2), nullptr);
  EXPECT_EQ(make_kv_policy<PlainBackend>(config(KvPolicyKind::full, 0.5), 2), nullptr);
}

TEST(StreamingPolicy, KeepsTheSinksAndTheRecentRows) {
  EXPECT_EQ(sink_and_recent_rows(10, 5, 2), (std::vector<int64_t>{0, 1, 7, 8, 9}));
  EXPECT_EQ(sink_and_recent_rows(4, 5, 2), (std::vector<int64_t>{0, 1, 2, 3}));
  PlainBackend be({});
  KvPolicyConfig c = config(KvPolicyKind::streaming, 0.25);
  c.sink = 2;
  Cache cache(1, make_kv_policy<PlainBackend>(c, 1));
  const T k = keys(1, 20, 2), v = values(1, 20, 2);
  prefill(be, cache, {keys(1, 20, 2)}, {k}, v);
  // The next step is at context 21: budget_tokens(0.25, 21) = 6 rows with its own, so 5 kept.
  EXPECT_EQ(cache.layer(0).positions, (std::vector<int64_t>{0, 1, 17, 18, 19}));
  step(be, cache, keys(1, 1, 2), keys(1, 1, 2), values(1, 1, 2));
  EXPECT_EQ(cache.layer(0).positions, (std::vector<int64_t>{0, 1, 18, 19, 20}));  // context 22: 6 − 1
}

// Queries (1, T, 2) all along dimension 0; key `heavy` of (1, T, 2) large along it.
std::pair<T, T> one_heavy_key(int64_t t, int64_t heavy, float big = 20) {
  T q({1, t, 2}), k = keys(1, t, 2, {{0, heavy, 0, big}});
  for (int64_t i = 0; i < t; ++i) q.data[size_t(i * 2)] = 1;
  return {q, k};
}

TEST(H2oPolicy, KeepsTheHeavyHitterAndTheRecentRows) {
  PlainBackend be({});
  auto policy = std::make_shared<H2oPolicy>(config(KvPolicyKind::h2o, 0.4), 1);
  Cache cache(1, policy);
  auto [q, k] = one_heavy_key(10, 2);
  prefill(be, cache, {q}, {k}, values(1, 10, 2));
  // keep = budget_tokens(0.4, 11) − 1 = 4: two recent (8, 9) and two heavy: 2 (every later query)
  // and 0 (all of query 0, half of query 1).
  EXPECT_EQ(policy->rows(0)[0], (std::vector<int64_t>{0, 2, 8, 9}));
}

TEST(SnapKvPolicy, KeepsWhatTheObservationWindowLooksAtAndItsNeighbours) {
  PlainBackend be({});
  KvPolicyConfig c = config(KvPolicyKind::snapkv, 0.4);
  c.pool = 3, c.snap_window = 4;
  auto policy = std::make_shared<SnapKvPolicy>(c, 1);
  Cache cache(1, policy);
  auto [q, k] = one_heavy_key(20, 5);
  prefill(be, cache, {q}, {k}, values(1, 20, 2));
  // keep = budget_tokens(0.4, 21) − 1 = 8: the window (16..19) and 4 voted prompt rows, among them
  // 5 and its pooled neighbours 4 and 6.
  const std::vector<int64_t>& rows = policy->rows(0)[0];
  ASSERT_EQ(rows.size(), 8u);
  for (int64_t r : {4, 5, 6, 16, 17, 18, 19}) EXPECT_TRUE(std::count(rows.begin(), rows.end(), r)) << r;
  // Decoding keeps the voted rows and the newest within the budget.
  step(be, cache, keys(1, 1, 2), keys(1, 1, 2), values(1, 1, 2));
  EXPECT_TRUE(std::count(policy->rows(0)[0].begin(), policy->rows(0)[0].end(), 5));
  EXPECT_TRUE(std::count(policy->rows(0)[0].begin(), policy->rows(0)[0].end(), 20));
}

TEST(QuestPolicy, AttendsToThePageWithTheHighestBound) {
  PlainBackend be({});
  KvPolicyConfig c = config(KvPolicyKind::quest, 0.5);
  c.page = 16;
  auto policy = std::make_shared<QuestPolicy>(c, 1);
  Cache cache(1, policy);
  // Page 1 (rows 16..31) holds a key along +q; page 2 one along −q but a larger magnitude on the
  // other sign: the bound takes max(q·max, q·min) per dimension, so only page 1 scores high.
  T k = keys(1, 63, 2, {{0, 20, 0, 3.0f}, {0, 40, 0, -5.0f}, {0, 3, 1, 9.0f}});
  T q({1, 63, 2});
  prefill(be, cache, {q}, {k}, values(1, 63, 2));
  T qd({1, 1, 2});
  qd.data[0] = 1;  // along dimension 0
  const T y = step(be, cache, qd, keys(1, 1, 2), values(1, 1, 2));
  // Context 64, 32 rows allowed: the current page (48..63) and one more.
  EXPECT_EQ(policy->last_pages(0)[0], (std::vector<int64_t>{1}));
  std::vector<int64_t> rows(16);
  std::iota(rows.begin(), rows.end(), 16);
  for (int64_t r = 48; r < 64; ++r) rows.push_back(r);
  const T want = attend_head_rows(qd, cache.layer(0).k, cache.layer(0).v, 1.0, {rows});
  EXPECT_NEAR(y.data[0], want.data[0], 1e-5);
}

TEST(TopKPolicy, AttendsToTheTokensWithTheHighestExactScores) {
  PlainBackend be({});
  auto policy = std::make_shared<TopKPolicy>(config(KvPolicyKind::topk, 0.1));
  Cache cache(1, policy);
  // Two heads of 39 prompt rows; head 0 scores rows 7, 30 and 12 highest along q = (1, 0) (12
  // below 30), head 1 rows 3 and 20 along (0, 1); a row with a larger magnitude on the other sign
  // (head 0, row 25) scores lowest, not highest.
  T k = keys(2, 39, 2, {{0, 7, 0, 5.0f}, {0, 30, 0, 4.0f}, {0, 12, 0, 2.0f}, {0, 25, 0, -9.0f}, {1, 3, 1, 6.0f},
                        {1, 20, 1, 3.0f}, {1, 9, 0, 8.0f}});
  prefill(be, cache, {T({2, 39, 2})}, {k}, values(2, 39, 2));
  T qd({2, 1, 2});
  qd.data[0] = 1, qd.data[3] = 1;
  const T y = step(be, cache, qd, keys(2, 1, 2), values(2, 1, 2));
  // Context 40, 4 rows allowed: head 0 rows 7, 30, 12 and the first of the zero-score ties (0);
  // head 1 rows 3, 20 and the first two ties (0, 1).
  EXPECT_EQ(policy->last_rows()[0], (std::vector<int64_t>{0, 7, 12, 30}));
  EXPECT_EQ(policy->last_rows()[1], (std::vector<int64_t>{0, 1, 3, 20}));
  const T want = attend_head_rows(qd, cache.layer(0).k, cache.layer(0).v, 1.0, policy->last_rows());
  for (size_t i = 0; i < want.data.size(); ++i) EXPECT_NEAR(y.data[i], want.data[i], 1e-6) << i;
  // The full softmax's probability on the chosen rows: head 0 has 36 zero scores besides 5, 4, 2
  // and −9, head 1 has 38 besides 6 and 3.
  using std::exp;
  const double head0 = (exp(5) + exp(4) + exp(2) + 1) / (exp(5) + exp(4) + exp(2) + exp(-9) + 36);
  const double head1 = (exp(6) + exp(3) + 2) / (exp(6) + exp(3) + 38);
  EXPECT_EQ(policy->choices(), 2);
  EXPECT_NEAR(policy->mass(), head0 + head1, 1e-9);
  // The budget covering the context attends to everything, as the full cache.
  auto all = std::make_shared<TopKPolicy>(config(KvPolicyKind::topk, 1.0));
  Cache full(1, all);
  prefill(be, full, {T({2, 39, 2})}, {k}, values(2, 39, 2));
  const T y_all = step(be, full, qd, keys(2, 1, 2), values(2, 1, 2));
  const T want_all = attend_rows(be, qd, full.layer(0).k, full.layer(0).v, 1.0);
  for (size_t i = 0; i < want_all.data.size(); ++i) EXPECT_NEAR(y_all.data[i], want_all.data[i], 1e-6) << i;
}

// MPCache on hand-made clusters: fine clusters of 4, coarse of 8, one head, D = 4.
KvPolicyConfig mpcache_config(double budget) {
  KvPolicyConfig c = config(KvPolicyKind::mpcache, budget);
  c.fine = 4, c.coarse = 8, c.static_eviction = false;
  return c;
}

TEST(MpCachePolicy, PlansTheSelectionFromPublicCounts) {
  const ClusterLayout c{53, 4, 6, 8, 4};  // sink 4, 6 coarse clusters (48 rows), 1 recent
  EXPECT_EQ(c.recent(), 1);
  EXPECT_EQ(plan_selection(c, 0.25, 53), (SelectionPlan{SelectionPlan::select, 3, 2}));  // 14 rows: 5 + 2·4
  EXPECT_EQ(plan_selection(c, 0.1, 53), (SelectionPlan{SelectionPlan::ends, 0, 0}));     // 6 rows
  EXPECT_EQ(plan_selection(c, 1.0, 53).kind, SelectionPlan::everything);
  EXPECT_EQ(plan_selection(c, 0.8, 53), (SelectionPlan{SelectionPlan::select, 5, 9}));   // wants 9 fine: 5 coarse
  EXPECT_EQ(plan_selection(ClusterLayout{30, 4, 0, 8, 4}, 0.1, 30).kind, SelectionPlan::everything);
  EXPECT_EQ(selection_leader(3, true), 2);
  EXPECT_EQ(selection_leader(1, true), 1);
  EXPECT_EQ(selection_partner(4, true, 5), -1);
  EXPECT_EQ(selection_partner(2, true, 4), 3);
}

TEST(MpCachePolicy, SelectsTheBestCoarseThenFineClusters) {
  PlainBackend be({});
  auto policy = std::make_shared<MpCache<PlainBackend>>(mpcache_config(0.25), 1);
  std::vector<std::pair<T, T>> seen;
  policy->observe([&](int64_t, int64_t, const T& coarse, const T& fine) { seen.emplace_back(coarse, fine); });
  Cache cache(1, policy);
  // 52 prompt rows: sink 0..3, fine clusters f = 0..11 at rows 4 + 4f .. 4 + 4f + 3 with key
  // dimension 0 equal to score[f] on every row.
  const std::vector<float> score = {1, 0, 5, 0, 0, 0, 2, 9, 0, 3, 0, 0};
  std::vector<std::tuple<int64_t, int64_t, int64_t, float>> set;
  for (int64_t f = 0; f < 12; ++f)
    for (int64_t r = 0; r < 4; ++r) set.emplace_back(0, 4 + 4 * f + r, 0, score[size_t(f)]);
  for (int64_t r = 0; r < 52; ++r) set.emplace_back(0, r, 1 + r % 3, 0.25f * float(r % 5));  // noise off q
  prefill(be, cache, {T({1, 52, 4})}, {keys(1, 52, 4, set)}, values(1, 52, 4));
  T q({1, 1, 4});
  q.data[0] = 1;
  const T y = step(be, cache, q, keys(1, 1, 4), values(1, 1, 4));
  // Coarse scores 0.6·max + 0.4·min: c0 .6, c1 3, c2 0, c3 6.2, c4 1.8, c5 0 -> c1, c3, c4 (slots
  // in position order); their fine clusters: f2 (5), f3 (0), f6 (2), f7 (9), f8 (0), f9 (3) -> f2, f7.
  ASSERT_EQ(seen.size(), 1u);
  const auto& [coarse, fine] = seen[0];
  ASSERT_EQ(coarse.shape, (Shape{1, 3, 6}));
  ASSERT_EQ(fine.shape, (Shape{1, 2, 6}));
  auto hot = [](const T& oh, int64_t row) {
    const int64_t n = oh.dim(2);
    return int64_t(std::max_element(oh.data.begin() + row * n, oh.data.begin() + (row + 1) * n) - (oh.data.begin() + row * n));
  };
  EXPECT_EQ(hot(coarse, 0), 1);
  EXPECT_EQ(hot(coarse, 1), 3);
  EXPECT_EQ(hot(coarse, 2), 4);
  EXPECT_EQ(hot(fine, 0), 0);  // c1's first fine cluster: f2
  EXPECT_EQ(hot(fine, 1), 3);  // c3's second: f7
  // The output is attention over exactly sink + f7 + f2 + the new row.
  const std::vector<int64_t> rows = {0, 1, 2, 3, 12, 13, 14, 15, 32, 33, 34, 35, 52};
  const T want = attend_head_rows(q, cache.layer(0).k, cache.layer(0).v, 1.0, {rows});
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y.data[i], want.data[i], 1e-4);
}

TEST(MpCachePolicy, StaticEvictionKeepsWhatTheWindowAttendsToAndSharesWithinPairs) {
  for (StaticReveal reveal : {StaticReveal::positions, StaticReveal::count}) {
    PlainBackend be({});
    KvPolicyConfig c = mpcache_config(0.5);
    c.static_eviction = true, c.gamma = 1e-3, c.reveal = reveal;
    auto policy = std::make_shared<MpCache<PlainBackend>>(c, 4);
    Cache cache(4, policy);
    // Two heads. Layers 0, 1 and 2 look at row 20, layer 3 at row 25; the window is rows 32..39.
    std::vector<T> qs, ks;
    for (int64_t l = 0; l < 4; ++l) {
      const int64_t heavy = l == 3 ? 25 : 20;
      T q({2, 40, 4}), k = keys(2, 40, 4, {{0, heavy, 0, 20.0f}, {1, heavy, 0, 20.0f}});
      for (int64_t i = 0; i < 80; ++i) q.data[size_t(i * 4)] = 1;
      qs.push_back(q), ks.push_back(k);
    }
    prefill(be, cache, qs, ks, values(2, 40, 4));
    std::vector<int64_t> window(8);
    std::iota(window.begin(), window.end(), 32);
    std::vector<int64_t> want01 = {0, 1, 2, 3, 20}, want23 = {0, 1, 2, 3, 20, 25};
    want01.insert(want01.end(), window.begin(), window.end());
    want23.insert(want23.end(), window.begin(), window.end());
    EXPECT_EQ(policy->kept_after_prefill(), (std::vector<int64_t>{13, 13, 14, 14}));
    for (int64_t l = 0; l < 4; ++l) {
      const std::vector<int64_t>& want = l < 2 ? want01 : want23;
      if (reveal == StaticReveal::positions) EXPECT_EQ(cache.layer(l).positions, want) << l;
      else EXPECT_EQ(cache.layer(l).positions, std::vector<int64_t>(want.size(), kUnknownPosition)) << l;
      const T& v = cache.layer(l).v;  // row r of values holds r + 1
      for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(v.data[i * 4], float(want[i] + 1)) << l;
    }
  }
}

TEST(MpCachePolicy, LayerPairsShareTheirSelection) {
  PlainBackend be({});
  auto policy = std::make_shared<MpCache<PlainBackend>>(mpcache_config(0.25), 4);
  std::vector<int64_t> layers;
  policy->observe([&](int64_t l, int64_t, const T&, const T&) { layers.push_back(l); });
  Cache cache(4, policy);
  T k({1, 52, 4});
  for (size_t i = 0; i < k.size(); ++i) k.data[i] = float(std::sin(double(i)));
  prefill(be, cache, std::vector<T>(4, T({1, 52, 4})), std::vector<T>(4, k), values(1, 52, 4));
  T q({1, 1, 4});
  q.data[0] = 1;
  step(be, cache, q, keys(1, 1, 4), values(1, 1, 4));
  EXPECT_EQ(layers, (std::vector<int64_t>{0, 1, 2}));  // layer 3 reuses layer 2's
  KvPolicyConfig unshared = mpcache_config(0.25);
  unshared.share = false;
  auto own = std::make_shared<MpCache<PlainBackend>>(unshared, 4);
  layers.clear();
  own->observe([&](int64_t l, int64_t, const T&, const T&) { layers.push_back(l); });
  Cache cache2(4, own);
  prefill(be, cache2, std::vector<T>(4, T({1, 52, 4})), std::vector<T>(4, k), values(1, 52, 4));
  step(be, cache2, q, keys(1, 1, 4), values(1, 1, 4));
  EXPECT_EQ(layers, (std::vector<int64_t>{0, 1, 2, 3}));
}

// Every policy on a real (random) GPT-2: at budget 1 it is the full cache; at 0.5 it runs.
TEST(KvPolicies, EqualTheFullCacheWhenTheBudgetCoversEverything) {
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(std::string(VEIL_SOURCE_DIR) + "/models/tiny-random-gpt2");
  PlainBackend be(ck.weights);
  Gpt2<PlainBackend> model(be, ck.config);
  std::vector<int32_t> prompt(40);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t((i * 37 + 11) % 299);
  GenerateOptions opt;
  opt.max_new_tokens = 12;
  const auto full = generate(be, model, prompt, opt);
  for (const std::string& name : kv_policy_names()) {
    opt.kv = config(parse_kv_policy(name), 1.0);
    opt.kv.fine = 4, opt.kv.coarse = 8, opt.kv.page = 4;
    const auto got = generate(be, model, prompt, opt);
    ASSERT_EQ(got.size(), full.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].id, full[i].id) << name << " step " << i;
    opt.kv.budget = 0.5;
    EXPECT_EQ(generate(be, model, prompt, opt).size(), full.size()) << name;
  }
}

}  // namespace
}  // namespace veil::nn
