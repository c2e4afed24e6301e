#include "veil/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <thread>

#include "veil/net/transport.h"

namespace veil::net {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}
Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}
int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

int ms_until(Clock::time_point deadline) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return int(std::clamp<long long>(ms, 0, INT_MAX));
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms_until(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return true;  // let the caller's next I/O call report the error
  }
}

namespace {

using AddrInfo = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

AddrInfo resolve(const Endpoint& e, bool passive, const std::string& who) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  std::string port = std::to_string(e.port);
  int rc = ::getaddrinfo(e.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw LinkError(who + "cannot resolve '" + e.host + "': " + ::gai_strerror(rc));
  return AddrInfo(res, &freeaddrinfo);
}

Fd new_socket(const addrinfo* a) {
  return Fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::string errno_str(int e) { return std::strerror(e); }

}  // namespace

Fd listen_on(const Endpoint& at, const std::string& who) {
  AddrInfo ai = resolve(at, true, who);
  int last = 0;
  for (const addrinfo* a = ai.get(); a; a = a->ai_next) {
    Fd fd = new_socket(a);
    if (!fd) { last = errno; continue; }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd.get(), 16) == 0) return fd;
    last = errno;
  }
  throw LinkError(who + "cannot listen on " + at.str() + ": " + errno_str(last));
}

Fd connect_until(const Endpoint& to, Clock::time_point deadline, const std::string& who,
                 const std::string& peer) {
  std::string last = "no address";
  for (;;) {
    AddrInfo ai = resolve(to, false, who);
    for (const addrinfo* a = ai.get(); a; a = a->ai_next) {
      Fd fd = new_socket(a);
      if (!fd) { last = errno_str(errno); continue; }
      int rc = ::connect(fd.get(), a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        if (!wait_fd(fd.get(), POLLOUT, deadline)) { last = "connect timed out"; continue; }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
      if (rc == 0) {
        set_nodelay(fd.get());
        return fd;
      }
      last = errno_str(errno);
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, ms_until(deadline))));
  }
  throw LinkError(who + "could not connect to " + peer + " at " + to.str() + " before the setup deadline (" +
                  last + "): is it running and listening there?");
}

Fd accept_until(int listener, Clock::time_point deadline, std::string& from) {
  while (wait_fd(listener, POLLIN, deadline)) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    Fd fd(::accept4(listener, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) continue;  // EAGAIN after a spurious wakeup, or the client already gave up
    set_nodelay(fd.get());
    char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
    ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV);
    from = std::string(host) + ":" + port;
    return fd;
  }
  return Fd();
}

}  // namespace veil::net
