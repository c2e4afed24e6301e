// Transport contract (what every way of moving bytes between parties must provide).
//
// - A transport belongs to one party and connects it to its two peers (party ids 0..2).
// - Frames are whole messages: recv_frame returns exactly what one send_frame sent, in order,
//   per ordered pair of parties.
// - send_frame never blocks forever: it queues the frame (or writes it) and returns; a peer that
//   is gone makes it throw LinkError.
// - recv_frame waits at most `timeout`; a timeout, a closed peer, a truncated or oversized
//   frame all throw LinkError with a message that names the peer.
// - One protocol thread per transport calls send_frame/recv_frame; close() and failure() may be
//   called from any thread; close() wakes that thread.
// Byte and round counting is not the transport's job: Link does it on its one send path.
#pragma once
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace veil::net {

class LinkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Frame = std::vector<uint8_t>;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send_frame(int to, Frame&& frame) = 0;
  virtual Frame recv_frame(int from, std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;
  // Why the connection to `peer` failed, or "" while it works (or when the transport cannot tell).
  // Lets an idle party notice that a peer went away before it next sends.
  virtual std::string failure(int peer) const { return {}; }
};

}  // namespace veil::net
