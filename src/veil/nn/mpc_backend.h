// The MPC backend: the Backend concept (nn/backend.h) on three-party replicated shares over
// Z_2^64 with F fraction bits (FM64, F = 18 by default: PUMA's setting). Weights are this
// party's shares, dealt by the model owner; token ids arrive as shares from the client through a
// ClientChannel (in process: mpc::ClientPort; over TLS: mpc::NetClientChannel) and stay secret; only `reveal_to_client` and `reveal_tokens` open values, and only to the
// client (the party learns nothing; both return an empty result on the party).
//
// Operations map to fxp/ and mpc/: matmul = matmul_aa + trunc_a, embedding = one-hot rows times
// the table by matmul_aa, LayerNorm / GeLU / softmax / argmax from fxp/, layout ops are local index
// maps (mpc/layout.h).
//
// Token inputs (TokenInput). The client knows the tokens it feeds in: the prompt's, and after each
// step the one it has just been shown. With client_onehot (what generation uses) it secret-shares
// their one-hot rows (T,V) itself, and the embedding is a local product plus one re-share: no
// comparison between parties. Client -> parties: 16·V bytes per token with the seeded split of
// mpc/client_wire.h, against 116·V bytes per token between the parties for PUMA's one-hot by
// secure equality, which secret_ids runs on shared integer ids (the mode for ids the client does
// not know).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "veil/model/hf_config.h"
#include "veil/mpc/client_channel.h"
#include "veil/mpc/client_port.h"
#include "veil/mpc/context.h"
#include "veil/mpc/share.h"

namespace veil::nn {

enum class TokenInput {
  secret_ids,     // the client shares integer ids; embed builds the one-hot by secure equality
  client_onehot,  // the client shares one-hot rows; embed is a matmul
};

// Token ids as the parties hold them: secret shares of the ids (T), or of their one-hot rows (T,W)
// as the client sent them (W: the width the client chose; embed checks it against the table).
struct MpcTokens {
  mpc::AShare<uint64_t> ids;     // (T): argmax results and secret_ids inputs
  mpc::AShare<uint64_t> onehot;  // (T,W): client_onehot inputs
};

class MpcBackend {
 public:
  using Tensor = mpc::AShare<uint64_t>;  // fixed point, F fraction bits
  using Tokens = MpcTokens;

  using WeightShares = std::map<std::string, Tensor>;  // canonical name -> this party's pair

  // `client` is this party's connection to the client. The weights may be shared between
  // successive backends (sessions) of one party.
  MpcBackend(mpc::Context& ctx, std::shared_ptr<const WeightShares> weights, mpc::ClientChannel& client,
             TokenInput input = TokenInput::secret_ids);
  // In process: the party reaches the client through port.channel(ctx.id(), &ctx.link()).
  MpcBackend(mpc::Context& ctx, WeightShares weights, mpc::ClientPort& client,
             TokenInput input = TokenInput::secret_ids);

  bool has_weight(const std::string& name) const { return weights_->count(name) != 0; }
  Tensor weight(const std::string& name) const;
  // The party does not know the ids: `ids` only gives the (public) count; the shares come from
  // the client through the channel: T ids (secret_ids) or T one-hot rows (client_onehot).
  Tokens input_tokens(const std::vector<int32_t>& ids);
  int64_t length(const Tokens& ids) const;
  // secret_ids: one-hot by secure equality (fxp::onehot), then matmul_aa; client_onehot: matmul_aa
  // of the client's rows. No truncation: the one-hot is an integer 0/1.
  Tensor embed(const Tokens& ids, const Tensor& table);
  // Greedy decoding: what the next step embeds after `chosen` was revealed to the client —
  // `chosen` itself (secret_ids), or the client's one-hot row of the token it was shown.
  Tokens feed_back(const Tokens& chosen);

  Tensor matmul(const Tensor& a, const Tensor& b);
  Tensor matmul_nt(const Tensor& a, const Tensor& b);
  Tensor add(const Tensor& a, const Tensor& b);
  Tensor add_bias(const Tensor& x, const Tensor& bias);
  Tensor scale(const Tensor& x, double c);

  Tensor layernorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
  Tensor activation(const Tensor& x, model::Activation act);
  Tensor tanh(const Tensor& x);
  Tensor softmax(const Tensor& x, bool causal);
  // softmax(scores)·v, scores (..., T, N), v (..., N, D) -> (..., T, D) (nn::softmax_matmul). When
  // N > D the softmax is normalised after the product, (e·v)·r (fxp::f_softmax_parts): D products
  // per row instead of N (fxp::f_normalise_product: |y| < 2^18).
  Tensor attend(const Tensor& scores, const Tensor& v, bool causal);

  Tensor split_heads(const Tensor& x, int64_t heads);
  Tensor merge_heads(const Tensor& x);
  Tensor slice_cols(const Tensor& x, int64_t begin, int64_t n);
  Tensor slice_rows(const Tensor& x, int64_t begin, int64_t n);
  Tensor select_rows(const Tensor& x, const std::vector<int64_t>& rows);
  Tensor concat_rows(const Tensor& a, const Tensor& b);

  Tokens argmax(const Tensor& logits);
  std::vector<int32_t> reveal_tokens(const Tokens& ids);   // to the client; {} on the party
  veil::Tensor<float> reveal_to_client(const Tensor& x);          // to the client; empty on the party

  // KV-cache selection (the KvBackend concept of nn/backend.h), in mpc_backend_kv.cpp. Flags and
  // one-hot rows are integer 0/1 shares. Link tags: kv_summary, kv_similarity, kv_topk, kv_gather,
  // kv_static.
  Tensor reshape(const Tensor& x, const Shape& shape);
  Tensor slice_last(const Tensor& x, int64_t begin, int64_t n);
  Tensor concat_last(const Tensor& a, const Tensor& b);
  Tensor sum_heads(const Tensor& x);
  Tensor matmul_nt_wide(const Tensor& a, const Tensor& b);
  Tensor narrow(const Tensor& x);
  Tensor max_groups(const Tensor& x, int64_t g);
  Tensor min_groups(const Tensor& x, int64_t g);
  Tensor cluster_scores(const Tensor& q, const Tensor& summaries);
  Tensor topk_onehot(const Tensor& scores, int64_t k);
  Tensor onehot_gather(const Tensor& onehot, const Tensor& x);
  Tensor onehot_scatter(const Tensor& onehot, const Tensor& y);
  Tensor kept_flags(const Tensor& votes, double threshold, const std::vector<int64_t>& forced);
  Tensor union_flags(const Tensor& a, const Tensor& b);
  std::vector<int64_t> reveal_kept_rows(const Tensor& flags);  // REVEAL to the parties: positions
  std::vector<Tensor> compact_kept_rows(const Tensor& flags, const std::vector<Tensor>& xs);  // REVEAL: count

  int frac_bits() const;
  mpc::Context& context() { return ctx_; }

 private:
  mpc::Context& ctx_;
  std::shared_ptr<const WeightShares> weights_;
  std::unique_ptr<mpc::ClientChannel> own_channel_;  // the in-process constructor's
  mpc::ClientChannel& client_;
  TokenInput input_;
};

// The model owner's side: encodes float weights in fixed point and splits each into the three
// parties' replicated pairs with fresh randomness. Party i gets element i of the result.
std::array<std::map<std::string, MpcBackend::Tensor>, 3> deal_weights(
    const std::map<std::string, veil::Tensor<float>>& weights, int frac_bits, Prg& prg);

}  // namespace veil::nn
