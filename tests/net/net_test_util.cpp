#include "net/net_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace veil::net::testing {

std::array<Endpoint, 3> free_loopback_endpoints() {
  std::array<Endpoint, 3> out;
  std::array<int, 3> fds{};
  for (size_t i = 0; i < 3; ++i) {  // hold all three so they differ
    fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fds[i], reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fds[i], reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot pick a free loopback port");
    out[i] = Endpoint{"127.0.0.1", ntohs(a.sin_port)};
  }
  for (int fd : fds) ::close(fd);
  return out;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "veil-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string link_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const LinkError& e) {
    return e.what();
  }
  return "";
}

Connected connect_three(const std::array<Endpoint, 3>& peers, const std::function<TcpOptions(int)>& opt) {
  Connected c;
  std::array<std::thread, 3> threads;
  for (int i = 0; i < 3; ++i)
    threads[size_t(i)] = std::thread([&, i] {
      c.errors[size_t(i)] = link_error_of([&] { c.transports[size_t(i)] = connect_tcp(i, peers, opt(i)); });
    });
  for (auto& t : threads) t.join();
  return c;
}

int raw_connect(const Endpoint& to) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(to.port);
    ::inet_pton(AF_INET, to.host.c_str(), &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("raw_connect: nothing listens on " + to.str());
}

void raw_send(int fd, const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (bytes > 0) {
    ssize_t r = ::send(fd, p, bytes, MSG_NOSIGNAL);
    if (r <= 0) throw std::runtime_error("raw_send failed");
    p += r, bytes -= size_t(r);
  }
}

bool raw_recv_exact(int fd, void* data, size_t bytes) {
  auto* p = static_cast<uint8_t*>(data);
  while (bytes > 0) {
    ssize_t r = ::recv(fd, p, bytes, 0);
    if (r <= 0) return false;
    p += r, bytes -= size_t(r);
  }
  return true;
}

}  // namespace veil::net::testing
