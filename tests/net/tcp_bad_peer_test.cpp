// A misbehaving peer, played by raw sockets against party 0 (plaintext): truncated frames,
// oversized or corrupt headers, garbage hellos and disconnects give clear errors, never a hang.
#include <gtest/gtest.h>
#include <unistd.h>

#include <future>

#include "net/net_test_util.h"
#include "veil/net/wire.h"

namespace veil::net {
namespace {

using namespace std::chrono_literals;
using namespace veil::net::testing;

class TcpBadPeerTest : public ::testing::Test {
 protected:
  TcpOptions options() const {
    TcpOptions o;
    o.tls = false;
    o.setup_timeout = 5s;
    o.max_frame_bytes = 1 << 20;
    return o;
  }
  // Starts party 0 and connects raw sockets as parties 1 and 2, completing both hellos.
  std::unique_ptr<Transport> start_party0() {
    auto party0 = std::async(std::launch::async, [&] { return connect_tcp(0, peers_, options()); });
    for (int j = 1; j <= 2; ++j) {
      raw_[size_t(j)] = raw_connect(peers_[0]);
      wire::Hello mine = wire::make_hello(uint32_t(j)), theirs{};
      raw_send(raw_[size_t(j)], &mine, sizeof mine);
      EXPECT_TRUE(raw_recv_exact(raw_[size_t(j)], &theirs, sizeof theirs));
      EXPECT_EQ(wire::read_hello(theirs)->party, 0u);
    }
    return party0.get();
  }
  void send_header(int j, uint64_t length) {
    wire::FrameHeader h = wire::make_frame_header(length);
    raw_send(raw_[size_t(j)], &h, sizeof h);
  }
  void TearDown() override {
    for (int fd : raw_)
      if (fd >= 0) ::close(fd);
  }
  std::array<Endpoint, 3> peers_ = free_loopback_endpoints();
  std::array<int, 3> raw_{-1, -1, -1};
};

TEST_F(TcpBadPeerTest, TruncatedFrame) {
  auto t = start_party0();
  send_header(1, 100);
  raw_send(raw_[1], "0123456789", 10);
  ::close(raw_[1]);
  raw_[1] = -1;
  EXPECT_CONTAINS(link_error_of([&] { t->recv_frame(1, 5000ms); }),
                  "party 0: truncated frame from party 1: connection closed after 10 of 100 payload bytes");
}

TEST_F(TcpBadPeerTest, TruncatedHeader) {
  auto t = start_party0();
  raw_send(raw_[2], "VFR", 3);
  ::close(raw_[2]);
  raw_[2] = -1;
  EXPECT_CONTAINS(link_error_of([&] { t->recv_frame(2, 5000ms); }),
                  "party 0: truncated frame from party 2: connection closed after 3 of 12 header bytes");
}

TEST_F(TcpBadPeerTest, OversizedFrameIsRejectedBeforeAllocating) {
  auto t = start_party0();
  send_header(1, uint64_t{1} << 40);
  EXPECT_CONTAINS(link_error_of([&] { t->recv_frame(1, 5000ms); }),
                  "party 0: oversized frame from party 1: header announces 1099511627776 bytes, the limit is 1048576");
  EXPECT_CONTAINS(link_error_of([&] { t->send_frame(1, Frame(1)); }), "oversized frame");
}

TEST_F(TcpBadPeerTest, CorruptFrameHeader) {
  auto t = start_party0();
  raw_send(raw_[1], "garbage-bytes-here", 18);
  EXPECT_CONTAINS(link_error_of([&] { t->recv_frame(1, 5000ms); }), "party 0: corrupt frame header from party 1");
}

TEST_F(TcpBadPeerTest, DisconnectBetweenFramesAfterDeliveringThem) {
  auto t = start_party0();
  send_header(2, 4);
  raw_send(raw_[2], "abcd", 4);
  ::close(raw_[2]);
  raw_[2] = -1;
  EXPECT_EQ(t->recv_frame(2, 5000ms), (Frame{'a', 'b', 'c', 'd'}));
  EXPECT_CONTAINS(link_error_of([&] { t->recv_frame(2, 5000ms); }), "party 0: party 2 disconnected");
}

TEST_F(TcpBadPeerTest, FramesFromTheGoodPeerStillFlowWhileOneStalls) {
  auto t = start_party0();
  send_header(1, 2);
  raw_send(raw_[1], "ok", 2);
  EXPECT_EQ(t->recv_frame(1, 5000ms), (Frame{'o', 'k'}));
  EXPECT_CONTAINS(link_error_of([&] { t->recv_frame(2, 150ms); }), "timed out after 150 ms waiting for party 2");
  t->send_frame(2, Frame{'h', 'i'});
  wire::FrameHeader h{};
  char body[2];
  ASSERT_TRUE(raw_recv_exact(raw_[2], &h, sizeof h));
  ASSERT_TRUE(raw_recv_exact(raw_[2], body, 2));
  EXPECT_EQ(wire::read_frame_header(h), 2u);
  EXPECT_EQ(std::string(body, 2), "hi");
}

TEST_F(TcpBadPeerTest, GarbageHello) {
  auto party0 = std::async(std::launch::async, [&] { return link_error_of([&] { connect_tcp(0, peers_, options()); }); });
  raw_[1] = raw_connect(peers_[0]);
  raw_send(raw_[1], "GET / HTTP/1.1\r\n\r\n", 18);
  EXPECT_CONTAINS(party0.get(), "party 0: garbage hello from the connection from 127.0.0.1:");
}

TEST_F(TcpBadPeerTest, ProtocolVersionMismatch) {
  auto party0 = std::async(std::launch::async, [&] { return link_error_of([&] { connect_tcp(0, peers_, options()); }); });
  raw_[1] = raw_connect(peers_[0]);
  wire::Hello h = wire::make_hello(1, 99);
  raw_send(raw_[1], &h, sizeof h);
  EXPECT_CONTAINS(party0.get(), "speaks protocol version 99, this build speaks 1");
}

TEST_F(TcpBadPeerTest, UnexpectedPartyId) {
  auto party0 = std::async(std::launch::async, [&] { return link_error_of([&] { connect_tcp(0, peers_, options()); }); });
  raw_[1] = raw_connect(peers_[0]);
  wire::Hello h = wire::make_hello(0);
  raw_send(raw_[1], &h, sizeof h);
  EXPECT_CONTAINS(party0.get(), "claims to be party 0");
}

TEST_F(TcpBadPeerTest, SilentConnectionHitsTheSetupDeadline) {
  TcpOptions o = options();
  o.setup_timeout = 300ms;
  auto party0 = std::async(std::launch::async, [&] { return link_error_of([&] { connect_tcp(0, peers_, o); }); });
  raw_[1] = raw_connect(peers_[0]);  // connects, then says nothing
  std::string err = party0.get();
  EXPECT_CONTAINS(err, "party 0: hello from the connection from 127.0.0.1:");
  EXPECT_CONTAINS(err, "timed out");
}

TEST_F(TcpBadPeerTest, NobodyConnectsNamesTheMissingParties) {
  TcpOptions o = options();
  o.setup_timeout = 200ms;
  EXPECT_CONTAINS(link_error_of([&] { connect_tcp(0, peers_, o); }),
                  "party 0: timed out after 200 ms waiting for party 1 and party 2 to connect");
  EXPECT_CONTAINS(link_error_of([&] { connect_tcp(2, peers_, o); }), "party 2: could not connect to party 0 at 127.0.0.1:");
}

}  // namespace
}  // namespace veil::net
