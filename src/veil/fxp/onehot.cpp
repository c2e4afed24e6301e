#include "veil/fxp/onehot.h"

#include <stdexcept>

#include "veil/mpc/boolean.h"
#include "veil/mpc/instantiate.h"
#include "veil/mpc/layout.h"
#include "veil/mpc/narrow.h"

namespace veil::fxp {

template <class T> AShare<T> onehot(Context& ctx, const AShare<T>& idx, int64_t V) {
  net::Link::Scope scope(ctx.link(), "onehot");
  if (V <= 0) throw std::invalid_argument("onehot: V must be positive, got " + std::to_string(V));
  Shape out = idx.shape;
  out.push_back(V);
  std::vector<T> values(idx.size() * size_t(V));
  for (size_t i = 0; i < values.size(); ++i) values[i] = T(int64_t(i) % V);
  const AShare<T> rep = mpc::repeat_each(idx, V, out);
  if constexpr (sizeof(T) == 8) {
    if (V <= (int64_t(1) << 31)) return mpc::eq_ap_via32(ctx, rep, values);  // ids fit 32 bits
  }
  return mpc::eq_ap(ctx, rep, values);
}

#define X(T) template AShare<T> onehot(Context&, const AShare<T>&, int64_t);
VEIL_FOR_RINGS(X)
#undef X

}  // namespace veil::fxp
