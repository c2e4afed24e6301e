// Comparisons of FM64 values computed on 32 bits. Reducing each share component modulo 2^32
// is a ring homomorphism Z_2^64 → Z_2^32, so the low 32 bits of a sharing are a sharing of the
// low 32 bits of the value, locally; a boolean result bit widens to 64-bit words locally, and
// bit2a injects it into Z_2^64. A 32-bit adder circuit costs about half of a 64-bit one.
#pragma once
#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// Local: the low 32 bits of each component (x mod 2^32).
AShare<uint32_t> low32_a(const AShare<uint64_t>& x);
// Local: a boolean sharing in 32-bit words zero-extended to 64-bit words.
BShare<uint64_t> widen_b(const BShare<uint32_t>& b);

// [x < 0] for FM64 x, as arithmetic 0/1 on FM64: y = trunc_a(x, drop) (Ditto's down-cast keeps
// the top bits; drop = 0 skips it), compared on Z_2^32. Valid for |x| < 2^(30 + drop); with
// drop > 0, x within 2^drop of 0 may come out either way (the truncation's one-ulp error).
AShare<uint64_t> ltz_a_via32(Context& ctx, const AShare<uint64_t>& x, int drop);
Cost cost_ltz_a_via32(int64_t n, int drop);

// [x == c] for FM64 integers x, c in [−2^31, 2^31) (token ids), compared on Z_2^32, injected into
// Z_2^64. Exact in that range. Cost below.
AShare<uint64_t> eq_ap_via32(Context& ctx, const AShare<uint64_t>& x, const std::vector<uint64_t>& c);
Cost cost_eq_ap_via32(int64_t n);

}  // namespace veil::mpc
