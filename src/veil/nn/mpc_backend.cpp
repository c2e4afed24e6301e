#include "veil/nn/mpc_backend.h"

#include <stdexcept>

#include "veil/core/fixed_point.h"
#include "veil/fxp/fxp_mul.h"
#include "veil/fxp/gelu.h"
#include "veil/fxp/layernorm.h"
#include "veil/fxp/max.h"
#include "veil/fxp/onehot.h"
#include "veil/fxp/silu.h"
#include "veil/fxp/softmax.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/boolean.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/io.h"
#include "veil/mpc/layout.h"

namespace veil::nn {

using T = uint64_t;
using Share = MpcBackend::Tensor;

namespace {
int64_t rows_of(const Shape& s) { return s.size() < 2 ? 1 : numel(Shape(s.begin(), s.end() - 1)); }

}  // namespace

MpcBackend::MpcBackend(mpc::Context& ctx, std::shared_ptr<const WeightShares> weights, mpc::ClientChannel& client,
                       TokenInput input)
    : ctx_(ctx), weights_(std::move(weights)), client_(client), input_(input) {
  if (!weights_) throw std::invalid_argument("MPC backend: no weights");
}

MpcBackend::MpcBackend(mpc::Context& ctx, WeightShares weights, mpc::ClientPort& client, TokenInput input)
    : ctx_(ctx),
      weights_(std::make_shared<const WeightShares>(std::move(weights))),
      own_channel_(client.channel(ctx.id(), &ctx.link())),
      client_(*own_channel_),
      input_(input) {}

int MpcBackend::frac_bits() const { return ctx_.config().frac_bits<T>(); }

Share MpcBackend::weight(const std::string& name) const {
  auto it = weights_->find(name);
  if (it == weights_->end()) throw std::out_of_range("MPC backend: this party holds no share of weight '" + name + "'");
  return it->second;
}

MpcBackend::Tokens MpcBackend::input_tokens(const std::vector<int32_t>& ids) {
  auto [s0, s1] = client_.take_input();
  const size_t t = ids.size();
  Tokens out;
  if (input_ == TokenInput::secret_ids) {
    if (s0.size() != t)
      throw std::runtime_error("MPC backend: the client sent " + std::to_string(s0.size()) + " token shares, expected " +
                               std::to_string(t));
    out.ids = Share(Shape{int64_t(t)});
    out.ids.s0 = std::move(s0), out.ids.s1 = std::move(s1);
  } else {
    if (t == 0 || s0.empty() || s0.size() % t != 0)
      throw std::runtime_error("MPC backend: the client sent " + std::to_string(s0.size()) +
                               " one-hot elements, not a whole row for each of " + std::to_string(t) + " tokens");
    out.onehot = Share(Shape{int64_t(t), int64_t(s0.size() / t)});
    out.onehot.s0 = std::move(s0), out.onehot.s1 = std::move(s1);
  }
  return out;
}

int64_t MpcBackend::length(const Tokens& ids) const {
  return ids.onehot.shape.empty() ? int64_t(ids.ids.size()) : ids.onehot.shape.at(0);
}

// ids (T), table (V,C) -> (T,C): one-hot (T,V) of integer 0/1 times the fixed-point table.
Share MpcBackend::embed(const Tokens& ids, const Share& table) {
  net::Link::Scope scope(ctx_.link(), "embedding");
  const int64_t v = table.shape.at(0);
  if (ids.onehot.shape.empty()) return mpc::matmul_aa(ctx_, fxp::onehot(ctx_, ids.ids, v), table);
  if (ids.onehot.shape.at(1) != v)
    throw std::runtime_error("MPC backend: the client's one-hot rows have " + std::to_string(ids.onehot.shape.at(1)) +
                             " columns, the embedding table has " + std::to_string(v) + " rows");
  return mpc::matmul_aa(ctx_, ids.onehot, table);
}

MpcBackend::Tokens MpcBackend::feed_back(const Tokens& chosen) {
  if (input_ == TokenInput::secret_ids) return chosen;
  return input_tokens(std::vector<int32_t>(size_t(length(chosen)), 0));
}

Share MpcBackend::matmul(const Share& a, const Share& b) {
  net::Link::Scope scope(ctx_.link(), "linear");
  Share x = a;
  if (a.shape.size() == 3 && b.shape.size() == 2) x = mpc::reshape(a, {a.shape[0] * a.shape[1], a.shape[2]});
  Share z = mpc::trunc_a(ctx_, mpc::matmul_aa(ctx_, x, b), frac_bits());
  if (a.shape.size() == 3 && b.shape.size() == 2) z = mpc::reshape(z, {a.shape[0], a.shape[1], b.shape[1]});
  return z;
}

Share MpcBackend::matmul_nt(const Share& a, const Share& b) {
  net::Link::Scope scope(ctx_.link(), "linear");
  Share x = a;
  if (a.shape.size() == 3 && b.shape.size() == 2) x = mpc::reshape(a, {a.shape[0] * a.shape[1], a.shape[2]});
  Share z = mpc::trunc_a(ctx_, mpc::matmul_aa_nt(ctx_, x, b), frac_bits());
  if (a.shape.size() == 3 && b.shape.size() == 2) z = mpc::reshape(z, {a.shape[0], a.shape[1], b.shape[0]});
  return z;
}

Share MpcBackend::add(const Share& a, const Share& b) { return mpc::add_aa(a, b); }

Share MpcBackend::add_bias(const Share& x, const Share& bias) {
  const int64_t n = bias.shape.at(0);
  std::vector<int64_t> idx(x.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = int64_t(i) % n;
  return mpc::add_aa(x, mpc::gather(bias, idx, x.shape));
}

Share MpcBackend::scale(const Share& x, double c) { return fxp::mul_fp(ctx_, x, c); }

Share MpcBackend::layernorm(const Share& x, const Share& gamma, const Share& beta, double eps) {
  net::Link::Scope scope(ctx_.link(), "layernorm");
  return fxp::f_layernorm(ctx_, x, gamma, beta, eps);
}

Share MpcBackend::activation(const Share& x, model::Activation act) {
  net::Link::Scope scope(ctx_.link(), "activation");
  switch (act) {
    case model::Activation::gelu_erf:
    case model::Activation::gelu_tanh:  // PUMA's piecewise polynomial fits both within 1e−2
      return fxp::f_gelu(ctx_, x);
    case model::Activation::silu:
      return fxp::f_silu(ctx_, x);
    case model::Activation::quick_gelu:
      return fxp::mul_ff(ctx_, x, fxp::f_sigmoid(ctx_, fxp::mul_fp(ctx_, x, 1.702)));
    case model::Activation::relu:  // x − x·[x < 0]; the indicator is an integer: no truncation
      return mpc::sub_aa(x, mpc::mul_aa(ctx_, x, mpc::ltz_a(ctx_, x)));
  }
  throw std::invalid_argument("MPC backend: unsupported activation");
}

// tanh(x) = 2·sigmoid(2x) − 1 (BERT's pooler).
Share MpcBackend::tanh(const Share& x) {
  Share s = fxp::f_sigmoid(ctx_, mpc::shl_a(x, 1));
  return mpc::add_ap(ctx_, mpc::shl_a(s, 1), std::vector<T>{fxp_encode<T>(-1.0, frac_bits())});
}

Share MpcBackend::softmax(const Share& x, bool causal) {
  net::Link::Scope scope(ctx_.link(), "softmax");
  fxp::SoftmaxOptions opt;
  opt.causal = causal;
  return fxp::f_softmax(ctx_, x, opt);
}

Share MpcBackend::attend(const Share& scores, const Share& v, bool causal) {
  const int64_t n = scores.shape.back(), d = v.shape.back();
  if (n <= d) return matmul(softmax(scores, causal), v);
  fxp::SoftmaxParts<uint64_t> parts;
  {
    net::Link::Scope scope(ctx_.link(), "softmax");
    fxp::SoftmaxOptions opt;
    opt.causal = causal;
    parts = fxp::f_softmax_parts(ctx_, scores, opt);  // e (..., T, N), r (..., T), F fraction bits
  }
  net::Link::Scope scope(ctx_.link(), "linear");  // where p·v is counted (matmul)
  const int f = frac_bits();
  return fxp::f_normalise_product(ctx_, mpc::matmul_aa(ctx_, parts.e, v), 2 * f, parts.r, f, f);  // e·v at 2F
}

// (T, H·D) -> (H, T, D)
Share MpcBackend::split_heads(const Share& x, int64_t heads) {
  const int64_t t = x.shape.at(0), c = x.shape.at(1), d = c / heads;
  std::vector<int64_t> idx(size_t(t * c));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = 0; j < d; ++j) idx[size_t((h * t + i) * d + j)] = i * c + h * d + j;
  return mpc::gather(x, idx, {heads, t, d});
}

// (H, T, D) -> (T, H·D)
Share MpcBackend::merge_heads(const Share& x) {
  const int64_t heads = x.shape.at(0), t = x.shape.at(1), d = x.shape.at(2);
  std::vector<int64_t> idx(size_t(heads * t * d));
  for (int64_t i = 0; i < t; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < d; ++j) idx[size_t(i * heads * d + h * d + j)] = (h * t + i) * d + j;
  return mpc::gather(x, idx, {t, heads * d});
}

Share MpcBackend::slice_cols(const Share& x, int64_t begin, int64_t n) {
  const int64_t t = rows_of(x.shape), c = x.shape.back();
  std::vector<int64_t> idx(size_t(t * n));
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < n; ++j) idx[size_t(i * n + j)] = i * c + begin + j;
  Shape out = x.shape;
  out.back() = n;
  return mpc::gather(x, idx, out);
}

Share MpcBackend::slice_rows(const Share& x, int64_t begin, int64_t n) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = begin + i;
  return select_rows(x, rows);
}

// (..., T, C), rows (R) -> (..., R, C)
Share MpcBackend::select_rows(const Share& x, const std::vector<int64_t>& rows) {
  const size_t r = x.shape.size();
  const int64_t t = x.shape[r - 2], c = x.shape[r - 1], b = numel(x.shape) / (t * c), nr = int64_t(rows.size());
  std::vector<int64_t> idx(size_t(b * nr * c));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t i = 0; i < nr; ++i)
      for (int64_t j = 0; j < c; ++j) idx[size_t((bi * nr + i) * c + j)] = (bi * t + rows[size_t(i)]) * c + j;
  Shape out = x.shape;
  out[r - 2] = nr;
  return mpc::gather(x, idx, out);
}

// (..., T1, C), (..., T2, C) -> (..., T1+T2, C)
Share MpcBackend::concat_rows(const Share& a, const Share& b) {
  const size_t r = a.shape.size();
  const int64_t t1 = a.shape[r - 2], t2 = b.shape[r - 2], c = a.shape[r - 1], nb = numel(a.shape) / (t1 * c);
  Share both = mpc::concat<T>({&a, &b});
  const int64_t off_b = nb * t1 * c;
  std::vector<int64_t> idx(size_t(nb * (t1 + t2) * c));
  for (int64_t bi = 0; bi < nb; ++bi)
    for (int64_t i = 0; i < t1 + t2; ++i)
      for (int64_t j = 0; j < c; ++j)
        idx[size_t((bi * (t1 + t2) + i) * c + j)] =
            i < t1 ? (bi * t1 + i) * c + j : off_b + (bi * t2 + (i - t1)) * c + j;
  Shape out = a.shape;
  out[r - 2] = t1 + t2;
  return mpc::gather(both, idx, out);
}

MpcBackend::Tokens MpcBackend::argmax(const Share& logits) {
  net::Link::Scope scope(ctx_.link(), "argmax");
  return {fxp::argmax_last(ctx_, logits).second, {}};
}

std::vector<int32_t> MpcBackend::reveal_tokens(const Tokens& ids) {
  if (ids.ids.shape.empty()) throw std::logic_error("MPC backend: reveal_tokens needs ids (an argmax result)");
  client_.give_output({ids.ids.s0, ids.ids.s1});
  return {};
}

veil::Tensor<float> MpcBackend::reveal_to_client(const Share& x) {
  client_.give_output({x.s0, x.s1});
  return {};
}

std::array<std::map<std::string, Share>, 3> deal_weights(const std::map<std::string, veil::Tensor<float>>& weights,
                                                        int frac_bits, Prg& prg) {
  std::array<std::map<std::string, Share>, 3> out;
  for (const auto& [name, w] : weights) {
    std::vector<T> enc(w.size());
    for (size_t i = 0; i < w.size(); ++i) enc[i] = fxp_encode<T>(double(w.data[i]), frac_bits);
    auto pairs = mpc::client_split(enc, prg);
    for (int p = 0; p < 3; ++p) {
      Share s(w.shape);
      s.s0 = std::move(pairs[size_t(p)].first), s.s1 = std::move(pairs[size_t(p)].second);
      out[size_t(p)].emplace(name, std::move(s));
    }
  }
  return out;
}

}  // namespace veil::nn
