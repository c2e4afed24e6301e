#include "veil/mpc/context.h"

namespace veil::mpc {

namespace {
Seed exchange_seed(net::Link& link, const Seed& mine) {
  net::Link::Scope scope(link, "setup");
  link.send(link.next(), mine.data(), mine.size());
  Seed from_prev;
  link.recv(link.prev(), from_prev.data(), from_prev.size());
  return from_prev;
}
}  // namespace

Context::Context(net::Link& link, Config cfg)
    : link_(link), cfg_(cfg), prg_own_(random_seed()), prg_next_(random_seed()),
      prg_prev_(Seed{}) {
  Seed s_next = random_seed();
  prg_next_ = Prg(s_next);
  prg_prev_ = Prg(exchange_seed(link, s_next));
}

}  // namespace veil::mpc
