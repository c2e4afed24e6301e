#include "veil/net/stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "veil/net/tls_context.h"
#include "veil/net/transport.h"

namespace veil::net {

Stream::Stream(Fd fd, SSL* ssl) : fd_(std::move(fd)), ssl_(ssl) {}
Stream::~Stream() { SSL_free(ssl_); }

IoResult Stream::ssl_result(int rc) {
  int err = SSL_get_error(ssl_, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ: return {Io::want_read};
    case SSL_ERROR_WANT_WRITE: return {Io::want_write};
    case SSL_ERROR_ZERO_RETURN: return {Io::eof};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        int e = errno;
        if (e == 0) return {Io::eof};
        return {Io::error, 0, std::strerror(e)};
      }
      return {Io::error, 0, tls_error_string()};
    case SSL_ERROR_SSL:
      if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return {Io::eof};
      }
      return {Io::error, 0, "TLS: " + tls_error_string()};
    default: return {Io::error, 0, "TLS error " + std::to_string(err)};
  }
}

IoResult Stream::handshake() {
  if (!ssl_) return {Io::done};
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_);
  return rc == 1 ? IoResult{Io::done} : ssl_result(rc);
}

IoResult Stream::read(void* buf, size_t n) {
  if (ssl_) {
    ERR_clear_error();
    errno = 0;
    size_t got = 0;
    int rc = SSL_read_ex(ssl_, buf, n, &got);
    return rc == 1 ? IoResult{Io::done, got} : ssl_result(rc);
  }
  for (;;) {
    ssize_t r = ::recv(fd_.get(), buf, n, 0);
    if (r > 0) return {Io::done, size_t(r)};
    if (r == 0) return {Io::eof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Io::want_read};
    return {Io::error, 0, std::strerror(errno)};
  }
}

IoResult Stream::write(const void* buf, size_t n) {
  if (ssl_) {
    ERR_clear_error();
    errno = 0;
    size_t put = 0;
    int rc = SSL_write_ex(ssl_, buf, n, &put);
    return rc == 1 ? IoResult{Io::done, put} : ssl_result(rc);
  }
  for (;;) {
    ssize_t r = ::send(fd_.get(), buf, n, MSG_NOSIGNAL);
    if (r >= 0) return {Io::done, size_t(r)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Io::want_write};
    return {Io::error, 0, std::strerror(errno)};
  }
}

void Stream::shutdown() {
  if (ssl_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  ::shutdown(fd_.get(), SHUT_WR);
}

namespace {
// Runs `step` until it is done, waiting for the socket between tries.
template <class Step>
size_t drive(Stream& s, Clock::time_point deadline, const std::string& what, Step step) {
  for (;;) {
    IoResult r = step();
    switch (r.status) {
      case Io::done: return r.bytes;
      case Io::eof: throw LinkError(what + ": connection closed by the peer (see its error)");
      case Io::error: throw LinkError(what + ": " + r.error);
      case Io::want_read:
      case Io::want_write:
        if (!wait_fd(s.fd(), r.status == Io::want_read ? POLLIN : POLLOUT, deadline))
          throw LinkError(what + ": timed out (setup deadline)");
    }
  }
}
}  // namespace

void handshake_until(Stream& s, Clock::time_point deadline, const std::string& what) {
  drive(s, deadline, what, [&] { return s.handshake(); });
}

void write_all_until(Stream& s, const void* buf, size_t n, Clock::time_point deadline, const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(buf);
  for (size_t done = 0; done < n;) done += drive(s, deadline, what, [&] { return s.write(p + done, n - done); });
}

void read_exact_until(Stream& s, void* buf, size_t n, Clock::time_point deadline, const std::string& what) {
  auto* p = static_cast<uint8_t*>(buf);
  for (size_t done = 0; done < n;) done += drive(s, deadline, what, [&] { return s.read(p + done, n - done); });
}

}  // namespace veil::net
