// One-hot encoding of a secret integer index.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::fxp {

using mpc::AShare;
using mpc::Context;

// out[..., v] = [idx == v] for v in 0..V−1, arithmetic integer 0/1; idx (...) holds integers
// (not fixed point), e.g. a token id or argmax_last's index. idx outside [0, V) gives all zeros.
// Algorithm: PUMA's embedding lookup (arXiv:2307.12533): one eq_ap on idx repeated V times
// against the public 0..V−1, so all n·V equality tests share one call. Exact.
// On FM64 the tests run on 32 bits (eq_ap_via32), so idx must lie in [−2^31, 2^31) there.
// Cost: cost_eq_aa(n·V) on FM32 (7 rounds), cost_eq_ap_via32(n·V) on FM64 (7 rounds).
template <class T> AShare<T> onehot(Context& ctx, const AShare<T>& idx, int64_t V);

}  // namespace veil::fxp
