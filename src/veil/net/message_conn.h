// MessageConn: the TLS 1.3 connection between the client (`veil generate --parties`) and one
// party (`veil party --serve`). It carries whole messages, each framed like a party-link frame
// (wire::FrameHeader: magic "VFR1" | payload length u64 LE, then the payload; the messages
// themselves are specified in mpc/client_wire.h and nn/session_request.h).
//
// Both ends present a certificate signed by the deployment's CA (`veil certs`): the party's names
// "veil-party-<id>", the client's "veil-client"; each end checks the other's name after the
// handshake, so a party cannot pose as the client or as another party.
//
// Blocking calls, used by one thread at a time; every wait is bounded by a timeout and fails
// with LinkError naming the peer ("party 1 at 127.0.0.1:7001", "the client at ..."). Incoming
// messages larger than max_message_bytes are refused before anything is allocated. Payload
// bytes are counted both ways (the 12-byte headers and TLS records are not).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "veil/net/stream.h"
#include "veil/net/tls_context.h"

namespace veil::net {

class MessageConn {
 public:
  MessageConn(std::unique_ptr<Stream> stream, std::string peer, uint64_t max_message_bytes);
  ~MessageConn();
  MessageConn(const MessageConn&) = delete;
  MessageConn& operator=(const MessageConn&) = delete;

  void send(const std::vector<uint8_t>& payload, std::chrono::milliseconds timeout);
  std::vector<uint8_t> recv(std::chrono::milliseconds timeout);
  void close();  // TLS close_notify and FIN (best effort); further calls fail

  const std::string& peer() const { return peer_; }
  uint64_t bytes_sent() const { return sent_; }
  uint64_t bytes_received() const { return received_; }

 private:
  std::unique_ptr<Stream> stream_;
  std::string peer_;
  uint64_t max_;
  uint64_t sent_ = 0, received_ = 0;
};

// The subject CN of the client's certificate.
std::string client_common_name();

// The TLS handshake on a connected (client side) or accepted (server side) socket, then the
// check that the peer's certificate names `expected_cn`. Throws LinkError naming `peer`.
std::unique_ptr<MessageConn> open_message_conn(Fd fd, const TlsContext& tls, bool server, const std::string& expected_cn,
                                               const std::string& peer, Clock::time_point deadline,
                                               uint64_t max_message_bytes);

}  // namespace veil::net
