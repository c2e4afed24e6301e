#include "veil/net/message_conn.h"

#include <poll.h>

#include "veil/net/transport.h"
#include "veil/net/wire.h"

namespace veil::net {

namespace {

// Runs `step` until it moves some bytes, waiting for the socket in between; throws at the
// deadline, at end of stream and on errors.
template <class Step>
size_t drive(Stream& s, Clock::time_point deadline, const std::string& peer, std::chrono::milliseconds timeout,
             bool sending, Step step) {
  for (;;) {
    IoResult r = step();
    switch (r.status) {
      case Io::done: return r.bytes;
      case Io::eof:
        throw LinkError(peer + " closed the connection (while " + (sending ? "this side was sending" : "awaited") + ")");
      case Io::error:
        throw LinkError("connection to " + peer + " failed while " + (sending ? "sending" : "receiving") + ": " +
                        r.error + " (" + peer + " disconnected?)");
      case Io::want_read:
      case Io::want_write:
        if (!wait_fd(s.fd(), r.status == Io::want_read ? POLLIN : POLLOUT, deadline))
          throw LinkError("timed out after " + std::to_string(timeout.count()) + " ms " +
                          (sending ? "sending to " : "waiting for ") + peer);
    }
  }
}

void write_all(Stream& s, const uint8_t* p, size_t n, Clock::time_point deadline, const std::string& peer,
               std::chrono::milliseconds timeout) {
  for (size_t done = 0; done < n;)
    done += drive(s, deadline, peer, timeout, true, [&] { return s.write(p + done, n - done); });
}

void read_all(Stream& s, uint8_t* p, size_t n, Clock::time_point deadline, const std::string& peer,
              std::chrono::milliseconds timeout) {
  for (size_t done = 0; done < n;)
    done += drive(s, deadline, peer, timeout, false, [&] { return s.read(p + done, n - done); });
}

}  // namespace

MessageConn::MessageConn(std::unique_ptr<Stream> stream, std::string peer, uint64_t max_message_bytes)
    : stream_(std::move(stream)), peer_(std::move(peer)), max_(max_message_bytes) {}

MessageConn::~MessageConn() { close(); }

void MessageConn::send(const std::vector<uint8_t>& payload, std::chrono::milliseconds timeout) {
  if (!stream_) throw LinkError("connection to " + peer_ + " is closed");
  const auto deadline = Clock::now() + timeout;
  const wire::FrameHeader h = wire::make_frame_header(payload.size());
  write_all(*stream_, reinterpret_cast<const uint8_t*>(&h), sizeof h, deadline, peer_, timeout);
  write_all(*stream_, payload.data(), payload.size(), deadline, peer_, timeout);
  sent_ += payload.size();
}

std::vector<uint8_t> MessageConn::recv(std::chrono::milliseconds timeout) {
  if (!stream_) throw LinkError("connection to " + peer_ + " is closed");
  const auto deadline = Clock::now() + timeout;
  wire::FrameHeader h{};
  read_all(*stream_, reinterpret_cast<uint8_t*>(&h), sizeof h, deadline, peer_, timeout);
  const auto length = wire::read_frame_header(h);
  if (!length) throw LinkError("corrupt message header from " + peer_ + " (bad magic): not a veil peer?");
  if (*length > max_)
    throw LinkError("oversized message from " + peer_ + ": " + std::to_string(*length) + " bytes, the limit is " +
                    std::to_string(max_));
  std::vector<uint8_t> payload(static_cast<size_t>(*length));
  read_all(*stream_, payload.data(), payload.size(), deadline, peer_, timeout);
  received_ += payload.size();
  return payload;
}

void MessageConn::close() {
  if (!stream_) return;
  stream_->shutdown();
  stream_.reset();
}

std::string client_common_name() { return "veil-client"; }

std::unique_ptr<MessageConn> open_message_conn(Fd fd, const TlsContext& tls, bool server, const std::string& expected_cn,
                                               const std::string& peer, Clock::time_point deadline,
                                               uint64_t max_message_bytes) {
  SSL* ssl = tls.new_ssl(fd.get(), server);
  auto stream = std::make_unique<Stream>(std::move(fd), ssl);
  handshake_until(*stream, deadline, "TLS handshake with " + peer + " failed");
  const std::string cn = peer_common_name(stream->ssl());
  if (cn != expected_cn)
    throw LinkError(peer + " presents a certificate for '" + cn + "', expected '" + expected_cn + "'");
  return std::make_unique<MessageConn>(std::move(stream), peer, max_message_bytes);
}

}  // namespace veil::net
