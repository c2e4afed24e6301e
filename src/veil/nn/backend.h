// The Backend concept: the operations GPT-2 and BERT are written in (nn/gpt2.h, nn/bert.h).
// The model graph is a template over a backend B; the same graph runs on the plaintext float
// backend (PlainBackend, the reference) and on the MPC backend (fixed-point secret shares).
//
// Types a backend names:
//   B::Tensor  a dense row-major tensor: float on the plaintext backend, a fixed-point secret
//              share on MPC. Its shape is public and read as `x.shape` (a veil::Shape).
//   B::Tokens  token ids as the parties hold them: plain ids on the plaintext backend, shares of
//              the integer ids on MPC (the parties never see a token).
//
// A backend is bound to one checkpoint: `weight` returns the tensor stored under a canonical
// name of model/checkpoint_layout.h, with the shape listed there (plaintext: read from the
// safetensors file; MPC: this party's shares of it, dealt by the model owner).
//
// Shapes in the comments: T sequence rows, C channels, N outputs, H heads, D head size,
// V vocabulary. "(..., N)" is any number of leading axes.
//
// What crosses to the client is explicit: `reveal_to_client` and `reveal_tokens` are the only
// operations whose result leaves the backend; on MPC they open the value to the client only.
// `input_tokens` and `feed_back` are the client's way in: on MPC the client secret-shares its
// ids (or their one-hot rows).
#pragma once
#include <concepts>
#include <cstdint>
#include <string>
#include <vector>

#include "veil/core/tensor.h"
#include "veil/model/hf_config.h"

namespace veil::nn {

template <class B>
concept Backend = requires(B& be, const typename B::Tensor& x, const typename B::Tokens& ids,
                           const std::string& name, const std::vector<int32_t>& client_ids,
                           const std::vector<int64_t>& rows, model::Activation act, double c,
                           int64_t i) {
  { x.shape } -> std::convertible_to<Shape>;

  // ---- weights and inputs
  { be.has_weight(name) } -> std::same_as<bool>;
  { be.weight(name) } -> std::same_as<typename B::Tensor>;     // shape of checkpoint_layout.h
  { be.input_tokens(client_ids) } -> std::same_as<typename B::Tokens>;  // client ids (T) -> (T)
  { be.length(ids) } -> std::same_as<int64_t>;                 // T
  // ids (T), table (V,C) -> (T,C): rows table[ids[t]]. MPC: a one-hot (from the client, or by
  // secure equality), then a matmul, so the ids stay secret.
  { be.embed(ids, x) } -> std::same_as<typename B::Tensor>;

  // ---- linear maps
  // a (M,K) or (B,M,K); b (K,N), or (B,K,N) with the same B -> (M,N) or (B,M,N).
  { be.matmul(x, x) } -> std::same_as<typename B::Tensor>;
  // a · bᵀ: a (M,K) or (B,M,K); b (N,K), or (B,N,K) with the same B -> (M,N) or (B,M,N).
  // For [out, in] weights (BERT Linear, the tied GPT-2 head) and attention scores q · kᵀ.
  { be.matmul_nt(x, x) } -> std::same_as<typename B::Tensor>;
  { be.add(x, x) } -> std::same_as<typename B::Tensor>;       // same shapes
  { be.add_bias(x, x) } -> std::same_as<typename B::Tensor>;  // x (..., N), bias (N)
  { be.scale(x, c) } -> std::same_as<typename B::Tensor>;     // x · c, c a public constant

  // ---- non-linear maps (along the last axis where it matters)
  // x (..., C), gamma (C), beta (C): (x − mean) / sqrt(var + eps) · gamma + beta.
  { be.layernorm(x, x, x, c) } -> std::same_as<typename B::Tensor>;
  { be.activation(x, act) } -> std::same_as<typename B::Tensor>;  // elementwise
  { be.tanh(x) } -> std::same_as<typename B::Tensor>;             // elementwise (BERT pooler)
  // Softmax along the last axis. Causal: scores (..., Tq, Tk) where the queries are the last Tq
  // of the Tk keys; entry (q, k) with k > q + (Tk − Tq) is masked to exactly 0.
  { be.softmax(x, true) } -> std::same_as<typename B::Tensor>;

  // ---- layout (public index maps: local and free on MPC)
  { be.split_heads(x, i) } -> std::same_as<typename B::Tensor>;  // (T, H·D), H -> (H,T,D)
  { be.merge_heads(x) } -> std::same_as<typename B::Tensor>;     // (H,T,D) -> (T, H·D)
  { be.slice_cols(x, i, i) } -> std::same_as<typename B::Tensor>;  // (T,C), begin, n -> (T,n)
  { be.slice_rows(x, i, i) } -> std::same_as<typename B::Tensor>;  // (...,T,C), begin, n -> (...,n,C)
  { be.select_rows(x, rows) } -> std::same_as<typename B::Tensor>;  // (...,T,C), idx (R) -> (...,R,C)
  { be.concat_rows(x, x) } -> std::same_as<typename B::Tensor>;   // (...,T1,C), (...,T2,C) -> (...,T1+T2,C)

  // ---- outputs
  // logits (R,V) -> (R): the index of each row's maximum (lowest index on ties), kept as a
  // backend token (secret on MPC) so that greedy decoding feeds it back without revealing it.
  { be.argmax(x) } -> std::same_as<typename B::Tokens>;
  // Opens to the client only.
  { be.reveal_tokens(ids) } -> std::same_as<std::vector<int32_t>>;
  // Greedy decoding: the tokens the next step embeds, after `ids` were revealed to the client:
  // `ids` themselves, or (MPC, client_onehot) the client's own shares of the tokens it was shown.
  { be.feed_back(ids) } -> std::same_as<typename B::Tokens>;
  { be.reveal_to_client(x) } -> std::same_as<Tensor<float>>;
};

// The operations of KV-cache selection (nn/mpcache.h), on top of Backend. "0/1 tensors" (flags
// and one-hot rows) are exact integers on MPC, not fixed point: use them only with the operations
// below, never with matmul or scale. Nothing here opens a value except the two reveal_* calls,
// which open to the parties (not the client) and are listed in docs/SECURITY.md.
template <class B>
concept KvBackend = Backend<B> && requires(B& be, const typename B::Tensor& x, const Shape& shape,
                                           const std::vector<typename B::Tensor>& xs,
                                           const std::vector<int64_t>& rows, double c, int64_t i) {
  // ---- layout (public index maps: local and free on MPC)
  { be.reshape(x, shape) } -> std::same_as<typename B::Tensor>;      // same element count
  { be.slice_last(x, i, i) } -> std::same_as<typename B::Tensor>;    // (..., N), begin, n -> (..., n)
  { be.concat_last(x, x) } -> std::same_as<typename B::Tensor>;      // (..., N1), (..., N2) -> (..., N1+N2)
  { be.sum_heads(x) } -> std::same_as<typename B::Tensor>;           // (H,T,C) -> (T,C)

  // ---- products kept wide: a · bᵀ as matmul_nt, but on MPC without the truncation, so the
  // result has twice the fraction bits; only layout ops and onehot_gather may take it, and
  // narrow brings it back (after a gather, where fewer elements are left to truncate).
  { be.matmul_nt_wide(x, x) } -> std::same_as<typename B::Tensor>;
  { be.narrow(x) } -> std::same_as<typename B::Tensor>;

  // ---- cluster summaries: x (..., G·g, C), g -> (..., G, C), per column over g consecutive rows
  { be.max_groups(x, i) } -> std::same_as<typename B::Tensor>;
  { be.min_groups(x, i) } -> std::same_as<typename B::Tensor>;

  // ---- selection and gathering by one-hot rows
  // q (B,1,D), summaries (B,N,D) -> (B,1,N): q·summaryᵀ, the clusters' similarity scores, wide
  // like matmul_nt_wide (they only feed topk_onehot, directly or through onehot_gather).
  { be.cluster_scores(x, x) } -> std::same_as<typename B::Tensor>;
  // scores (B,1,N) from cluster_scores, k -> (B,k,N) 0/1: the k largest (ties go to the lower
  // index), one per row, in index order (row j: the j-th selected by position). MPC: secure,
  // nothing opened (mpc/topk_onehot.h).
  { be.topk_onehot(x, i) } -> std::same_as<typename B::Tensor>;
  // one-hot (B,k,N), x (B,N,C) -> (B,k,C): the selected rows of x.
  { be.onehot_gather(x, x) } -> std::same_as<typename B::Tensor>;
  // one-hot (B,k,N), y (B,k,C) -> (B,N,C) = one-hotᵀ·y: rows put back where they were selected.
  { be.onehot_scatter(x, x) } -> std::same_as<typename B::Tensor>;

  // ---- static eviction
  // votes (W,T), threshold c, forced (indices into T) -> (T) 0/1: 1 where some row reaches c, or
  // where forced.
  { be.kept_flags(x, c, rows) } -> std::same_as<typename B::Tensor>;
  { be.union_flags(x, x) } -> std::same_as<typename B::Tensor>;  // (T), (T) -> (T) 0/1: either
  // REVEAL (to the parties): the indices where flags (T) is 1, increasing.
  { be.reveal_kept_rows(x) } -> std::same_as<std::vector<int64_t>>;
  // REVEAL (to the parties) the number m of ones in flags (T) only: each of xs (..., T, C) ->
  // (..., m, C), its flagged rows in order, moved obliviously.
  { be.compact_kept_rows(x, xs) } -> std::same_as<std::vector<typename B::Tensor>>;
};

// softmax(scores, causal)·v: scores (..., T, N), v (..., N, D) -> (..., T, D). A backend may
// offer it whole, as `attend`, to order the work its own way (DittoBackend normalises after the
// product when N > D, where the product has fewer elements per row than the scores).
template <class B>
typename B::Tensor softmax_matmul(B& be, const typename B::Tensor& scores, const typename B::Tensor& v, bool causal) {
  if constexpr (requires { be.attend(scores, v, causal); }) return be.attend(scores, v, causal);
  else return be.matmul(be.softmax(scores, causal), v);
}

}  // namespace veil::nn
