// `veil party --serve`: a party that loads its share bundle once, links to the two other parties
// and serves generation sessions to clients, one at a time, until stopped (or --max-sessions).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "veil/core/aead.h"
#include "veil/net/endpoint.h"
#include "veil/net/tls_context.h"

namespace veil::app {

struct ServeOptions {
  int id = -1;
  std::array<net::Endpoint, 3> peers;
  net::Endpoint client_listen;
  net::TlsFiles tls;
  std::string bundle, bundle_key;
  std::optional<AeadKey> released_key;  // released by the KMS (--kms): used instead of bundle_key, never written
  std::chrono::milliseconds timeout{60000};  // peer setup, each peer message, each client message
  uint64_t max_frame_bytes = uint64_t{1} << 30;
  int64_t max_sessions = 0;  // 0: serve until killed
  std::string health_listen;  // host:port of /healthz, /readyz, /metrics (party_health.h); "" for none
  // The gateway's session-token key (--session-key); when set, every session needs a valid token
  // for `group` (nn/session_token.h), each accepted once.
  std::string session_key;
  int group = 0;
};

// Returns after max_sessions sessions (served, refused or failed), or once drained after SIGTERM;
// throws only for start-up errors (bundle, key, certificates, listening address).
void serve_party(const ServeOptions& o);

}  // namespace veil::app
