// The client channel over TLS (net/message_conn.h): the party side (NetClientChannel, one per
// serving party) and the client side (NetClientEnd, the client's three connections). The
// messages are those of mpc/client_wire.h, the same bytes ClientPort passes in process.
#pragma once
#include <array>
#include <chrono>

#include "veil/core/prg.h"
#include "veil/mpc/client_channel.h"
#include "veil/net/link.h"
#include "veil/net/message_conn.h"

namespace veil::mpc {

class NetClientChannel final : public ClientChannel {
 public:
  // `link`'s traffic from now on goes with every output. Inputs longer than max_input_elements
  // are refused; the client gets `timeout` for each input.
  NetClientChannel(net::MessageConn& client, const net::Link& link, std::chrono::milliseconds timeout,
                   uint64_t max_input_elements);
  SharePair take_input() override;
  void give_output(SharePair pair) override;

 private:
  net::MessageConn& client_;
  const net::Link& link_;
  net::Traffic start_;
  std::chrono::milliseconds timeout_;
  uint64_t max_input_;
};

class NetClientEnd final : public ClientEnd {
 public:
  // parties[i] is the connection to party i; `timeout` bounds each wait for a party's output.
  NetClientEnd(std::array<net::MessageConn*, 3> parties, std::chrono::milliseconds timeout);
  void send_input(const std::vector<uint64_t>& x, int ring_bits = 64) override;
  std::vector<uint64_t> receive_output() override;
  std::array<net::Traffic, 3> party_traffic() const override { return party_traffic_; }
  ClientTraffic traffic() const override;

 private:
  std::array<net::MessageConn*, 3> parties_;
  std::chrono::milliseconds timeout_;
  std::array<net::Traffic, 3> party_traffic_{};
  Prg prg_{random_seed()};  // the client's private randomness
};

}  // namespace veil::mpc
