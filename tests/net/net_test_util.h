// Helpers for the network tests: free loopback ports, temporary directories, running the three
// parties' connect_tcp in threads, and checking error messages.
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <functional>
#include <string>

#include "veil/net/tcp_transport.h"

namespace veil::net::testing {

// Three distinct ports that were free on 127.0.0.1 a moment ago (bound to port 0, then released).
std::array<Endpoint, 3> free_loopback_endpoints();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The message of the LinkError `fn` throws ("" if it throws none).
std::string link_error_of(const std::function<void()>& fn);

// Runs connect_tcp for the three parties at once, each in its own thread, with opt(i).
struct Connected {
  std::array<std::unique_ptr<Transport>, 3> transports;
  std::array<std::string, 3> errors;  // LinkError message per party, "" on success
};
Connected connect_three(const std::array<Endpoint, 3>& peers, const std::function<TcpOptions(int)>& opt);

// Connects a raw plaintext socket to `to` (for tests that play a misbehaving party).
int raw_connect(const Endpoint& to);
void raw_send(int fd, const void* data, size_t bytes);
bool raw_recv_exact(int fd, void* data, size_t bytes);

}  // namespace veil::net::testing

#define EXPECT_CONTAINS(haystack, needle)                                              \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)                     \
      << "expected to find \"" << (needle) << "\" in \"" << (haystack) << "\""
