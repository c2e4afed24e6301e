#include "veil/nn/ditto_backend.h"

#include <cmath>
#include <set>
#include <stdexcept>

#include "veil/core/fixed_point.h"
#include "veil/fxp/gelu.h"
#include "veil/fxp/layernorm.h"
#include "veil/fxp/max.h"
#include "veil/fxp/onehot.h"
#include "veil/fxp/quad_gelu.h"
#include "veil/fxp/silu.h"
#include "veil/fxp/softmax.h"
#include "veil/mpc/arithmetic.h"
#include "veil/mpc/dealt.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/narrow.h"
#include "veil/mpc/ring_cast.h"

namespace veil::nn {

namespace {

template <class S> using elem_t = typename std::decay_t<decltype(std::declval<S>().s0)>::value_type;

int ring_bits(Ring r) { return r == Ring::FM32 ? 32 : 64; }

// f(share) on the tensor's ring; f returns a RingTensor.
template <class F> RingTensor on_ring(const RingTensor& x, F&& f) {
  return x.ring == Ring::FM32 ? f(x.a32) : f(x.a64);
}

// a (M,K) or (B,M,K) times b (K,N) / (B,K,N), or times bᵀ with b (N,K) / (B,N,K) when transposed.
template <class T>
mpc::AShare<T> product_on(mpc::Context& ctx, const mpc::AShare<T>& a, const mpc::AShare<T>& b, bool transposed) {
  const bool fold = a.shape.size() == 3 && b.shape.size() == 2;
  const mpc::AShare<T> x = fold ? mpc::reshape(a, {a.shape[0] * a.shape[1], a.shape[2]}) : a;
  mpc::AShare<T> z = transposed ? mpc::matmul_aa_nt(ctx, x, b) : mpc::matmul_aa(ctx, x, b);
  if (fold) z = mpc::reshape(z, {a.shape[0], a.shape[1], transposed ? b.shape[0] : b.shape[1]});
  return z;
}

// The ops whose fxp kernels read their fraction bits from the context.
bool is_kernel_op(PlanOp op, const OpFormat& f) {
  return op == PlanOp::softmax || op == PlanOp::layernorm || op == PlanOp::tanh ||
         (op == PlanOp::gelu && f.approx == GeluApprox::puma);
}

// Every (op, layer, format) the plan names: the global ops, then the per-layer overrides.
template <class F> void for_each_format(const PrecisionPlan& plan, F&& f) {
  for (int i = 0; i < kPlanOps; ++i) f(PlanOp(i), std::optional<int64_t>{}, plan.ops[size_t(i)]);
  for (const auto& [layer, ops] : plan.layers)
    for (const auto& [op, fmt] : ops) f(op, std::optional<int64_t>{layer}, fmt);
}

std::string where(PlanOp op, std::optional<int64_t> layer) {
  return (layer ? "layers." + std::to_string(*layer) + "." : std::string("ops.")) + std::string(plan_op_name(op));
}

}  // namespace

mpc::Config mpc_config_for(const PrecisionPlan& plan) {
  mpc::Config cfg;
  std::optional<int> f32, f64;
  std::string w32, w64;
  for_each_format(plan, [&](PlanOp op, std::optional<int64_t> layer, const OpFormat& f) {
    if (!is_kernel_op(op, f)) return;
    std::optional<int>& seen = f.ring == Ring::FM32 ? f32 : f64;
    std::string& first = f.ring == Ring::FM32 ? w32 : w64;
    if (seen && *seen != f.frac_bits)
      throw PlanError("plan " + plan.name + ": " + where(op, layer) + " has " + std::to_string(f.frac_bits) + " fraction bits on " +
                      std::string(ring_name(f.ring)) + " but " + first + " has " + std::to_string(*seen) +
                      ": the fxp kernels (softmax, layernorm, PUMA's gelu, tanh) run at one precision per ring");
    if (!seen) seen = f.frac_bits, first = where(op, layer);
  });
  if (f32) cfg.frac_bits_fm32 = *f32;
  if (f64) cfg.frac_bits_fm64 = *f64;
  return cfg;
}

void check_plan_for_mpc(const PrecisionPlan& plan, const mpc::Config& cfg) {
  for_each_format(plan, [&](PlanOp op, std::optional<int64_t> layer, const OpFormat& f) {
    if (op == PlanOp::gelu && f.approx == GeluApprox::exact)
      throw PlanError("plan " + plan.name + ": " + where(op, layer) + ": the exact GeLU has no MPC kernel (use puma or quad)");
    const int want = f.ring == Ring::FM32 ? cfg.frac_bits_fm32 : cfg.frac_bits_fm64;
    if (is_kernel_op(op, f) && f.frac_bits != want)
      throw PlanError("plan " + plan.name + ": " + where(op, layer) + " asks for " + std::to_string(f.frac_bits) +
                      " fraction bits on " + std::string(ring_name(f.ring)) + ", but the parties run its kernel at " +
                      std::to_string(want) + " (start them with mpc_config_for(plan))");
  });
}

DittoBackend::DittoBackend(mpc::Context& ctx, std::shared_ptr<const PlanWeightShares> weights, PrecisionPlan plan,
                           mpc::ClientChannel& client, TokenInput input)
    : ctx_(ctx), weights_(std::move(weights)), plan_(std::move(plan)), client_(client), input_(input) {
  if (!weights_) throw std::invalid_argument("Ditto backend: no weights");
  check_plan_for_mpc(plan_, ctx_.config());
}

DittoBackend::DittoBackend(mpc::Context& ctx, PlanWeightShares weights, PrecisionPlan plan, mpc::ClientPort& client,
                           TokenInput input)
    : ctx_(ctx),
      weights_(std::make_shared<const PlanWeightShares>(std::move(weights))),
      plan_(std::move(plan)),
      own_channel_(client.channel(ctx.id(), &ctx.link())),
      client_(*own_channel_),
      input_(input) {
  check_plan_for_mpc(plan_, ctx_.config());
}

int DittoBackend::output_frac_bits() const { return ctx_.config().frac_bits_fm64; }

RingTensor DittoBackend::weight(const std::string& name) const {
  auto it = weights_->find(name);
  if (it == weights_->end() || it->second.empty())
    throw std::out_of_range("Ditto backend: this party holds no share of weight '" + name + "'");
  return it->second.front();
}

RingTensor DittoBackend::weight_on(const RingTensor& w, Ring r) const {
  if (w.ring == r || w.weight.empty()) return w;
  auto it = weights_->find(w.weight);
  if (it != weights_->end())
    for (const RingTensor& e : it->second)
      if (e.ring == r && e.shape == w.shape) return e;
  return w;  // not dealt on r: the caller casts it
}

RingTensor DittoBackend::to(const RingTensor& x, Ring r, int f) {
  if (f < 0 || f > ring_bits(r) - 2)
    throw std::invalid_argument("Ditto backend: " + std::to_string(f) + " fraction bits do not fit " + std::string(ring_name(r)));
  if (x.ring == r && x.frac_bits == f) {
    RingTensor y = x;
    y.weight.clear();
    return y;
  }
  if (x.source) {  // a column slice: cast the whole once, then slice
    CastMemo& memo = *x.source->memo;
    const std::pair<int, int> key{int(r), f};
    auto it = memo.casts.find(key);
    if (it == memo.casts.end()) it = memo.casts.emplace(key, to(*memo.whole, r, f)).first;
    return gather(it->second, IndexMap{x.source->idx, x.shape});
  }
  net::Link::Scope scope(ctx_.link(), "cast");
  if (x.ring == r) {
    const int d = x.frac_bits - f;
    return on_ring(x, [&](const auto& a) {
      return RingTensor::of(d > 0 ? mpc::trunc_a(ctx_, a, d) : mpc::shl_a(a, -d), f);
    });
  }
  if (x.ring == Ring::FM64) {  // down: shift into place, truncate beyond 32 bits, then the free cast
    int d = x.frac_bits - f;
    mpc::AShare<uint64_t> a = d < 0 ? mpc::shl_a(x.a64, -d) : x.a64;
    if (d > 32) a = mpc::trunc_a(ctx_, a, d - 32), d = 32;
    return RingTensor::of(mpc::downcast_local_a(ctx_, a, std::max(d, 0)), f);
  }
  // up: the up-cast with the shift, or with the truncation when the target has fewer fraction bits
  const int s = f - x.frac_bits;
  if (s < 0 && s >= -30) return RingTensor::of(mpc::upcast_trunc_a(ctx_, x.a32, -s), f);
  const mpc::AShare<uint32_t> a = s < 0 ? mpc::trunc_a(ctx_, x.a32, -s) : x.a32;
  mpc::AShare<uint64_t> y = mpc::upcast_a(ctx_, a, std::clamp(s, 0, 32));
  if (s > 32) y = mpc::shl_a(y, s - 32);
  return RingTensor::of(std::move(y), f);
}

RingTensor DittoBackend::gather(const RingTensor& x, const IndexMap& m) const {
  RingTensor y = on_ring(x, [&](const auto& a) { return RingTensor::of(mpc::gather(a, m.idx, m.shape), x.frac_bits); });
  y.weight = x.weight;
  return y;
}

RingTensor DittoBackend::slice_cols(const RingTensor& x, int64_t begin, int64_t n) {
  const IndexMap m = slice_cols_map(x.shape, begin, n);
  RingTensor y = gather(x, m);
  if (x.weight.empty() && !x.source) {
    if (!x.memo) {
      RingTensor whole = x;
      whole.memo.reset();
      x.memo = std::make_shared<CastMemo>();
      x.memo->whole = std::make_shared<const RingTensor>(std::move(whole));
    }
    y.source = std::make_shared<const SliceOf>(SliceOf{x.memo, m.idx});
  }
  return y;
}

// ---- tokens and the embedding (as MpcBackend)

DittoBackend::Tokens DittoBackend::input_tokens(const std::vector<int32_t>& ids) {
  auto [s0, s1] = client_.take_input();
  const size_t t = ids.size();
  Tokens out;
  if (input_ == TokenInput::secret_ids) {
    if (s0.size() != t)
      throw std::runtime_error("Ditto backend: the client sent " + std::to_string(s0.size()) + " token shares, expected " +
                               std::to_string(t));
    out.ids = mpc::AShare<uint64_t>(Shape{int64_t(t)});
    out.ids.s0 = std::move(s0), out.ids.s1 = std::move(s1);
  } else {
    if (t == 0 || s0.empty() || s0.size() % t != 0)
      throw std::runtime_error("Ditto backend: the client sent " + std::to_string(s0.size()) +
                               " one-hot elements, not a whole row for each of " + std::to_string(t) + " tokens");
    out.onehot = mpc::AShare<uint64_t>(Shape{int64_t(t), int64_t(s0.size() / t)});
    out.onehot.s0 = std::move(s0), out.onehot.s1 = std::move(s1);
  }
  return out;
}

int64_t DittoBackend::length(const Tokens& ids) const {
  return ids.onehot.shape.empty() ? int64_t(ids.ids.size()) : ids.onehot.shape.at(0);
}

DittoBackend::Tokens DittoBackend::feed_back(const Tokens& chosen) {
  if (input_ == TokenInput::secret_ids) return chosen;
  return input_tokens(std::vector<int32_t>(size_t(length(chosen)), 0));
}

// ids (T), table (V,C) -> (T,C) on the embedding's ring: one-hot rows (integers; the low 32 bits
// of the 64-bit shares on FM32) times the table, then cast to the embedding's fraction bits.
RingTensor DittoBackend::embed(const Tokens& ids, const RingTensor& table) {
  net::Link::Scope scope(ctx_.link(), "embedding");
  layer_.reset();
  const OpFormat& fmt = format(PlanOp::embedding);
  RingTensor w = weight_on(table, fmt.ring);
  if (w.ring != fmt.ring) w = to(w, fmt.ring, w.frac_bits);
  const int64_t v = w.shape.at(0);
  if (!ids.onehot.shape.empty() && ids.onehot.shape.at(1) != v)
    throw std::runtime_error("Ditto backend: the client's one-hot rows have " + std::to_string(ids.onehot.shape.at(1)) +
                             " columns, the embedding table has " + std::to_string(v) + " rows");
  RingTensor z = on_ring(w, [&](const auto& tab) {
    using T = elem_t<decltype(tab)>;
    mpc::AShare<T> hot;
    if constexpr (sizeof(T) == 4) {
      hot = ids.onehot.shape.empty() ? fxp::onehot(ctx_, mpc::low32_a(ids.ids), v) : mpc::low32_a(ids.onehot);
    } else {
      hot = ids.onehot.shape.empty() ? fxp::onehot(ctx_, ids.ids, v) : ids.onehot;
    }
    return RingTensor::of(mpc::matmul_aa(ctx_, hot, tab), w.frac_bits);
  });
  return to(z, fmt.ring, fmt.frac_bits);
}

// ---- linear maps

bool DittoBackend::attention_above_linear_ring() const {
  return format(PlanOp::attention).ring == Ring::FM64 && format(PlanOp::linear).ring == Ring::FM32;
}

bool DittoBackend::scores_on_fm32(const RingTensor& a, const RingTensor& b) const {
  const int f_lin = format(PlanOp::linear).frac_bits;
  return attention_above_linear_ring() && a.ring == Ring::FM64 && b.ring == Ring::FM64 && a.frac_bits <= f_lin &&
         b.frac_bits <= f_lin && a.frac_bits + b.frac_bits <= kMaxFm32ScoreFracBits;
}

RingTensor DittoBackend::product(const RingTensor& a, const RingTensor& b, bool b_transposed) {
  const bool weighted = !b.weight.empty();
  PlanOp op = PlanOp::attention;
  if (weighted) {
    op = is_head_weight(b.weight) ? PlanOp::lm_head : PlanOp::linear;
    layer_ = layer_of(b.weight);
  }
  net::Link::Scope scope(ctx_.link(), std::string(plan_op_name(op)));
  // q·kᵀ of operands on the linear layers' grid (split_heads) runs on FM32, on their free and exact
  // low halves: the scores come out exact at 2f bits (half the bytes of the FM64 product and no
  // truncation), and softmax up-casts them. Range: |q·k|·2^(2f) < 2^29, which the calibration
  // checks (tools/distill.py, "scores q.k on the linear ring").
  if (!weighted && scores_on_fm32(a, b)) {
    const mpc::AShare<uint32_t> x = mpc::downcast_local_a(ctx_, a.a64, 0), y = mpc::downcast_local_a(ctx_, b.a64, 0);
    return RingTensor::of(product_on<uint32_t>(ctx_, x, y, b_transposed), a.frac_bits + b.frac_bits);
  }
  const OpFormat& fmt = format(op);
  const RingTensor x = to(a, fmt.ring, fmt.frac_bits);
  RingTensor y = weighted ? weight_on(b, fmt.ring) : to(b, fmt.ring, fmt.frac_bits);
  if (y.ring != fmt.ring) y = to(y, fmt.ring, std::min(y.frac_bits, ring_bits(fmt.ring) - 2));
  return on_ring(x, [&](const auto& xa) {
    using T = elem_t<decltype(xa)>;
    return RingTensor::of(product_on<T>(ctx_, xa, y.share<T>(), b_transposed), x.frac_bits + y.frac_bits);
  });
}

RingTensor DittoBackend::matmul(const RingTensor& a, const RingTensor& b) { return product(a, b, false); }
RingTensor DittoBackend::matmul_nt(const RingTensor& a, const RingTensor& b) { return product(a, b, true); }

RingTensor DittoBackend::add(const RingTensor& a, const RingTensor& b) {
  if (a.shape != b.shape)
    throw std::invalid_argument("Ditto backend: add of " + shape_str(a.shape) + " and " + shape_str(b.shape));
  net::Link::Scope scope(ctx_.link(), "residual");
  // Rows of an embedding table (GPT-2's position rows) are embedding lookups: on the embedding's
  // grid first, as the one-hot product is (docs/DITTO.md, the contract's step 4).
  const OpFormat& emb = format(PlanOp::embedding);
  auto lookup = [&](const RingTensor& t) { return t.weight.empty() ? t : to(t, emb.ring, emb.frac_bits); };
  const OpFormat& fmt = format(PlanOp::residual);
  const RingTensor x = to(lookup(a), fmt.ring, fmt.frac_bits), y = to(lookup(b), fmt.ring, fmt.frac_bits);
  return on_ring(x, [&](const auto& xa) {
    using T = elem_t<decltype(xa)>;
    return RingTensor::of(mpc::add_aa(xa, y.share<T>()), fmt.frac_bits);
  });
}

// The bias joins x at x's fraction bits (a product's f + f_W): exact.
RingTensor DittoBackend::add_bias(const RingTensor& x, const RingTensor& bias) {
  if (!bias.weight.empty()) layer_ = layer_of(bias.weight);
  RingTensor b = weight_on(bias, x.ring);
  b = gather(to(b, x.ring, x.frac_bits), broadcast_last_map(x.shape, bias.shape.at(0)));
  return on_ring(x, [&](const auto& xa) {
    using T = elem_t<decltype(xa)>;
    return RingTensor::of(mpc::add_aa(xa, b.share<T>()), x.frac_bits);
  });
}

// A power of two moves the binary point; another constant is a public product at the attention
// op's fraction bits (its only use in GPT-2 is the scores), truncated by a later cast.
RingTensor DittoBackend::scale(const RingTensor& x, double c) {
  int e = 0;
  const double m = std::frexp(std::abs(c), &e);
  if (c != 0 && m == 0.5) {  // |c| = 2^(e − 1)
    const int s = 1 - e;     // x·c = ±x / 2^s
    RingTensor y = on_ring(x, [&](const auto& a) {
      auto v = s >= 0 ? a : mpc::shl_a(a, -s);
      return RingTensor::of(c < 0 ? mpc::neg_a(v) : v, x.frac_bits + std::max(s, 0));
    });
    return y;
  }
  const OpFormat& fmt = format(PlanOp::attention);
  const RingTensor y = to(x, fmt.ring, std::min(x.frac_bits, fmt.frac_bits));
  return on_ring(y, [&](const auto& a) {
    using T = elem_t<decltype(a)>;
    return RingTensor::of(mpc::mul_ap(a, std::vector<T>{fxp_encode<T>(c, fmt.frac_bits)}), y.frac_bits + fmt.frac_bits);
  });
}

// ---- non-linear maps

RingTensor DittoBackend::layernorm(const RingTensor& x, const RingTensor& gamma, const RingTensor& beta, double eps) {
  if (!gamma.weight.empty()) layer_ = layer_of(gamma.weight);
  net::Link::Scope scope(ctx_.link(), "layernorm");
  const OpFormat& fmt = format(PlanOp::layernorm);
  const RingTensor xs = to(x, fmt.ring, fmt.frac_bits);
  const RingTensor g = to(weight_on(gamma, fmt.ring), fmt.ring, fmt.frac_bits);
  const RingTensor b = to(weight_on(beta, fmt.ring), fmt.ring, fmt.frac_bits);
  // The output's consumers (linear layers and the head; BERT's residual stream) truncate it anyway
  // when they run on the other ring (the free down-cast): leave the last product untruncated.
  const bool wide = fmt.ring == Ring::FM64 && format(PlanOp::linear).ring == Ring::FM32 &&
                    format(PlanOp::lm_head).ring == Ring::FM32 && format(PlanOp::residual).ring == Ring::FM32;
  return on_ring(xs, [&](const auto& a) {
    using T = elem_t<decltype(a)>;
    if (wide) return RingTensor::of(fxp::f_layernorm_wide(ctx_, a, g.share<T>(), b.share<T>(), eps), 2 * fmt.frac_bits);
    return RingTensor::of(fxp::f_layernorm(ctx_, a, g.share<T>(), b.share<T>(), eps), fmt.frac_bits);
  });
}

RingTensor DittoBackend::activation(const RingTensor& x, model::Activation act) {
  if (act != model::Activation::gelu_erf && act != model::Activation::gelu_tanh)
    throw std::invalid_argument("Ditto backend: a precision plan covers GeLU activations only");
  net::Link::Scope scope(ctx_.link(), "activation");
  const OpFormat& fmt = format(PlanOp::gelu);
  const RingTensor xs = to(x, fmt.ring, fmt.frac_bits);
  return on_ring(xs, [&](const auto& a) {
    if (fmt.approx == GeluApprox::quad) return RingTensor::of(fxp::f_quad_gelu(ctx_, a, fmt.frac_bits), fmt.frac_bits);
    return RingTensor::of(fxp::f_gelu(ctx_, a), fmt.frac_bits);  // puma (exact is refused up front)
  });
}

// tanh(x) = 2·sigmoid(2x) − 1 (BERT's pooler).
RingTensor DittoBackend::tanh(const RingTensor& x) {
  net::Link::Scope scope(ctx_.link(), "activation");
  const OpFormat& fmt = format(PlanOp::tanh);
  const RingTensor xs = to(x, fmt.ring, fmt.frac_bits);
  return on_ring(xs, [&](const auto& a) {
    using T = elem_t<decltype(a)>;
    const auto s = fxp::f_sigmoid(ctx_, mpc::shl_a(a, 1));
    return RingTensor::of(mpc::add_ap(ctx_, mpc::shl_a(s, 1), std::vector<T>{fxp_encode<T>(-1.0, fmt.frac_bits)}),
                          fmt.frac_bits);
  });
}

RingTensor DittoBackend::softmax(const RingTensor& x, bool causal) {
  net::Link::Scope scope(ctx_.link(), "softmax");
  const OpFormat& fmt = format(PlanOp::softmax);
  fxp::SoftmaxOptions opt;
  const RingTensor xs = softmax_input(x, causal, &opt);
  return on_ring(xs, [&](const auto& a) { return RingTensor::of(fxp::f_softmax(ctx_, a, opt), fmt.frac_bits); });
}

// Scores on FM32 (q·kᵀ, see product) under an FM64 softmax: the row maximum is taken and
// subtracted on FM32, where the scores are (exact comparisons; the selections on 4-byte elements),
// and x − max is up-cast. Range: |x|·2^f < 2^29 (the calibration's FM32 limit with its margin
// bit), so x − max, masked entries included, stays within the up-cast's [−2^30, 2^30).
RingTensor DittoBackend::softmax_input(const RingTensor& x, bool causal, fxp::SoftmaxOptions* opt) {
  const OpFormat& fmt = format(PlanOp::softmax);
  opt->causal = causal;
  opt->max_subtracted = x.ring == Ring::FM32 && fmt.ring == Ring::FM64;
  if (!opt->max_subtracted) return to(x, fmt.ring, fmt.frac_bits);
  const mpc::AShare<uint32_t> xm = causal ? fxp::mask_causal(ctx_, x.a32) : x.a32;
  // Comparisons at 1/64 resolution, as on FM64 (f_softmax): the window above them only.
  const mpc::AShare<uint32_t> m = fxp::max_last(ctx_, xm, std::clamp(x.frac_bits - 6, 0, 30));
  const mpc::AShare<uint32_t> shifted = mpc::sub_aa(xm, mpc::repeat_each(m, x.shape.back(), x.shape));
  opt->range_bits = std::clamp(30 - x.frac_bits, 4, 24);  // |x − max|·2^f < 2^30
  return to(RingTensor::of(shifted, x.frac_bits), fmt.ring, fmt.frac_bits);
}

// (e·v)·r by fxp::f_normalise_product: attention outputs need |y| < 2^18 there (max|v| bounds it;
// the calibration checks it, tools/distill.py "probs.v accumulator").
RingTensor DittoBackend::attend(const RingTensor& scores, const RingTensor& v, bool causal) {
  const OpFormat& sm = format(PlanOp::softmax);
  const OpFormat& att = format(PlanOp::attention);
  const int64_t n = scores.shape.back(), d = v.shape.back();
  if (n <= d || sm.ring != Ring::FM64 || att.ring != Ring::FM64) return matmul(softmax(scores, causal), v);
  fxp::SoftmaxParts<uint64_t> parts;
  {
    net::Link::Scope scope(ctx_.link(), "softmax");
    fxp::SoftmaxOptions opt;
    parts = fxp::f_softmax_parts(ctx_, softmax_input(scores, causal, &opt).a64, opt);  // e (..., T, N), r (..., T)
  }
  net::Link::Scope scope(ctx_.link(), "attention");
  const RingTensor vv = v.ring == Ring::FM64 ? v : to(v, Ring::FM64, att.frac_bits);
  const mpc::AShare<uint64_t> ev = product_on<uint64_t>(ctx_, parts.e, vv.a64, false);  // (..., T, D) at F + f_v
  return RingTensor::of(fxp::f_normalise_product(ctx_, ev, sm.frac_bits + vv.frac_bits, parts.r, sm.frac_bits, att.frac_bits),
                        att.frac_bits);
}

// ---- layout (local)

// Queries, keys and values go to the attention's ring; under Ditto's shape they keep the linear
// layers' fraction bits there (more would only append zero bits), so that q·kᵀ fits FM32 (product).
RingTensor DittoBackend::split_heads(const RingTensor& x, int64_t heads) {
  const OpFormat& fmt = format(PlanOp::attention);
  const int f = attention_above_linear_ring() ? std::min(fmt.frac_bits, format(PlanOp::linear).frac_bits) : fmt.frac_bits;
  RingTensor y;
  {
    net::Link::Scope scope(ctx_.link(), "attention");
    y = to(x, fmt.ring, f);
  }
  return gather(y, split_heads_map(y.shape, heads));
}
RingTensor DittoBackend::merge_heads(const RingTensor& x) { return gather(x, merge_heads_map(x.shape)); }
RingTensor DittoBackend::slice_rows(const RingTensor& x, int64_t begin, int64_t n) {
  std::vector<int64_t> rows(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = begin + i;
  return select_rows(x, rows);
}
RingTensor DittoBackend::select_rows(const RingTensor& x, const std::vector<int64_t>& rows) {
  return gather(x, select_rows_map(x.shape, rows));
}
RingTensor DittoBackend::concat_rows(const RingTensor& a, const RingTensor& b) {
  const RingTensor bb = to(b, a.ring, a.frac_bits);
  return on_ring(a, [&](const auto& x) {
    using T = elem_t<decltype(x)>;
    const auto both = mpc::concat<T>({&x, &bb.share<T>()});
    const IndexMap m = concat_rows_map(a.shape, b.shape);
    return RingTensor::of(mpc::gather(both, m.idx, m.shape), a.frac_bits);
  });
}

// ---- outputs

DittoBackend::Tokens DittoBackend::argmax(const RingTensor& logits) {
  net::Link::Scope scope(ctx_.link(), "argmax");
  Tokens out;
  if (logits.ring == Ring::FM32) out.ids = mpc::upcast_a(ctx_, fxp::argmax_last(ctx_, logits.a32).second, 0);
  else out.ids = fxp::argmax_last(ctx_, logits.a64).second;
  return out;
}

std::vector<int32_t> DittoBackend::reveal_tokens(const Tokens& ids) {
  if (ids.ids.shape.empty()) throw std::logic_error("Ditto backend: reveal_tokens needs ids (an argmax result)");
  client_.give_output({ids.ids.s0, ids.ids.s1});
  return {};
}

veil::Tensor<float> DittoBackend::reveal_to_client(const RingTensor& x) {
  const RingTensor y = to(x, Ring::FM64, output_frac_bits());
  client_.give_output({y.a64.s0, y.a64.s1});
  return {};
}

}  // namespace veil::nn
