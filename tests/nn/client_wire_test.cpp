// The client's messages (mpc/client_wire.h; tested here because tests/mpc belongs to the kernel
// suites): the seeded split reconstructs, party 0 receives only seeds, malformed messages are
// refused, and the in-process port counts the encoded bytes.
#include <gtest/gtest.h>

#include "veil/mpc/client_port.h"
#include "veil/mpc/client_wire.h"
#include "veil/mpc/io.h"

namespace veil::mpc {
namespace {

TEST(ClientWire, SeededSplitReconstructsAndSendsOneExplicitComponent) {
  Prg prg(random_seed());
  const std::vector<uint64_t> x = {0, 1, 2, ~uint64_t{0}, 12345, 1};
  auto wire = client_split_seeded(x, prg);
  std::array<SharePair, 3> pairs;
  for (int i = 0; i < 3; ++i) pairs[size_t(i)] = expand(decode_input(encode_input(wire[size_t(i)]), 100, "test"));
  EXPECT_EQ(client_reconstruct(pairs), x);
  EXPECT_EQ(encode_input(wire[0]).size(), 1 + 8 + 2 + 32u);  // two seeds, whatever n is
  EXPECT_EQ(encode_input(wire[1]).size(), 1 + 8 + 2 + 16 + 8 * x.size());
  EXPECT_EQ(encode_input(wire[2]).size(), 1 + 8 + 2 + 16 + 8 * x.size());
  EXPECT_NE(pairs[1].second, x);  // x_2 is masked
}

// An input used only on Z_2^32 (one-hot rows for an FM32 embedding): its explicit component
// travels as u32, half the bytes, and the pairs share x modulo 2^32.
TEST(ClientWire, SplitModulo2To32HalvesTheExplicitComponent) {
  Prg prg(random_seed());
  const std::vector<uint64_t> x = {0, 1, 0, 0xFFFFFFFFull, 12345, 1};
  auto wire = client_split_seeded(x, prg, 32);
  std::array<SharePair, 3> pairs;
  for (int i = 0; i < 3; ++i) pairs[size_t(i)] = expand(decode_input(encode_input(wire[size_t(i)]), 100, "test"));
  std::vector<uint64_t> low = client_reconstruct(pairs);
  for (uint64_t& v : low) v &= 0xFFFFFFFFull;
  EXPECT_EQ(low, x);
  EXPECT_EQ(encode_input(wire[0]).size(), 1 + 8 + 2 + 32u);
  EXPECT_EQ(encode_input(wire[1]).size(), 1 + 8 + 2 + 16 + 4 * x.size());
  EXPECT_EQ(encode_input(wire[2]).size(), 1 + 8 + 2 + 16 + 4 * x.size());
  for (uint64_t v : pairs[1].second) EXPECT_EQ(v >> 32, 0u);  // read back with zero high halves
  std::vector<uint8_t> m = encode_input(wire[1]);
  m.pop_back();
  EXPECT_THROW(decode_input(m, 100, "the client"), std::runtime_error);  // cut short
  EXPECT_THROW(client_split_seeded(x, prg, 16), std::invalid_argument);
}

TEST(ClientWire, MalformedMessagesAreRefused) {
  Prg prg(random_seed());
  std::vector<uint8_t> m = encode_input(client_split_seeded({1, 2, 3}, prg)[1]);
  EXPECT_THROW(decode_input(m, 2, "the client"), std::runtime_error);  // more than allowed
  m.pop_back();
  EXPECT_THROW(decode_input(m, 100, "the client"), std::runtime_error);  // cut short
  m.push_back(0), m.push_back(0);
  EXPECT_THROW(decode_input(m, 100, "the client"), std::runtime_error);  // trailing bytes
  net::Traffic t;
  try {
    decode_output(encode_error("out of memory"), t, "party 2");
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "party 2 gave up on the session: out of memory");
  }
  const SharePair p{{1, 2}, {3, 4}};
  EXPECT_EQ(decode_output(encode_output(p, {100, 1, 7}), t, "party 0"), p);
  EXPECT_EQ(t.bytes, 100u);
  EXPECT_EQ(t.rounds, 7u);
}

TEST(ClientPort, CountsEncodedBytesBothWays) {
  ClientPort port;
  port.send_input({5, 6});
  std::array<SharePair, 3> got;
  for (int i = 0; i < 3; ++i) got[size_t(i)] = port.channel(i)->take_input();
  EXPECT_EQ(client_reconstruct(got), (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(port.traffic().bytes_sent, (11 + 32) + 2 * (11 + 16 + 16u));
  for (int i = 0; i < 3; ++i) port.channel(i)->give_output(got[size_t(i)]);
  EXPECT_EQ(port.receive_output(), (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(port.traffic().bytes_received, 3 * (25 + 32u));
}

}  // namespace
}  // namespace veil::mpc
