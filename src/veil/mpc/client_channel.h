// The client's way into and out of a computation, from each side. The client secret-shares its
// inputs (one replicated pair per party) and reconstructs outputs from the three pairs the
// parties hand back; a party sees only its own pairs. Two implementations:
//   in-process  ClientPort (mpc/client_port.h): the parties are threads of the client's process;
//   network     NetClientChannel / NetClientEnd (mpc/net_client_channel.h): one TLS connection
//               from the client to each party (`veil generate --parties`, `veil party --serve`).
// Both carry the same messages (mpc/client_wire.h), so they count the same bytes.
#pragma once
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "veil/net/link.h"

namespace veil::mpc {

using SharePair = std::pair<std::vector<uint64_t>, std::vector<uint64_t>>;  // (x_i, x_{i+1}) on party i

// Party side: one party's end of its connection to the client. Used by the party's protocol
// thread only.
class ClientChannel {
 public:
  virtual ~ClientChannel() = default;
  // Waits for the client's next input and returns this party's pair of it.
  virtual SharePair take_input() = 0;
  // Hands this party's pair of a value opened to the client (the party learns nothing).
  virtual void give_output(SharePair pair) = 0;
};

// Bytes the client sent to and received from all three parties, as encoded messages.
struct ClientTraffic {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  std::array<uint64_t, 3> sent_to{};  // bytes_sent by party
};

// Client side: the client's connections to the three parties.
class ClientEnd {
 public:
  virtual ~ClientEnd() = default;
  // Secret-shares x (ring elements) and sends each party its pair; ring_bits 32 shares it modulo
  // 2^32 only (mpc/client_wire.h, form 2), for an input the parties use on FM32 alone.
  virtual void send_input(const std::vector<uint64_t>& x, int ring_bits = 64) = 0;
  // Waits for the three pairs of the next output and reconstructs it (checking that the
  // replicated components agree).
  virtual std::vector<uint64_t> receive_output() = 0;
  // Each party's link traffic (bytes it sent, rounds) from the start of the session to its
  // latest output, as the party reported it; zero where it reported none.
  virtual std::array<net::Traffic, 3> party_traffic() const = 0;
  virtual ClientTraffic traffic() const = 0;
};

}  // namespace veil::mpc
