// A secret-shared fixed-point tensor on either ring: the tensor type of the mixed-precision MPC
// backend (nn/ditto_backend.h). It carries its ring and fraction bits, so an op can cast its inputs
// to the format its plan gives it, and a product may keep its wider fraction bits until a consumer
// decides how to bring them down (a truncation, or a free down-cast to FM32).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "veil/core/ring.h"
#include "veil/core/tensor.h"
#include "veil/mpc/share.h"

namespace veil::nn {

struct CastMemo;
struct SliceOf;

struct RingTensor {
  Shape shape;
  Ring ring = Ring::FM64;
  int frac_bits = 0;
  mpc::AShare<uint32_t> a32;  // ring == FM32
  mpc::AShare<uint64_t> a64;  // ring == FM64
  std::string weight;         // the canonical name when this is a weight, or rows of one
  // Column slices of one product (GPT-2's queries, keys and values) share one cast of the whole:
  // one truncation or up-cast instead of one per slice (the same bytes, fewer rounds).
  std::shared_ptr<const SliceOf> source;   // set by slice_cols on its result
  mutable std::shared_ptr<CastMemo> memo;  // set by slice_cols on the tensor it slices

  template <class T> const mpc::AShare<T>& share() const {
    if constexpr (sizeof(T) == 4) return a32;
    else return a64;
  }
  template <class T> static RingTensor of(mpc::AShare<T> s, int frac_bits) {
    RingTensor t;
    t.shape = s.shape;
    t.frac_bits = frac_bits;
    if constexpr (sizeof(T) == 4) t.ring = Ring::FM32, t.a32 = std::move(s);
    else t.ring = Ring::FM64, t.a64 = std::move(s);
    return t;
  }
};

struct CastMemo {
  std::shared_ptr<const RingTensor> whole;
  std::map<std::pair<int, int>, RingTensor> casts;  // (ring, frac bits) -> the whole, cast
};
struct SliceOf {
  std::shared_ptr<CastMemo> memo;
  std::vector<int64_t> idx;  // into the whole
};

}  // namespace veil::nn
