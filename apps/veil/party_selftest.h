// The `selftest` job of `veil party`: every party derives the same plaintext inputs from a
// public seed, party 0 and party 1 secret-share theirs, and each kernel's revealed result is
// compared with the plaintext reference on both rings.
#pragma once
#include <cstdint>
#include <string>

#include "veil/mpc/context.h"

namespace veil::app {

// Runs the kernels once; returns the first mismatch as a readable line, or "" when every result
// matches its plaintext reference (trunc_a within one unit in the last place).
std::string run_selftest(mpc::Context& ctx, uint64_t seed);

}  // namespace veil::app
