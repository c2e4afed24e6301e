// POSIX TCP socket helpers for the TCP transport's connection setup. All sockets are
// non-blocking and close-on-exec; waits are bounded by a deadline. Errors throw LinkError with
// the given `who` prefix (e.g. "party 0: ").
#pragma once
#include <chrono>
#include <string>

#include "veil/net/endpoint.h"

namespace veil::net {

using Clock = std::chrono::steady_clock;

class Fd {  // owns a file descriptor
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Milliseconds left until `deadline`, clamped to [0, INT_MAX] for poll().
int ms_until(Clock::time_point deadline);

// Waits until fd is ready for `events` (POLLIN/POLLOUT); false at the deadline.
bool wait_fd(int fd, short events, Clock::time_point deadline);

// A listening socket bound to `at` (SO_REUSEADDR).
Fd listen_on(const Endpoint& at, const std::string& who);

// Connects to `to`, retrying refused or unreachable attempts until the deadline (so the
// listener may start later). `peer` names the remote side in errors ("party 1").
Fd connect_until(const Endpoint& to, Clock::time_point deadline, const std::string& who,
                 const std::string& peer);

// Accepts one connection; an invalid Fd at the deadline. `from` receives "host:port".
Fd accept_until(int listener, Clock::time_point deadline, std::string& from);

}  // namespace veil::net
