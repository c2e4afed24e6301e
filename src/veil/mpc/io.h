// Getting values in and out of the shared world. Every function that reveals data is named
// reveal_* and is listed in docs/SECURITY.md.
#pragma once
#include <array>
#include <utility>

#include "veil/mpc/context.h"
#include "veil/mpc/cost.h"
#include "veil/mpc/share.h"

namespace veil::mpc {

// Party `owner` secret-shares its plaintext `x` (ignored on other parties; they pass the shape).
// Cost: 1 round; owner sends 2n elements (n to each peer); components come from the PRGs.
template <class T> AShare<T> share_input(Context& ctx, int owner, const Tensor<T>& x, const Shape& shape);
template <class T> Cost cost_share_input(int64_t n);

// A public value as a sharing (x0 = v, x1 = x2 = 0). No communication.
template <class T> AShare<T> share_public(Context& ctx, const Tensor<T>& v);

// External client: split x into the three parties' pairs (x_i, x_{i+1}) with fresh randomness,
// and reconstruct from the pairs the parties send back.
template <class T> std::array<std::pair<std::vector<T>, std::vector<T>>, 3> client_split(const std::vector<T>& x, Prg& prg);
template <class T> std::vector<T> client_reconstruct(const std::array<std::pair<std::vector<T>, std::vector<T>>, 3>& pairs);

// REVEAL: x is opened to party `to` only (returns the plaintext there, empty elsewhere).
// Cost: 1 round; party to+1 sends n elements.
template <class T> Tensor<T> reveal_to(Context& ctx, int to, const AShare<T>& x);
template <class T> Cost cost_reveal_to(int64_t n);

// REVEAL: x is opened to all three parties. Cost: 1 round; each party sends n elements.
template <class T> Tensor<T> reveal_all(Context& ctx, const AShare<T>& x);
template <class T> Cost cost_reveal_all(int64_t n);

// Barrier: two rounds of empty frames to both peers, after which every party has the same round
// depth (benchmarks and cost tests measure from there). Moves no data.
void sync_parties(Context& ctx);

// REVEAL: a boolean sharing opened to all parties (low nbits of each word).
template <class T> Tensor<T> reveal_all_b(Context& ctx, const BShare<T>& x);

}  // namespace veil::mpc
