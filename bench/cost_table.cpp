#include "cost_table.h"

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "veil/mpc/arithmetic.h"
#include "veil/mpc/bit_inject.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/io.h"
#include "veil/mpc/narrow.h"
#include "veil/mpc/ring_cast.h"
#include "veil/mpc/shuffle.h"

namespace veil::bench {

namespace {
struct Row {
  const char* kernel;
  const char* note;
  std::function<mpc::Cost(int64_t)> fm32, fm64;
};
#define ROW(name, note, expr32, expr64) Row{name, note, [](int64_t n) { return expr32; }, [](int64_t n) { return expr64; }}
}  // namespace

void print_cost_table(int64_t n) {
  using namespace mpc;
  const std::vector<Row> rows = {
      ROW("share_input", "owner sends the third component to both peers", cost_share_input<uint32_t>(n), cost_share_input<uint64_t>(n)),
      ROW("reveal_to", "one party sends the missing component", cost_reveal_to<uint32_t>(n), cost_reveal_to<uint64_t>(n)),
      ROW("reveal_all", "each party sends one component", cost_reveal_all<uint32_t>(n), cost_reveal_all<uint64_t>(n)),
      ROW("mul_aa", "cross terms + PRF zero share, reshare", cost_mul_aa<uint32_t>(n), cost_mul_aa<uint64_t>(n)),
      ROW("matmul_aa", "n = output elements", cost_matmul_aa<uint32_t>(n), cost_matmul_aa<uint64_t>(n)),
      ROW("trunc_a", "dealer-assisted, top-bit openings, d = F; floor + {0, 1}", cost_trunc_a<uint32_t>(n), cost_trunc_a<uint64_t>(n)),
      ROW("mul_aa_trunc", "product and truncation in one kernel, d = F", cost_mul_aa_trunc<uint32_t>(n, 8), cost_mul_aa_trunc<uint64_t>(n, 18)),
      ROW("mul_ba", "boolean bit × arithmetic value, dealer bit injection", cost_mul_ba<uint32_t>(n), cost_mul_ba<uint64_t>(n)),
      ROW("mac_ba (2 terms, d = F)", "trunc(a + b1·z1 + b2·z2)", cost_mac_ba<uint32_t>(n, 2, 8), cost_mac_ba<uint64_t>(n, 2, 18)),
      ROW("and_bb", "n words", cost_and_bb<uint32_t>(n), cost_and_bb<uint64_t>(n)),
      ROW("a2b", "carry-save + Kogge–Stone", cost_a2b<uint32_t>(n), cost_a2b<uint64_t>(n)),
      ROW("bit2a", "3-party OT bit injection", cost_bit2a<uint32_t>(n), cost_bit2a<uint64_t>(n)),
      ROW("bit2a_dealt", "dealer bit injection: u − r to one party, then a two-party re-share", cost_bit2a_dealt<uint32_t>(n), cost_bit2a_dealt<uint64_t>(n)),
      ROW("shuffle_rows (n rows of 1)", "three re-sharing passes, each by a permutation two parties share", cost_shuffle_rows<uint32_t>(n, 1), cost_shuffle_rows<uint64_t>(n, 1)),
      ROW("b2a", "k bit injections", cost_b2a<uint32_t>(n, 32), cost_b2a<uint64_t>(n, 64)),
      ROW("msb_a", "carry tree on bit planes", cost_msb_a<uint32_t>(n), cost_msb_a<uint64_t>(n)),
      ROW("ltz_a", "msb_a + bit2a", cost_ltz_a<uint32_t>(n), cost_ltz_a<uint64_t>(n)),
      ROW("lt_aa", "= ltz_a(x − y)", cost_lt_aa<uint32_t>(n), cost_lt_aa<uint64_t>(n)),
      ROW("eq_aa", "input + AND tree + bit2a", cost_eq_aa<uint32_t>(n), cost_eq_aa<uint64_t>(n)),
      ROW("select_a", "= mul_aa", cost_select_a<uint32_t>(n), cost_select_a<uint64_t>(n)),
      ROW("ltz_window_b (FM64 input, ℓ = 32)", "carry tree on a free 32-bit window of the components; both columns FM64", cost_ltz_window_b(n, 32), cost_ltz_window_b(n, 32)),
      ROW("ltz_a_via32 (FM64 input)", "ltz_window_b + bit2a into FM64; both columns FM64", cost_ltz_a_via32(n, 0), cost_ltz_a_via32(n, 12)),
      ROW("eq_ap_via32 (FM64 input)", "32-bit AND tree + bit2a into FM64; both columns FM64", cost_eq_ap_via32(n), cost_eq_ap_via32(n)),
      ROW("dot_runs_aa_trunc (runs of 768, n outputs)", "mul_aa_trunc with each run's cross terms summed first, d = F; n = outputs", cost_dot_runs_aa_trunc<uint32_t>(n, 8), cost_dot_runs_aa_trunc<uint64_t>(n, 18)),
      ROW("upcast_a (FM32 in, FM64 out)", "wrap count from the components' top bits: one dealer-assisted AND, 3(32 − shift) + 1 bits; FM32 columns shift 0, FM64 columns shift 10", cost_upcast_a(n, 0), cost_upcast_a(n, 10)),
      ROW("upcast_trunc_a (FM32 in, FM64 out)", "upcast_a with a local truncation, 3(32 + d) + 1 bits; FM32 columns d = 8, FM64 columns d = 18", cost_upcast_trunc_a(n, 8), cost_upcast_trunc_a(n, 18)),
      ROW("downcast_a (FM64 in, FM32 out, d = 10)", "trunc_a then each component mod 2^32 (Ditto); both columns", cost_downcast_a(n, 10), cost_downcast_a(n, 10)),
      ROW("downcast_local_a (FM64 in, FM32 out)", "bits [d, d + 32) of each component: free; FM32 columns d = 10, FM64 columns d = 28", cost_downcast_local_a(n, 10), cost_downcast_local_a(n, 28)),
  };
  std::printf("Declared costs at n = %lld elements (bytes per element in brackets).\n\n", static_cast<long long>(n));
  std::printf("| kernel | FM32 rounds | FM32 busiest party | FM32 all parties | FM64 rounds | FM64 busiest party | FM64 all parties | protocol |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (const Row& r : rows) {
    Cost a = r.fm32(n), b = r.fm64(n);
    auto per = [n](int64_t bytes) { return double(bytes) / double(n); };
    std::printf("| %s | %lld | %lld [%.4g] | %lld [%.4g] | %lld | %lld [%.4g] | %lld [%.4g] | %s |\n", r.kernel,
                static_cast<long long>(a.rounds), static_cast<long long>(a.bytes_max), per(a.bytes_max),
                static_cast<long long>(a.bytes_total), per(a.bytes_total), static_cast<long long>(b.rounds),
                static_cast<long long>(b.bytes_max), per(b.bytes_max), static_cast<long long>(b.bytes_total),
                per(b.bytes_total), r.note);
  }
}

}  // namespace veil::bench
