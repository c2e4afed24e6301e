// Link over the in-process transport: counting per tag, frame-size mismatch, closed peers and
// timeouts all end in a LinkError, never a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "veil/net/inproc_transport.h"
#include "veil/net/link.h"

namespace veil::net {
namespace {

using namespace std::chrono_literals;

std::array<std::unique_ptr<Link>, 3> make_links(std::chrono::milliseconds timeout = 5000ms) {
  auto t = make_inproc_transports();
  std::array<std::unique_ptr<Link>, 3> links;
  for (int i = 0; i < 3; ++i) links[size_t(i)] = std::make_unique<Link>(i, std::move(t[size_t(i)]), LinkOptions{timeout});
  return links;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const LinkError& e) {
    return e.what();
  }
  return "";
}

TEST(Link, CountsBytesMessagesAndRoundsPerNestedTag) {
  auto links = make_links();
  Link& a = *links[0];
  Link& b = *links[1];
  Link& c = *links[2];
  std::vector<uint32_t> v(10, 7), w(10);
  {
    Link::Scope outer(a, "outer");
    {
      Link::Scope inner(a, "inner");  // everyone sends, then receives: one round
      a.send(1, v);
      a.send(2, v);
      b.send(0, v);
      c.send(0, v);
      a.recv(1, w);
      a.recv(2, w);
      b.recv(0, w);
      c.recv(0, w);
    }
    a.send(1, v);  // b's answer depends on this message: two more rounds
    b.recv(0, w);
    b.send(0, w);
    a.recv(1, w);
  }
  EXPECT_EQ(a.total().bytes, 3u * 40);  // payload only: the round stamp is not counted
  EXPECT_EQ(a.total().messages, 3u);
  EXPECT_EQ(a.by_tag().at("inner").bytes, 2u * 40);
  EXPECT_EQ(a.by_tag().at("inner").rounds, 1u);
  EXPECT_EQ(a.by_tag().at("outer").bytes, 3u * 40);
  EXPECT_EQ(a.by_tag().at("outer").messages, 3u);
  EXPECT_EQ(a.by_tag().at("outer").rounds, 3u);
  EXPECT_EQ(a.total().rounds, 3u);
  EXPECT_EQ(b.total().bytes, 2u * 40);
  EXPECT_EQ(b.total().rounds, 3u);
  EXPECT_EQ(c.total().rounds, 1u);
}

TEST(Link, FrameOfUnexpectedSizeIsAClearError) {
  auto links = make_links();
  std::vector<uint64_t> sent(3), want(4);
  links[0]->send(1, sent);
  std::string err = error_of([&] { links[1]->recv(0, want); });
  EXPECT_NE(err.find("party 1: frame from party 0 has 24 payload bytes, expected 32"), std::string::npos) << err;
}

TEST(Link, ClosedPeerFailsTheOthersInsteadOfHanging) {
  auto links = make_links(10000ms);
  std::vector<uint8_t> buf(8);
  std::string err1, err2;
  std::thread t1([&] { err1 = error_of([&] { links[1]->recv(0, buf); }); });
  std::thread t2([&] { err2 = error_of([&] { links[2]->recv(0, buf); }); });
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(50ms);
  links[0]->close();
  t1.join();
  t2.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_NE(err1.find("peer 0 disconnected"), std::string::npos) << err1;
  EXPECT_NE(err2.find("peer 0 disconnected"), std::string::npos) << err2;
  EXPECT_NE(error_of([&] { links[1]->send(0, buf); }).find("disconnected"), std::string::npos);
}

TEST(Link, ReceiveTimesOut) {
  auto links = make_links(100ms);
  std::vector<uint8_t> buf(8);
  std::string err = error_of([&] { links[2]->recv(1, buf); });
  EXPECT_NE(err.find("party 2: timed out after 100 ms waiting for party 1"), std::string::npos) << err;
}

}  // namespace
}  // namespace veil::net
