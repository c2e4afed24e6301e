#include "veil/mpc/io.h"

#include <stdexcept>

#include "veil/mpc/instantiate.h"

namespace veil::mpc {

// Owner p: x_p from s_{p−1} (shared with p−1), x_{p+1} from s_p (shared with p+1),
// x_{p+2} = x − x_p − x_{p+1} sent to both peers.
template <class T>
AShare<T> share_input(Context& ctx, int owner, const Tensor<T>& x, const Shape& shape) {
  if (owner < 0 || owner > 2) throw std::invalid_argument("share_input: owner must be 0, 1 or 2");
  net::Link::Scope scope(ctx.link(), "share_input");
  AShare<T> out(shape);
  const size_t n = out.size();
  if (ctx.id() == owner) {
    if (x.size() != n)
      throw std::invalid_argument("share_input: input has shape " + shape_str(x.shape) +
                                  ", expected " + shape_str(shape));
    out.s0 = ctx.prg_prev().draw<T>(n);
    out.s1 = ctx.prg_next().draw<T>(n);
    std::vector<T> last(n);
    for (size_t i = 0; i < n; ++i) last[i] = x.data[i] - out.s0[i] - out.s1[i];
    ctx.link().send(ctx.next(), last);
    ctx.link().send(ctx.prev(), last);
  } else if (ctx.id() == (owner + 1) % 3) {  // holds (x_{p+1}, x_{p+2})
    out.s0 = ctx.prg_prev().draw<T>(n);
    ctx.link().recv(owner, out.s1);
  } else {                                   // holds (x_{p+2}, x_p)
    out.s1 = ctx.prg_next().draw<T>(n);
    ctx.link().recv(owner, out.s0);
  }
  return out;
}
template <class T> Cost cost_share_input(int64_t n) {
  const int64_t e = sizeof(T);
  return {1, 2 * n * e, 2 * n * e};
}

template <class T> AShare<T> share_public(Context& ctx, const Tensor<T>& v) {
  AShare<T> out(v.shape);
  if (ctx.id() == 0) out.s0 = v.data;
  if (ctx.id() == 2) out.s1 = v.data;
  return out;
}

template <class T>
std::array<std::pair<std::vector<T>, std::vector<T>>, 3> client_split(const std::vector<T>& x, Prg& prg) {
  const size_t n = x.size();
  std::vector<T> c0 = prg.draw<T>(n), c1 = prg.draw<T>(n), c2(n);
  for (size_t i = 0; i < n; ++i) c2[i] = x[i] - c0[i] - c1[i];
  return {std::pair{c0, c1}, std::pair{c1, c2}, std::pair{c2, c0}};
}

template <class T>
std::vector<T> client_reconstruct(const std::array<std::pair<std::vector<T>, std::vector<T>>, 3>& pairs) {
  const size_t n = pairs[0].first.size();
  for (int i = 0; i < 3; ++i) {
    const auto& [a, b] = pairs[size_t(i)];
    const auto& next_first = pairs[size_t((i + 1) % 3)].first;
    if (a.size() != n || b.size() != n)
      throw std::invalid_argument("client_reconstruct: parties sent results of different sizes");
    if (b != next_first)  // party i's second component must equal party i+1's first
      throw std::runtime_error("client_reconstruct: party " + std::to_string(i) + " and party " +
                               std::to_string((i + 1) % 3) + " disagree on a shared component");
  }
  std::vector<T> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = pairs[0].first[i] + pairs[1].first[i] + pairs[2].first[i];
  return x;
}

// Party `to` holds (x_to, x_{to+1}) and misses x_{to+2}, which party to+1 holds as s1.
template <class T> Tensor<T> reveal_to(Context& ctx, int to, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "reveal_to");
  if (ctx.id() == (to + 1) % 3) ctx.link().send(to, x.s1);
  if (ctx.id() != to) return {};
  std::vector<T> third(x.size());
  ctx.link().recv((to + 1) % 3, third);
  Tensor<T> out(x.shape);
  for (size_t i = 0; i < x.size(); ++i) out.data[i] = x.s0[i] + x.s1[i] + third[i];
  return out;
}
template <class T> Cost cost_reveal_to(int64_t n) {
  const int64_t e = sizeof(T);
  return {1, n * e, n * e};
}

template <class T> Tensor<T> reveal_all(Context& ctx, const AShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "reveal_all");
  ctx.link().send(ctx.prev(), x.s1);  // party i−1 misses x_{i+1}
  std::vector<T> third(x.size());
  ctx.link().recv(ctx.next(), third);
  Tensor<T> out(x.shape);
  for (size_t i = 0; i < x.size(); ++i) out.data[i] = x.s0[i] + x.s1[i] + third[i];
  return out;
}
template <class T> Cost cost_reveal_all(int64_t n) {
  const int64_t e = sizeof(T);
  return {1, n * e, 3 * n * e};
}

template <class T> Tensor<T> reveal_all_b(Context& ctx, const BShare<T>& x) {
  net::Link::Scope scope(ctx.link(), "reveal_all_b");
  ctx.link().send(ctx.prev(), x.s1);  // party i−1 misses x_{i+1}
  std::vector<T> third(x.size());
  ctx.link().recv(ctx.next(), third);
  const T mask = x.nbits >= int(sizeof(T) * 8) ? T(~T(0)) : T((T(1) << x.nbits) - 1);
  Tensor<T> out(x.shape);
  for (size_t i = 0; i < x.size(); ++i) out.data[i] = (x.s0[i] ^ x.s1[i] ^ third[i]) & mask;
  return out;
}

void sync_parties(Context& ctx) {
  net::Link::Scope scope(ctx.link(), "sync");
  for (int r = 0; r < 2; ++r) {
    ctx.link().send(ctx.next(), nullptr, 0);
    ctx.link().send(ctx.prev(), nullptr, 0);
    ctx.link().recv(ctx.next(), nullptr, 0);
    ctx.link().recv(ctx.prev(), nullptr, 0);
  }
}

#define INST(T)                                                                                   \
  template AShare<T> share_input(Context&, int, const Tensor<T>&, const Shape&);                  \
  template Cost cost_share_input<T>(int64_t);                                                     \
  template AShare<T> share_public(Context&, const Tensor<T>&);                                    \
  template std::array<std::pair<std::vector<T>, std::vector<T>>, 3> client_split(const std::vector<T>&, Prg&); \
  template std::vector<T> client_reconstruct(const std::array<std::pair<std::vector<T>, std::vector<T>>, 3>&); \
  template Tensor<T> reveal_to(Context&, int, const AShare<T>&);                                  \
  template Cost cost_reveal_to<T>(int64_t);                                                       \
  template Tensor<T> reveal_all(Context&, const AShare<T>&);                                      \
  template Cost cost_reveal_all<T>(int64_t);                                                      \
  template Tensor<T> reveal_all_b(Context&, const BShare<T>&);
VEIL_FOR_RINGS(INST)
#undef INST

}  // namespace veil::mpc
