// TCP transport with three parties as threads of this process, plaintext and TLS: frames
// round-trip, large simultaneous sends do not deadlock, a peer that leaves or stalls gives a
// clear error on the others.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "net/net_test_util.h"
#include "veil/net/certs.h"
#include "veil/net/link.h"

namespace veil::net {
namespace {

using namespace std::chrono_literals;
using namespace veil::net::testing;

class TcpTransportTest : public ::testing::TestWithParam<bool> {  // param: TLS on
 protected:
  void SetUp() override {
    if (tls()) write_party_certs(certs_.path());
  }
  bool tls() const { return GetParam(); }
  TcpOptions options(int party) const {
    TcpOptions o;
    o.tls = tls();
    if (tls()) o.tls_files = party_cert_files(certs_.path(), party);
    o.setup_timeout = 10s;
    return o;
  }
  Connected connect() {
    Connected c = connect_three(free_loopback_endpoints(), [&](int i) { return options(i); });
    for (int i = 0; i < 3; ++i) EXPECT_EQ(c.errors[size_t(i)], "") << "party " << i;
    return c;
  }
  TempDir certs_;
};

Frame pattern(size_t n, uint8_t seed) {
  Frame f(n);
  for (size_t i = 0; i < n; ++i) f[i] = uint8_t(seed + i * 31);
  return f;
}

TEST_P(TcpTransportTest, FramesRoundTripInOrder) {
  Connected c = connect();
  ASSERT_TRUE(c.transports[0] && c.transports[1] && c.transports[2]);
  const std::array<size_t, 4> sizes{0, 1, 70000, 5};
  for (int from = 0; from < 3; ++from)
    for (int to = 0; to < 3; ++to) {
      if (from == to) continue;
      for (size_t k = 0; k < sizes.size(); ++k)
        c.transports[size_t(from)]->send_frame(to, pattern(sizes[k], uint8_t(10 * from + to + k)));
    }
  for (int to = 0; to < 3; ++to)
    for (int from = 0; from < 3; ++from) {
      if (from == to) continue;
      for (size_t k = 0; k < sizes.size(); ++k) {
        Frame f = c.transports[size_t(to)]->recv_frame(from, 5000ms);
        EXPECT_EQ(f, pattern(sizes[k], uint8_t(10 * from + to + k))) << from << "->" << to << " frame " << k;
      }
    }
}

TEST_P(TcpTransportTest, LargeSimultaneousRingSendsDoNotDeadlock) {
  Connected c = connect();
  ASSERT_TRUE(c.transports[0] && c.transports[1] && c.transports[2]);
  constexpr size_t kBytes = 8 << 20;
  std::array<std::string, 3> errors;
  std::array<std::thread, 3> threads;
  for (int i = 0; i < 3; ++i)
    threads[size_t(i)] = std::thread([&, i] {
      errors[size_t(i)] = link_error_of([&] {
        Transport& t = *c.transports[size_t(i)];
        int next = (i + 1) % 3, prev = (i + 2) % 3;
        t.send_frame(next, pattern(kBytes, uint8_t(i)));
        t.send_frame(prev, pattern(kBytes, uint8_t(i + 100)));
        Frame a = t.recv_frame(prev, 30000ms), b = t.recv_frame(next, 30000ms);
        if (a != pattern(kBytes, uint8_t(prev)) || b != pattern(kBytes, uint8_t(next + 100)))
          throw LinkError("party " + std::to_string(i) + ": payload mismatch");
      });
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(errors[size_t(i)], "") << "party " << i;
}

TEST_P(TcpTransportTest, CountedLinkOverTcp) {
  Connected c = connect();
  ASSERT_TRUE(c.transports[0] && c.transports[1] && c.transports[2]);
  Link a(0, std::move(c.transports[0])), b(1, std::move(c.transports[1]));
  std::vector<uint64_t> v(100, 42), w(100);
  {
    Link::Scope s(a, "op");
    a.send(1, v);
  }
  b.recv(0, w);
  EXPECT_EQ(w, v);
  EXPECT_EQ(a.by_tag().at("op").bytes, 800u);
  EXPECT_EQ(a.by_tag().at("op").rounds, 1u);
}

TEST_P(TcpTransportTest, PeerThatLeavesFailsTheOthersPromptly) {
  Connected c = connect();
  ASSERT_TRUE(c.transports[0] && c.transports[1] && c.transports[2]);
  c.transports[2]->send_frame(0, pattern(3, 0));  // delivered before the disconnect is reported
  std::array<std::string, 2> errors;
  auto start = std::chrono::steady_clock::now();
  std::thread t0([&] {
    errors[0] = link_error_of([&] {
      EXPECT_EQ(c.transports[0]->recv_frame(2, 20000ms), pattern(3, 0));
      c.transports[0]->recv_frame(2, 20000ms);
    });
  });
  std::thread t1([&] { errors[1] = link_error_of([&] { c.transports[1]->recv_frame(2, 20000ms); }); });
  std::this_thread::sleep_for(100ms);
  c.transports[2].reset();
  t0.join();
  t1.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_CONTAINS(errors[0], "party 0: party 2 disconnected");
  EXPECT_CONTAINS(errors[1], "party 1: party 2 disconnected");
  EXPECT_CONTAINS(link_error_of([&] { c.transports[1]->send_frame(2, Frame(4)); }), "party 2 disconnected");
  c.transports[0]->send_frame(1, pattern(9, 9));  // the remaining pair still works
  EXPECT_EQ(c.transports[1]->recv_frame(0, 5000ms), pattern(9, 9));
}

TEST_P(TcpTransportTest, StalledPeerTimesOut) {
  Connected c = connect();
  ASSERT_TRUE(c.transports[0] && c.transports[1] && c.transports[2]);
  EXPECT_CONTAINS(link_error_of([&] { c.transports[0]->recv_frame(1, 200ms); }),
                  "party 0: timed out after 200 ms waiting for party 1");
}

TEST_P(TcpTransportTest, CloseWakesAWaitingReceiver) {
  Connected c = connect();
  ASSERT_TRUE(c.transports[0] && c.transports[1] && c.transports[2]);
  std::string err;
  std::thread waiter([&] { err = link_error_of([&] { c.transports[1]->recv_frame(0, 20000ms); }); });
  std::this_thread::sleep_for(100ms);
  c.transports[1]->close();
  waiter.join();
  EXPECT_CONTAINS(err, "party 1: link closed locally");
}

// An idle party learns that a peer went away without sending or waiting (what a serving party
// checks between sessions), and the link names the peer.
TEST_P(TcpTransportTest, FailureIsVisibleWhileIdle) {
  Connected c = connect();
  ASSERT_TRUE(c.transports[0] && c.transports[1] && c.transports[2]);
  EXPECT_EQ(c.transports[0]->failure(2), "");
  Link link(0, std::move(c.transports[0]));
  EXPECT_EQ(link.failure(), "");
  c.transports[2]->close();
  c.transports[2].reset();
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (link.failure().empty() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_CONTAINS(link.failure(), "party 0: party 2 disconnected");
}

INSTANTIATE_TEST_SUITE_P(Modes, TcpTransportTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Tls" : "Plaintext"; });

}  // namespace
}  // namespace veil::net
