// The public cluster layout of one layer's cache under MPCache (nn/mpcache.h), and the sizes of a
// decoding step's selection. Everything here is a function of public counts (rows kept, the
// context, the settings), so every party computes the same plan without opening anything.
//
//   rows:  [ sink: `fine` rows | selectable: n_coarse coarse clusters of `coarse` rows | recent ]
//
// The sink cluster (the first fine cluster) and the recent rows (not yet a whole coarse cluster:
// the newest partial clusters) are always attended. A coarse cluster is `ratio` = coarse / fine
// fine clusters.
#pragma once
#include <algorithm>
#include <cstdint>

#include "veil/nn/kv_policy_config.h"

namespace veil::nn {

struct ClusterLayout {
  int64_t rows = 0;      // cached rows of the layer
  int64_t sink = 0;      // min(fine, rows)
  int64_t n_coarse = 0;  // whole coarse clusters summarised so far
  int64_t coarse = 0, fine = 0;
  int64_t ratio() const { return coarse / fine; }
  int64_t region() const { return coarse * n_coarse; }          // rows in the selectable clusters
  int64_t recent() const { return rows - sink - region(); }      // rows after them
  // Coarse clusters that the recent rows could add now (whole clusters only).
  int64_t ready() const { return rows < fine ? 0 : recent() / coarse; }
};

// What one decoding step attends to. kind: everything (budget covers all rows, or nothing to
// select from yet), ends (sink and recent rows only), or select (plus kc coarse clusters' best
// kf fine clusters; kf == ratio·kc: the coarse stage alone decides).
struct SelectionPlan {
  enum Kind { everything, ends, select } kind = everything;
  int64_t kc = 0, kf = 0;
  bool operator==(const SelectionPlan&) const = default;
};

// The step attends to at most budget_tokens(budget, context) rows: sink and recent rows first,
// then as many fine clusters as fit. Hierarchy: the coarse stage keeps half its clusters
// (rounded up), or more when the fine clusters wanted need them.
inline SelectionPlan plan_selection(const ClusterLayout& c, double budget, int64_t context) {
  const int64_t allowed = budget_tokens(budget, context);
  if (c.n_coarse == 0 || allowed >= c.rows) return {};
  const int64_t want = (allowed - c.sink - c.recent()) / c.fine;  // fine clusters that fit
  if (want >= c.ratio() * c.n_coarse) return {};
  if (want <= 0) return {SelectionPlan::ends, 0, 0};
  const int64_t kc = std::min(c.n_coarse, std::max((c.n_coarse + 1) / 2, (want + c.ratio() - 1) / c.ratio()));
  return {SelectionPlan::select, kc, std::min(want, c.ratio() * kc)};
}

// The layer whose selection layer l uses: itself, or with sharing the even layer of its pair
// (2,3), (4,5), ...; layers 0 and 1 always select their own. The partner of the last layer of an
// odd layer count does not exist, so that layer is alone.
inline int64_t selection_leader(int64_t l, bool share) { return share && l >= 2 ? l - l % 2 : l; }
inline int64_t selection_partner(int64_t l, bool share, int64_t n_layer) {
  if (!share || l < 2) return -1;
  const int64_t p = l % 2 == 0 ? l + 1 : l - 1;
  return p < n_layer ? p : -1;
}

}  // namespace veil::nn
