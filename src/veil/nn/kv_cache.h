// Per-layer key/value cache for decoding. Each layer keeps its keys and values as backend
// tensors (H, T, D) plus the explicit sequence position of each of the T cached rows, so an
// eviction policy can keep a subset of positions per layer (`retain`) while new tokens still
// get their true positions (`next_position` counts every token seen, kept or not).
// On the MPC backend the tensors are secret shares; counts are public, and so are positions
// except after an eviction that reveals only how many rows it kept (`assign` with unknown
// positions, kUnknownPosition).
//
// A cache may carry a KV policy (nn/kv_policy.h): the attention of every layer then goes through
// the policy, which may evict rows or attend to a subset of them.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "veil/nn/backend.h"

namespace veil::nn {

inline constexpr int64_t kUnknownPosition = -1;  // a row whose position the parties do not know

template <Backend B>
class KvPolicy;

template <Backend B>
struct KvLayer {
  typename B::Tensor k, v;         // (H, T, D) each; empty before the first token
  std::vector<int64_t> positions;  // (T): sequence position of each cached row, increasing
};

template <Backend B>
class KvCache {
 public:
  explicit KvCache(int64_t n_layer, std::shared_ptr<KvPolicy<B>> policy = {})
      : layers_(size_t(n_layer)), policy_(std::move(policy)) {}

  int64_t n_layer() const { return int64_t(layers_.size()); }
  KvPolicy<B>* policy() const { return policy_.get(); }
  int64_t next_position() const { return next_position_; }  // position of the next new token
  const KvLayer<B>& layer(int64_t l) const { return layers_.at(size_t(l)); }

  // Appends the keys and values of the new tokens k, v (H, Tn, D) at positions
  // next_position() .. + Tn − 1 to layer l; returns the layer with them.
  const KvLayer<B>& append(B& be, int64_t l, const typename B::Tensor& k, const typename B::Tensor& v) {
    KvLayer<B>& layer = layers_.at(size_t(l));
    const int64_t tn = k.shape.at(1);
    if (layer.positions.empty()) {
      layer.k = k;
      layer.v = v;
    } else {
      layer.k = be.concat_rows(layer.k, k);
      layer.v = be.concat_rows(layer.v, v);
    }
    for (int64_t i = 0; i < tn; ++i) layer.positions.push_back(next_position_ + i);
    return layer;
  }

  // Called once per forward pass, after every layer has appended its n new tokens.
  void advance(int64_t n) { next_position_ += n; }

  // Keeps only the cached rows `rows` (indices into layer(l).positions, increasing) of layer l.
  void retain(B& be, int64_t l, const std::vector<int64_t>& rows) {
    KvLayer<B>& layer = layers_.at(size_t(l));
    std::vector<int64_t> kept;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] < 0 || rows[i] >= int64_t(layer.positions.size()) || (i > 0 && rows[i] <= rows[i - 1]))
        throw std::invalid_argument("KvCache::retain: rows must be increasing indices below " +
                                    std::to_string(layer.positions.size()));
      kept.push_back(layer.positions[size_t(rows[i])]);
    }
    layer.k = be.select_rows(layer.k, rows);
    layer.v = be.select_rows(layer.v, rows);
    layer.positions = std::move(kept);
  }

  // Replaces layer l's rows by k, v (H, T', D) at `positions` (T' entries; kUnknownPosition where
  // the parties do not know them): the result of an oblivious compaction.
  void assign(int64_t l, typename B::Tensor k, typename B::Tensor v, std::vector<int64_t> positions) {
    if (int64_t(positions.size()) != k.shape.at(1) || k.shape != v.shape)
      throw std::invalid_argument("KvCache::assign: keys " + shape_str(k.shape) + ", values " + shape_str(v.shape) +
                                  " and " + std::to_string(positions.size()) + " positions do not match");
    KvLayer<B>& layer = layers_.at(size_t(l));
    layer.k = std::move(k);
    layer.v = std::move(v);
    layer.positions = std::move(positions);
  }

 private:
  std::vector<KvLayer<B>> layers_;
  int64_t next_position_ = 0;
  std::shared_ptr<KvPolicy<B>> policy_;
};

}  // namespace veil::nn
