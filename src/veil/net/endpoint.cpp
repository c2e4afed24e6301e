#include "veil/net/endpoint.h"

#include <charconv>
#include <stdexcept>
#include <vector>

namespace veil::net {

std::string Endpoint::str() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Endpoint parse_endpoint(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("bad endpoint '" + std::string(text) + "': " + why +
                                 " (expected host:port, e.g. 127.0.0.1:7000)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) throw bad("no ':port'");
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) throw bad("empty host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    throw bad("port must be a number in 1..65535");
  return Endpoint{std::string(host), uint16_t(value)};
}

std::array<Endpoint, 3> parse_peers(std::string_view text) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (parts.size() != 3)
    throw std::invalid_argument("bad peer list '" + std::string(text) + "': expected three host:port entries " +
                                "separated by commas (party 0, 1, 2), got " + std::to_string(parts.size()));
  return {parse_endpoint(parts[0]), parse_endpoint(parts[1]), parse_endpoint(parts[2])};
}

}  // namespace veil::net
