// Stream: one non-blocking connection to a peer, plaintext or TLS, with one read/write interface.
// Used by one thread at a time (OpenSSL SSL objects are not thread-safe): during setup by the
// thread that builds the connection, afterwards by the transport's I/O thread.
#pragma once
#include <cstddef>
#include <string>

#include "veil/net/socket.h"

typedef struct ssl_st SSL;

namespace veil::net {

enum class Io {
  done,        // `bytes` were transferred (at least one)
  want_read,   // retry when the socket is readable
  want_write,  // retry when the socket is writable
  eof,         // the peer closed the connection (cleanly or not)
  error,       // the connection failed; `error` says why
};
struct IoResult {
  IoResult(Io s, size_t n = 0, std::string e = {}) : status(s), bytes(n), error(std::move(e)) {}
  Io status;
  size_t bytes;       // when done
  std::string error;  // when error
};

class Stream {
 public:
  Stream(Fd fd, SSL* ssl);  // takes ownership of both; ssl is null for plaintext
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_.get(); }
  SSL* ssl() const { return ssl_; }
  IoResult handshake();  // TLS handshake step; `done` at once for plaintext
  IoResult read(void* buf, size_t n);
  IoResult write(const void* buf, size_t n);
  void shutdown();  // best effort: TLS close_notify, then TCP FIN

 private:
  IoResult ssl_result(int rc);
  Fd fd_;
  SSL* ssl_;
};

// Blocking helpers for connection setup, bounded by a deadline. They throw LinkError with
// `what` describing the step ("party 0: hello from party 1").
void handshake_until(Stream& s, Clock::time_point deadline, const std::string& what);
void write_all_until(Stream& s, const void* buf, size_t n, Clock::time_point deadline, const std::string& what);
void read_exact_until(Stream& s, void* buf, size_t n, Clock::time_point deadline, const std::string& what);

}  // namespace veil::net
