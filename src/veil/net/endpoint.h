// Endpoint: a party's host and TCP port, and the `host:port,host:port,host:port` peer list
// syntax of `veil party --peers`.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace veil::net {

struct Endpoint {
  std::string host;  // name or IPv4/IPv6 literal (IPv6 written as [::1]:port in lists)
  uint16_t port = 0;
  std::string str() const;
};

// "host:port" → Endpoint; throws std::invalid_argument naming what is wrong.
Endpoint parse_endpoint(std::string_view text);
// "h0:p0,h1:p1,h2:p2" → the three parties' endpoints, in party-id order.
std::array<Endpoint, 3> parse_peers(std::string_view text);

}  // namespace veil::net
