#include "veil/mpc/runtime.h"

#include <algorithm>
#include <exception>
#include <thread>

#include "veil/net/inproc_transport.h"

namespace veil::mpc {

uint64_t PartyTraffic::max_bytes() const {
  return std::max({total[0].bytes, total[1].bytes, total[2].bytes});
}
uint64_t PartyTraffic::sum_bytes() const { return total[0].bytes + total[1].bytes + total[2].bytes; }
uint64_t PartyTraffic::max_rounds() const {
  return std::max({total[0].rounds, total[1].rounds, total[2].rounds});
}

PartyTraffic run_parties(const std::function<void(Context&)>& fn, Config cfg, net::LinkOptions opt) {
  auto transports = net::make_inproc_transports();
  std::array<std::unique_ptr<net::Link>, 3> links;
  for (int i = 0; i < 3; ++i) links[size_t(i)] = std::make_unique<net::Link>(i, std::move(transports[size_t(i)]), opt);
  std::array<std::exception_ptr, 3> errors;
  PartyTraffic out;
  std::array<std::thread, 3> threads;
  for (int i = 0; i < 3; ++i) {
    threads[size_t(i)] = std::thread([&, i] {
      net::Link& link = *links[size_t(i)];
      try {
        Context ctx(link, cfg);
        fn(ctx);
      } catch (...) {
        errors[size_t(i)] = std::current_exception();
        link.close();
      }
      out.total[size_t(i)] = link.total();
      out.by_tag[size_t(i)] = link.by_tag();
    });
  }
  for (auto& t : threads) t.join();
  // Report the root cause first: a party's own error before the link errors it caused elsewhere.
  std::array<int, 3> order{0, 1, 2};
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    auto is_link = [&](int p) {
      try { if (errors[size_t(p)]) std::rethrow_exception(errors[size_t(p)]); }
      catch (const net::LinkError&) { return true; } catch (...) {}
      return false;
    };
    return !is_link(a) && is_link(b);
  });
  for (int i : order) {
    if (!errors[size_t(i)]) continue;
    try {
      std::rethrow_exception(errors[size_t(i)]);
    } catch (const std::exception& e) {
      throw std::runtime_error("party " + std::to_string(i) + " failed: " + e.what());
    }
  }
  return out;
}

}  // namespace veil::mpc
