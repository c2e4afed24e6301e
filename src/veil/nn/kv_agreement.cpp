#include "veil/nn/kv_agreement.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "veil/core/fixed_point.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/mpcache.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

namespace {

int64_t hot(const std::vector<double>& v, size_t row, int64_t n) {
  const auto begin = v.begin() + int64_t(row) * n;
  return int64_t(std::max_element(begin, begin + n) - begin);
}

template <class B>
void record(SelectionLog& log, int64_t layer, int64_t step, const std::vector<double>& coarse, const Shape& cs,
            const std::vector<double>& fine, const Shape& fs, int64_t ratio) {
  const auto sets = selected_fine_clusters(coarse, cs, fine, fs, ratio);
  for (size_t h = 0; h < sets.size(); ++h) log[{layer, step, int64_t(h)}] = sets[h];
}

std::vector<double> as_double(const Tensor<float>& t) { return {t.data.begin(), t.data.end()}; }

// votes (W,T) -> per token the largest over the W observation queries, into run.votes[layer].
void record_votes(SelectionRun& run, int64_t layer, const std::vector<double>& votes, const Shape& shape) {
  const int64_t w = shape.at(0), t = shape.at(1);
  if (run.votes.size() <= size_t(layer)) run.votes.resize(size_t(layer) + 1);
  std::vector<double>& best = run.votes[size_t(layer)];
  best.assign(size_t(t), -1e300);
  for (int64_t i = 0; i < w; ++i)
    for (int64_t j = 0; j < t; ++j) best[size_t(j)] = std::max(best[size_t(j)], votes[size_t(i * t + j)]);
}

}  // namespace

std::vector<std::vector<int64_t>> selected_fine_clusters(const std::vector<double>& coarse, const Shape& coarse_shape,
                                                         const std::vector<double>& fine, const Shape& fine_shape,
                                                         int64_t ratio) {
  const int64_t heads = coarse_shape.at(0), kc = coarse_shape.at(1), nc = coarse_shape.at(2);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(heads));
  for (int64_t h = 0; h < heads; ++h) {
    std::vector<int64_t> picked;  // coarse cluster of each slot
    for (int64_t r = 0; r < kc; ++r) picked.push_back(hot(coarse, size_t(h * kc + r), nc));
    std::vector<int64_t>& s = out[size_t(h)];
    if (fine_shape.empty()) {
      for (int64_t c : picked)
        for (int64_t j = 0; j < ratio; ++j) s.push_back(1 + c * ratio + j);
    } else {
      const int64_t kf = fine_shape.at(1), n = fine_shape.at(2);
      for (int64_t r = 0; r < kf; ++r) {
        const int64_t cand = hot(fine, size_t(h * kf + r), n);
        s.push_back(1 + picked[size_t(cand / ratio)] * ratio + cand % ratio);
      }
    }
    std::sort(s.begin(), s.end());
  }
  return out;
}

SelectionRun plaintext_selections(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                                  const std::vector<int32_t>& continuation, const KvPolicyConfig& kv) {
  PlainBackend be(ck.weights);
  Gpt2<PlainBackend> model(be, ck.config);
  auto policy = std::make_shared<MpCache<PlainBackend>>(kv, ck.config.n_layer);
  SelectionRun run;
  const int64_t ratio = kv.coarse / kv.fine;
  policy->observe([&](int64_t l, int64_t step, const Tensor<float>& c, const Tensor<float>& f) {
    record<PlainBackend>(run.selections, l, step, as_double(c), c.shape, as_double(f), f.shape, ratio);
  });
  policy->observe_votes([&run](int64_t l, const Tensor<float>& v) { record_votes(run, l, as_double(v), v.shape); });
  auto cache = model.new_cache(policy);
  model.hidden(prompt, cache);
  for (int64_t l = 0; l < ck.config.n_layer; ++l) run.kept.push_back(cache.layer(l).positions);
  for (int32_t id : continuation) model.hidden({id}, cache);
  return run;
}

SelectionRun mpc_selections(const Gpt2Checkpoint& ck, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& continuation, const KvPolicyConfig& kv) {
  const mpc::Config cfg;
  Prg owner(random_seed());
  auto shares = deal_weights(ck.weights, cfg.frac_bits<uint64_t>(), owner);
  const int64_t vocab = ck.config.vocab_size, ratio = kv.coarse / kv.fine;
  mpc::ClientPort port;
  auto onehot = [vocab](const std::vector<int32_t>& ids) {
    std::vector<uint64_t> rows(ids.size() * size_t(vocab), 0);
    for (size_t t = 0; t < ids.size(); ++t) rows[t * size_t(vocab) + size_t(ids[t])] = 1;
    return rows;
  };
  port.send_input(onehot(prompt));
  for (int32_t id : continuation) port.send_input(onehot({id}));

  // Each party's shares of every one-hot: (layer, step) -> (coarse, fine) first components.
  struct Seen {
    Shape cs, fs;
    std::vector<uint64_t> c0, f0;
  };
  std::array<std::map<std::pair<int64_t, int64_t>, Seen>, 3> seen;
  std::array<std::map<int64_t, Seen>, 3> votes;  // layer -> first components of the votes (W,T)
  std::vector<std::vector<int64_t>> kept;
  mpc::run_parties([&](mpc::Context& ctx) {
    MpcBackend be(ctx, std::move(shares[size_t(ctx.id())]), port, TokenInput::client_onehot);
    Gpt2<MpcBackend> model(be, ck.config);
    auto policy = std::make_shared<MpCache<MpcBackend>>(kv, ck.config.n_layer);
    auto& mine = seen[size_t(ctx.id())];
    policy->observe([&mine](int64_t l, int64_t step, const MpcBackend::Tensor& c, const MpcBackend::Tensor& f) {
      mine[{l, step}] = Seen{c.shape, f.shape, c.s0, f.s0};
    });
    auto& my_votes = votes[size_t(ctx.id())];
    policy->observe_votes([&my_votes](int64_t l, const MpcBackend::Tensor& v) { my_votes[l] = Seen{v.shape, {}, v.s0, {}}; });
    auto cache = model.new_cache(policy);
    model.hidden(be.input_tokens(std::vector<int32_t>(prompt.size(), 0)), cache);
    if (ctx.id() == 0)
      for (int64_t l = 0; l < ck.config.n_layer; ++l) kept.push_back(cache.layer(l).positions);
    for (size_t i = 0; i < continuation.size(); ++i) model.hidden(be.input_tokens({0}), cache);
  }, cfg);

  SelectionRun run;
  run.kept = kept;
  for (const auto& [key, s] : seen[0]) {
    std::vector<double> c(s.c0.size()), f(s.f0.size());
    for (size_t i = 0; i < c.size(); ++i) c[i] = double(s.c0[i] + seen[1].at(key).c0[i] + seen[2].at(key).c0[i]);
    for (size_t i = 0; i < f.size(); ++i) f[i] = double(s.f0[i] + seen[1].at(key).f0[i] + seen[2].at(key).f0[i]);
    record<MpcBackend>(run.selections, key.first, key.second, c, s.cs, f, s.fs, ratio);
  }
  for (const auto& [layer, s] : votes[0]) {
    std::vector<double> v(s.c0.size());
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = fxp_decode<uint64_t>(s.c0[i] + votes[1].at(layer).c0[i] + votes[2].at(layer).c0[i], cfg.frac_bits<uint64_t>());
    record_votes(run, layer, v, s.cs);
  }
  return run;
}

Agreement& Agreement::operator+=(const Agreement& o) {
  selections += o.selections, equal += o.equal, static_layers += o.static_layers, static_equal += o.static_equal;
  vote_error = std::max(vote_error, o.vote_error), flipped_distance = std::max(flipped_distance, o.flipped_distance);
  flipped += o.flipped;
  return *this;
}

Agreement compare(const SelectionRun& plain, const SelectionRun& mpc, double threshold, bool share) {
  Agreement a;
  for (const auto& [key, set] : plain.selections) {
    ++a.selections;
    const auto it = mpc.selections.find(key);
    a.equal += it != mpc.selections.end() && it->second == set;
  }
  for (const auto& [key, set] : mpc.selections) a.selections += plain.selections.count(key) == 0;
  for (size_t l = 0; l < std::min(plain.kept.size(), mpc.kept.size()); ++l) {
    ++a.static_layers;
    a.static_equal += plain.kept[l] == mpc.kept[l];
  }
  if (threshold <= 0) return a;
  const size_t layers = std::min(plain.votes.size(), mpc.votes.size());
  for (size_t l = 0; l < layers; ++l)
    for (size_t t = 0; t < std::min(plain.votes[l].size(), mpc.votes[l].size()); ++t)
      if (plain.votes[l][t] >= threshold / 2 && plain.votes[l][t] <= 2 * threshold)
        a.vote_error = std::max(a.vote_error, std::abs(mpc.votes[l][t] - plain.votes[l][t]) / threshold);
  for (size_t l = 0; l < std::min(plain.kept.size(), mpc.kept.size()) && l < layers; ++l) {
    std::vector<int64_t> differ;
    std::set_symmetric_difference(plain.kept[l].begin(), plain.kept[l].end(), mpc.kept[l].begin(), mpc.kept[l].end(),
                                  std::back_inserter(differ));
    const int64_t partner = selection_partner(int64_t(l), share, int64_t(layers));
    for (int64_t t : differ) {
      double d = std::abs(plain.votes[l].at(size_t(t)) / threshold - 1);
      if (partner >= 0) d = std::min(d, std::abs(plain.votes[size_t(partner)].at(size_t(t)) / threshold - 1));
      a.flipped_distance = std::max(a.flipped_distance, d);
      ++a.flipped;
    }
  }
  return a;
}

}  // namespace veil::nn
