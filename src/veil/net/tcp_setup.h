// Connection setup of the TCP transport: party i listens on peers[i], connects to every party
// with a lower id (retrying until the deadline, so start order does not matter) and accepts every
// party with a higher id; each new connection does the TLS handshake (when `tls` is given), then
// both sides exchange a hello (protocol version, party id). See tcp_transport.h for the spec.
#pragma once
#include <array>
#include <chrono>
#include <memory>

#include "veil/net/endpoint.h"
#include "veil/net/stream.h"
#include "veil/net/tls_context.h"

namespace veil::net {

// Returns one connected stream per peer (the entry for `self` is null). Throws LinkError naming
// the party and the reason on any failure, at the latest `timeout` after the call.
std::array<std::unique_ptr<Stream>, 3> establish_streams(int self, const std::array<Endpoint, 3>& peers,
                                                         const TlsContext* tls, std::chrono::milliseconds timeout);

}  // namespace veil::net
