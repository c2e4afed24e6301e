#include "veil/net/tcp_setup.h"

#include "veil/net/transport.h"
#include "veil/net/wire.h"

namespace veil::net {

namespace {

struct Setup {
  int self;
  const TlsContext* tls;
  Clock::time_point deadline;
  std::chrono::milliseconds timeout;
  std::string who() const { return "party " + std::to_string(self) + ": "; }
};

std::string party(int j) { return "party " + std::to_string(j); }

std::unique_ptr<Stream> secure(const Setup& s, Fd fd, bool server, const std::string& peer) {
  SSL* ssl = s.tls ? s.tls->new_ssl(fd.get(), server) : nullptr;
  auto stream = std::make_unique<Stream>(std::move(fd), ssl);
  try {
    handshake_until(*stream, s.deadline, s.who() + "TLS handshake with " + peer + " failed");
  } catch (const LinkError& e) {
    throw LinkError(std::string(e.what()) + " (does every party use the same CA, and TLS rather than --insecure?)");
  }
  return stream;
}

// With TLS, the certificate must name the party the peer claims to be.
void check_identity(const Setup& s, Stream& stream, int claimed, const std::string& peer) {
  if (!s.tls) return;
  std::string cn = peer_common_name(stream.ssl()), want = party_common_name(claimed);
  if (cn != want)
    throw LinkError(s.who() + peer + " presents a certificate for '" + cn + "', expected '" + want +
                    "': wrong certificate for that party");
}

// Runs a hello step; a plaintext party that fails here may be talking to a TLS party.
template <class Step> void hello_step(const Setup& s, Step step) {
  try {
    step();
  } catch (const LinkError& e) {
    if (s.tls) throw;
    throw LinkError(std::string(e.what()) + " (does the peer use TLS while this party uses --insecure?)");
  }
}

void send_hello(const Setup& s, Stream& stream, const std::string& peer) {
  wire::Hello mine = wire::make_hello(uint32_t(s.self));
  hello_step(s, [&] { write_all_until(stream, &mine, sizeof mine, s.deadline, s.who() + "hello to " + peer + " failed"); });
}

wire::HelloFields receive_hello(const Setup& s, Stream& stream, const std::string& peer) {
  wire::Hello theirs{};
  hello_step(s, [&] {
    read_exact_until(stream, &theirs, sizeof theirs, s.deadline, s.who() + "hello from " + peer + " failed");
  });
  auto h = wire::read_hello(theirs);
  if (!h)
    throw LinkError(s.who() + "garbage hello from " + peer +
                    ": not a veil party, or one side uses TLS and the other --insecure");
  if (h->version != wire::kProtocolVersion)
    throw LinkError(s.who() + peer + " speaks protocol version " + std::to_string(h->version) +
                    ", this build speaks " + std::to_string(wire::kProtocolVersion) +
                    ": run the same veil version on every party");
  return *h;
}

}  // namespace

std::array<std::unique_ptr<Stream>, 3> establish_streams(int self, const std::array<Endpoint, 3>& peers,
                                                         const TlsContext* tls, std::chrono::milliseconds timeout) {
  Setup s{self, tls, Clock::now() + timeout, timeout};
  std::array<std::unique_ptr<Stream>, 3> out;
  Fd listener;
  if (self < 2) listener = listen_on(peers[size_t(self)], s.who());

  for (int j = 0; j < self; ++j) {
    std::string peer = party(j) + " at " + peers[size_t(j)].str();
    auto stream = secure(s, connect_until(peers[size_t(j)], s.deadline, s.who(), party(j)), false, peer);
    check_identity(s, *stream, j, peer);
    send_hello(s, *stream, peer);  // the connecting side speaks first
    auto h = receive_hello(s, *stream, peer);
    if (h.party != uint32_t(j))
      throw LinkError(s.who() + "the process at " + peers[size_t(j)].str() + " says it is party " +
                      std::to_string(h.party) + ", expected party " + std::to_string(j) + ": check --peers");
    out[size_t(j)] = std::move(stream);
  }

  for (int accepted = self + 1; accepted <= 2; ++accepted) {
    std::string from;
    Fd fd = accept_until(listener.get(), s.deadline, from);
    if (!fd) {
      std::string missing;
      for (int j = self + 1; j <= 2; ++j)
        if (!out[size_t(j)]) missing += (missing.empty() ? "" : " and ") + party(j);
      throw LinkError(s.who() + "timed out after " + std::to_string(timeout.count()) + " ms waiting for " +
                      missing + " to connect to " + peers[size_t(self)].str());
    }
    std::string peer = "the connection from " + from;
    auto stream = secure(s, std::move(fd), true, peer);
    auto h = receive_hello(s, *stream, peer);
    if (h.party <= uint32_t(self) || h.party > 2 || out[h.party])
      throw LinkError(s.who() + peer + " claims to be party " + std::to_string(h.party) + ", but only " +
                      "parties with higher ids connect here, once each: check --id and --peers");
    peer = party(int(h.party)) + " (" + from + ")";
    check_identity(s, *stream, int(h.party), peer);
    send_hello(s, *stream, peer);  // only to a peer that passed every check
    out[h.party] = std::move(stream);
  }
  return out;
}

}  // namespace veil::net
