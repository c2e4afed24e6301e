#include "veil/mpc/net_client_channel.h"

#include "veil/mpc/client_wire.h"
#include "veil/mpc/io.h"

namespace veil::mpc {

NetClientChannel::NetClientChannel(net::MessageConn& client, const net::Link& link, std::chrono::milliseconds timeout,
                                   uint64_t max_input_elements)
    : client_(client), link_(link), start_(link.total()), timeout_(timeout), max_input_(max_input_elements) {}

SharePair NetClientChannel::take_input() {
  const std::vector<uint8_t> msg = client_.recv(timeout_);
  if (message_kind(msg, client_.peer()) == ClientMessage::error)
    throw net::LinkError(client_.peer() + " gave up on the session: " + error_text(msg));
  return expand(decode_input(msg, max_input_, client_.peer()));
}

void NetClientChannel::give_output(SharePair pair) {
  client_.send(encode_output(pair, link_.total() - start_), timeout_);
}

NetClientEnd::NetClientEnd(std::array<net::MessageConn*, 3> parties, std::chrono::milliseconds timeout)
    : parties_(parties), timeout_(timeout) {}

void NetClientEnd::send_input(const std::vector<uint64_t>& x, int ring_bits) {
  const auto pairs = client_split_seeded(x, prg_, ring_bits);
  for (int i = 0; i < 3; ++i) parties_[size_t(i)]->send(encode_input(pairs[size_t(i)]), timeout_);
}

std::vector<uint64_t> NetClientEnd::receive_output() {
  std::array<SharePair, 3> pairs;
  for (int i = 0; i < 3; ++i) {
    net::MessageConn& c = *parties_[size_t(i)];
    pairs[size_t(i)] = decode_output(c.recv(timeout_), party_traffic_[size_t(i)], c.peer());
  }
  return client_reconstruct(pairs);
}

ClientTraffic NetClientEnd::traffic() const {
  ClientTraffic t;
  for (int i = 0; i < 3; ++i) {
    const net::MessageConn& c = *parties_[size_t(i)];
    t.bytes_sent += c.bytes_sent(), t.bytes_received += c.bytes_received(), t.sent_to[size_t(i)] = c.bytes_sent();
  }
  return t;
}

}  // namespace veil::mpc
