// TCP transport: the three parties as separate processes (or hosts), over TLS 1.3 with mutual
// authentication, or over plaintext TCP for loopback experiments (`insecure`).
//
// Connection setup (tcp_setup.h). Party i listens on peers[i]; it connects to each party j < i,
// retrying until the setup deadline so the start order does not matter, and accepts each party
// j > i. On a new connection: TLS 1.3 handshake (both sides present a certificate signed by the
// CA; the certificate's subject CN must be "veil-party-<j>" for the party j it claims to be), then
// the hello: the connecting side sends its own first; the accepting side checks it (and the
// certificate) before answering with its own, which the connecting side checks in turn:
//     Hello (16 bytes) = magic "veil-net" (8) | version u32 LE (4) | sender party id u32 LE (4)
// A wrong magic, another protocol version, an unexpected party id or a wrong certificate fails
// setup with an error that names the peer. Setup either returns both connections or throws.
//
// Frames. Each send_frame(to, payload) becomes, on the connection to `to`:
//     FrameHeader (12 bytes) = magic "VFR1" (4) | payload length u64 LE (8), then the payload.
// The receiver rejects a header with another magic ("corrupt frame header") and one announcing
// more than max_frame_bytes ("oversized frame"), before allocating anything; the connection is
// then dropped. End of stream between frames is "party j disconnected"; inside a frame it is
// "truncated frame from party j". All errors are LinkError and start with "party <self>: ".
//
// Threading and ownership. Each transport has one I/O thread. It builds the connections and
// then owns the sockets and SSL objects alone (OpenSSL sessions are not shared between threads):
// a poll() loop over non-blocking sockets writes queued frames and reads whole frames into
// per-peer inboxes. The protocol thread only touches the queues, under one mutex:
// - send_frame queues the frame and wakes the I/O thread (never blocks on the network, so
//   three parties sending large frames to each other at once cannot deadlock); it throws if the
//   connection to that peer has already failed.
// - recv_frame waits on a condition variable for the peer's next frame, at most `timeout`:
//   "timed out after N ms waiting for party j". Frames received before a peer failed are still
//   delivered; the failure is reported once they are consumed.
// - close() (any thread) wakes every waiter ("link closed locally"); the I/O thread then flushes
//   the frames already queued (at most close_timeout), sends TLS close_notify and closes the
//   sockets. The destructor closes and joins the I/O thread.
// SIGPIPE is blocked in the I/O thread: a peer that vanished shows up as an error, not a signal.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "veil/net/endpoint.h"
#include "veil/net/tls_context.h"
#include "veil/net/transport.h"

namespace veil::net {

struct TcpOptions {
  bool tls = true;  // false: plaintext TCP, for loopback experiments only
  TlsFiles tls_files;  // this party's certificate and key, and the CA (when tls)
  std::chrono::milliseconds setup_timeout{30000};  // to connect, handshake and exchange hellos
  std::chrono::milliseconds close_timeout{5000};   // to flush queued frames at close
  uint64_t max_frame_bytes = uint64_t{1} << 30;    // larger incoming frames are rejected
};

// Connects party `self` to the two other parties (peers[self] is where it listens). Blocks until
// both connections are set up; throws LinkError naming the party and the reason otherwise.
std::unique_ptr<Transport> connect_tcp(int self, const std::array<Endpoint, 3>& peers, const TcpOptions& opt);

}  // namespace veil::net
