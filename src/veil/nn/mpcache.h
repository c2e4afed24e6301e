// MPCache (Zeng et al., arXiv:2501.06807; REFERENCES.md): an MPC-friendly KV-cache policy, written
// once over the KvBackend operations (nn/backend.h), so the same code runs on the plaintext
// backend (the reference) and under MPC.
//
// Look-once static eviction, at the prefill (T prompt tokens, layer l):
//   votes (W,T) = Σ_heads softmax(q·kᵀ) of the last W = ceil(window·T) prompt queries;
//   a token is kept when its head-averaged attention reaches γ for some observation query
//   (votes ≥ γ·H), and so are the sink cluster and the observation window themselves.
//   With sharing, the two layers of a pair keep the union of their flags (so their clusters line
//   up and the selection can be shared). Evicted tokens never return. What the parties learn:
//   the kept positions (reveal = positions) or only their count (reveal = count), per layer pair.
//
// Query-aware dynamic selection, at each decoding step (one query q (H,1,D)):
//   rows form the clusters of nn/mpcache_layout.h; each fine and coarse cluster is summarised once,
//   when it is complete, by r = α·max + (1 − α)·min over its keys, per dimension (the maxima by a
//   comparison tree under MPC, the only comparisons of the summaries);
//   coarse scores q·r_c (H,1,nc) -> the kc best coarse clusters (secure top-k, one call for all
//   heads; one-hot rows in position order) -> their fine clusters' scores q·r_f, gathered by the
//   coarse one-hot (H,kc,ratio) -> the kf best of those (secure top-k). Nothing is opened: the
//   one-hot rows stay secret.
//   Attention: the scores of every cached row s = (q·scale)·kᵀ (H,1,rows), kept wide (truncated
//   only after the gather, on the attended entries); the selected clusters' scores are gathered
//   at cluster granularity by one-hot products (coarse, then fine), the softmax runs over
//   sink + selected + recent rows only (budget·context entries instead of rows), and
//   the probabilities go back to their rows by the transposed one-hot products before the product
//   with V. (One-hot × (K·q) is MPCache's one-hot × K gather reassociated: one element per
//   gathered row crosses the network instead of D.)
//   Sharing: the odd layer of a pair (2,3), (4,5), ... reuses the even layer's one-hot rows.
#pragma once
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

#include "veil/nn/kv_policy.h"
#include "veil/nn/mpcache_layout.h"

namespace veil::nn {

template <KvBackend B>
class MpCache final : public KvPolicy<B> {
 public:
  using Tensor = typename B::Tensor;
  // Called after each selection a layer computes itself (not for a layer that reuses its
  // partner's): layer, decoding step (0 = the first token after the prefill), coarse one-hot
  // (H,kc,nc) and fine one-hot (H,kf,ratio·kc) (empty when the coarse stage decided alone).
  using SelectionObserver = std::function<void(int64_t layer, int64_t step, const Tensor& coarse, const Tensor& fine)>;
  // Called with each layer's static-eviction votes (W,T) at the prefill: the head sums of the
  // observation queries' attention, compared with γ·H.
  using VoteObserver = std::function<void(int64_t layer, const Tensor& votes)>;

  MpCache(const KvPolicyConfig& c, int64_t n_layer) : config_(c), layers_(size_t(n_layer)) {
    validate(c);
    if (c.kind != KvPolicyKind::mpcache) throw std::invalid_argument("MpCache: the config is not an mpcache policy");
  }

  const KvPolicyConfig& config() const override { return config_; }
  void observe(SelectionObserver fn) { observer_ = std::move(fn); }
  void observe_votes(VoteObserver fn) { vote_observer_ = std::move(fn); }
  // Rows kept by the static eviction of each layer (after the prefill).
  const std::vector<int64_t>& kept_after_prefill() const { return kept_; }

  Tensor attend(B& be, int64_t l, const Tensor& q, KvCache<B>& cache, double scale) override {
    const KvLayer<B>& kv = cache.layer(l);
    const int64_t t = q.shape.at(1), rows = kv.k.shape.at(1);
    if (t > 1) {  // the prefill (or a later multi-token pass: no selection)
      if (!config_.static_eviction || rows != t) return attend_all(be, q, kv, scale);
      auto [p, y] = attend_rows_with_probs(be, q, kv.k, kv.v, scale);
      layers_[size_t(l)].flags = static_flags(be, l, p);
      layers_[size_t(l)].has_flags = true;
      return y;
    }
    return decode(be, l, q, cache, scale);
  }

  void end_pass(B& be, KvCache<B>& cache, int64_t t) override {
    if (t > 1) evict(be, cache);
    else ++step_;
    for (int64_t l = 0; l < cache.n_layer(); ++l) summarise(be, l, cache.layer(l));
  }

 private:
  struct Layer {
    int64_t n_coarse = 0;
    Tensor rep_fine, rep_coarse;  // (H, ratio·n_coarse, D), (H, n_coarse, D): α·max + (1 − α)·min
    Tensor flags;                 // (T) static-eviction flags of the prefill, until end_pass
    bool has_flags = false;
    // The last selection, for the partner layer: step, plan and one-hot rows.
    int64_t sel_step = -1;
    SelectionPlan sel_plan;
    Tensor sel_coarse, sel_fine;
  };

  bool leads(int64_t l) const { return selection_leader(l, config_.share) == l; }

  ClusterLayout layout(int64_t l, int64_t rows) const {
    return {rows, std::min(config_.fine, rows), layers_[size_t(l)].n_coarse, config_.coarse, config_.fine};
  }

  // p (H,T,T) -> flags (T).
  Tensor static_flags(B& be, int64_t l, const Tensor& p) {
    const int64_t heads = p.shape.at(0), t = p.shape.at(1);
    const int64_t w = std::clamp<int64_t>(int64_t(std::ceil(config_.window * double(t) - 1e-9)), 1, t);
    const Tensor votes = be.sum_heads(be.slice_rows(p, t - w, w));  // (W,T)
    if (vote_observer_) vote_observer_(l, votes);
    std::vector<int64_t> forced;
    for (int64_t j = 0; j < std::min(config_.fine, t); ++j) forced.push_back(j);
    for (int64_t j = std::max(t - w, config_.fine); j < t; ++j) forced.push_back(j);
    return be.kept_flags(votes, config_.gamma * double(heads), forced);
  }

  // After the prefill: each layer (pair) keeps its flagged rows.
  void evict(B& be, KvCache<B>& cache) {
    const int64_t n = cache.n_layer();
    kept_.assign(size_t(n), 0);
    for (int64_t l = 0; l < n; ++l) {
      if (!layers_[size_t(l)].has_flags || !leads(l)) continue;
      const int64_t partner = selection_partner(l, config_.share, n);
      std::vector<int64_t> group{l};
      Tensor flags = layers_[size_t(l)].flags;
      if (partner >= 0 && layers_[size_t(partner)].has_flags) {
        flags = be.union_flags(flags, layers_[size_t(partner)].flags);
        group.push_back(partner);
      }
      if (config_.reveal == StaticReveal::positions) {
        const std::vector<int64_t> rows = be.reveal_kept_rows(flags);
        for (int64_t g : group) cache.retain(be, g, rows), kept_[size_t(g)] = int64_t(rows.size());
      } else {
        std::vector<Tensor> xs;
        for (int64_t g : group) xs.push_back(cache.layer(g).k), xs.push_back(cache.layer(g).v);
        std::vector<Tensor> kept = be.compact_kept_rows(flags, xs);
        for (size_t i = 0; i < group.size(); ++i) {
          const int64_t m = kept[2 * i].shape.at(1);
          cache.assign(group[i], std::move(kept[2 * i]), std::move(kept[2 * i + 1]),
                       std::vector<int64_t>(size_t(m), kUnknownPosition));
          kept_[size_t(group[i])] = m;
        }
      }
    }
    for (Layer& s : layers_) s.flags = Tensor{}, s.has_flags = false;
  }

  // Summarises the whole coarse clusters the recent rows now hold (leaders only: a partner
  // reuses the selection and needs no summaries, only the count).
  void summarise(B& be, int64_t l, const KvLayer<B>& kv) {
    Layer& s = layers_[size_t(l)];
    const ClusterLayout c = layout(l, kv.k.shape.at(1));
    const int64_t m = c.ready();
    if (m == 0) return;
    if (leads(l)) {
      const Tensor keys = be.slice_rows(kv.k, c.sink + c.region(), m * c.coarse);  // (H, m·coarse, D)
      const Tensor fmax = be.max_groups(keys, c.fine), fmin = be.min_groups(keys, c.fine);  // (H, m·ratio, D)
      const Tensor cmax = be.max_groups(fmax, c.ratio()), cmin = be.min_groups(fmin, c.ratio());  // (H, m, D)
      const Tensor rf = representative(be, fmax, fmin), rc = representative(be, cmax, cmin);
      s.rep_fine = s.n_coarse == 0 ? rf : be.concat_rows(s.rep_fine, rf);
      s.rep_coarse = s.n_coarse == 0 ? rc : be.concat_rows(s.rep_coarse, rc);
    }
    s.n_coarse += m;
  }

  Tensor representative(B& be, const Tensor& mx, const Tensor& mn) {
    return be.add(be.scale(mx, config_.alpha), be.scale(mn, 1.0 - config_.alpha));
  }

  Tensor decode(B& be, int64_t l, const Tensor& q, KvCache<B>& cache, double scale) {
    const KvLayer<B>& kv = cache.layer(l);
    const ClusterLayout c = layout(l, kv.k.shape.at(1));
    const SelectionPlan plan = plan_selection(c, config_.budget, cache.next_position() + 1);
    if (plan.kind == SelectionPlan::everything) return attend_all(be, q, kv, scale);
    if (plan.kind == SelectionPlan::ends) {
      const Tensor k = be.concat_rows(be.slice_rows(kv.k, 0, c.sink), be.slice_rows(kv.k, c.rows - c.recent(), c.recent()));
      const Tensor v = be.concat_rows(be.slice_rows(kv.v, 0, c.sink), be.slice_rows(kv.v, c.rows - c.recent(), c.recent()));
      return attend_rows(be, q, k, v, scale);
    }
    // Scores of every row, wide (untruncated on MPC): only the attended ones are narrowed.
    const int64_t heads = q.shape.at(0);
    const Tensor s = be.matmul_nt_wide(scale != 1.0 ? be.scale(q, scale) : q, kv.k);  // (H,1,rows)
    const Tensor region = be.reshape(be.slice_last(s, c.sink, c.region()), {heads, c.n_coarse, c.coarse});
    Tensor coarse_rows;  // (H,kc,coarse): the selected coarse clusters' row scores, when gathered already
    const Layer& sel = selection(be, l, q, c, plan, region, coarse_rows);
    if (coarse_rows.shape.empty()) coarse_rows = be.onehot_gather(sel.sel_coarse, region);
    return attend_selected(be, s, coarse_rows, kv, c, plan, sel.sel_coarse, sel.sel_fine);
  }

  // The layer whose one-hot rows serve layer l at this step, computing them when l leads. A leader
  // gathers the selected coarse clusters' row scores (from region (H,nc,coarse)) into coarse_rows
  // in the same product as their fine clusters' scores (one round fewer).
  const Layer& selection(B& be, int64_t l, const Tensor& q, const ClusterLayout& c, const SelectionPlan& plan,
                         const Tensor& region, Tensor& coarse_rows) {
    const int64_t leader = selection_leader(l, config_.share);
    const Layer& lead = layers_[size_t(leader)];
    if (leader != l) {
      if (lead.sel_step != step_ || !(lead.sel_plan == plan) || lead.n_coarse != c.n_coarse)
        throw std::logic_error("MpCache: layer " + std::to_string(l) + " cannot reuse the selection of layer " +
                               std::to_string(leader) + " (their clusters differ)");
      return lead;
    }
    Layer& s = layers_[size_t(l)];
    const int64_t heads = q.shape.at(0), r = c.ratio(), nc = c.n_coarse;
    s.sel_fine = Tensor{};
    if (plan.kf == r * plan.kc) {  // the coarse stage decides alone
      s.sel_coarse = be.topk_onehot(be.cluster_scores(q, s.rep_coarse), plan.kc);  // (H,kc,nc)
    } else {  // coarse and fine scores in one product, fine scores and row scores in one gather
      const Tensor scores = be.cluster_scores(q, be.concat_rows(s.rep_coarse, s.rep_fine));  // (H,1,nc + nc·ratio)
      s.sel_coarse = be.topk_onehot(be.slice_last(scores, 0, nc), plan.kc);                   // (H,kc,nc)
      const Tensor fine_scores = be.reshape(be.slice_last(scores, nc, nc * r), {heads, nc, r});
      const Tensor both = be.onehot_gather(s.sel_coarse, be.reshape(be.concat_last(fine_scores, region), {heads, nc, r + c.coarse}));
      const Tensor cand = be.slice_last(both, 0, r);                                           // (H,kc,ratio)
      coarse_rows = be.slice_last(both, r, c.coarse);                                          // (H,kc,coarse)
      s.sel_fine = be.topk_onehot(be.reshape(cand, {heads, 1, r * plan.kc}), plan.kf);         // (H,kf,ratio·kc)
    }
    s.sel_step = step_;
    s.sel_plan = plan;
    if (observer_) observer_(l, step_, s.sel_coarse, s.sel_fine);
    return s;
  }

  // Attention over sink + the selected clusters + recent rows, for one query: s (H,1,rows) the
  // wide scores of every row, coarse_rows (H,kc,coarse) those of the selected coarse clusters.
  Tensor attend_selected(B& be, const Tensor& s, const Tensor& coarse_rows, const KvLayer<B>& kv, const ClusterLayout& c,
                         const SelectionPlan& plan, const Tensor& gc, const Tensor& gf) {
    const int64_t heads = s.shape.at(0), fine_stage = gf.shape.empty() ? 0 : 1;
    const int64_t picked = fine_stage ? plan.kf * c.fine : plan.kc * c.coarse;  // selected rows
    Tensor y1 = coarse_rows;
    if (fine_stage) y1 = be.onehot_gather(gf, be.reshape(y1, {heads, c.ratio() * plan.kc, c.fine}));  // (H,kf,fine)
    Tensor logits = be.concat_last(be.slice_last(s, 0, c.sink), be.reshape(y1, {heads, 1, picked}));
    if (c.recent() > 0) logits = be.concat_last(logits, be.slice_last(s, c.rows - c.recent(), c.recent()));
    const Tensor p = be.softmax(be.narrow(logits), true);  // (H,1,sink + picked + recent)
    Tensor z = be.reshape(be.slice_last(p, c.sink, picked), {heads, fine_stage ? plan.kf : plan.kc, fine_stage ? c.fine : c.coarse});
    if (fine_stage) z = be.reshape(be.onehot_scatter(gf, z), {heads, plan.kc, c.coarse});
    z = be.reshape(be.onehot_scatter(gc, z), {heads, 1, c.region()});  // (H,1,region)
    Tensor p_full = be.concat_last(be.slice_last(p, 0, c.sink), z);
    if (c.recent() > 0) p_full = be.concat_last(p_full, be.slice_last(p, c.sink + picked, c.recent()));
    return be.matmul(p_full, kv.v);  // (H,1,D)
  }

  KvPolicyConfig config_;
  std::vector<Layer> layers_;
  std::vector<int64_t> kept_;
  int64_t step_ = 0;
  SelectionObserver observer_;
  VoteObserver vote_observer_;
};

}  // namespace veil::nn
