// The client's end of a computation whose three parties run as threads of this process (tests,
// benchmarks, `veil generate --backend mpc`). The client side (ClientEnd) secret-shares inputs
// and reconstructs outputs; each party reaches it through its own ClientChannel (`channel`).
// Inputs and outputs travel as the encoded messages of mpc/client_wire.h, exactly the bytes the
// network channel sends, and are counted the same way (`traffic`). No party thread ever sees a
// plaintext input or output through it.
#pragma once
#include <array>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "veil/core/prg.h"
#include "veil/mpc/client_channel.h"

namespace veil::mpc {

class ClientPort final : public ClientEnd {
 public:
  using Pair = SharePair;

  // Client side (ClientEnd).
  void send_input(const std::vector<uint64_t>& x, int ring_bits = 64) override;  // split and queue one pair per party
  std::vector<uint64_t> receive_output() override;           // waits for all three pairs, reconstructs
  std::array<net::Traffic, 3> party_traffic() const override;
  ClientTraffic traffic() const override;

  // Party side. `link`, when given, is the party's link: its traffic since this call goes with
  // every output the channel hands over.
  std::unique_ptr<ClientChannel> channel(int party, const net::Link* link = nullptr);
  Pair take_input(int party);  // waits for the next input pair
  void give_output(int party, Pair pair, const net::Traffic& traffic = {});

  void close();  // wakes every waiter with an error (a party failed)

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::array<std::deque<std::vector<uint8_t>>, 3> inputs_;   // encoded input messages
  std::array<std::deque<std::vector<uint8_t>>, 3> outputs_;  // encoded output messages
  std::array<net::Traffic, 3> party_traffic_{};
  ClientTraffic traffic_;
  bool closed_ = false;
  Prg prg_{random_seed()};  // the client's private randomness
};

}  // namespace veil::mpc
