// TLS 1.3 configuration of the TCP transport (OpenSSL): mutual authentication against one CA.
// Each party presents its certificate (subject CN "veil-party-<id>") and accepts a peer only if
// the peer's certificate chains to the CA and names the party the peer claims to be.
#pragma once
#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace veil::net {

struct TlsFiles {
  std::string cert;  // this party's certificate (PEM)
  std::string key;   // its private key (PEM, unencrypted)
  std::string ca;    // the CA that signed every party's certificate (PEM)
};

class TlsContext {
 public:
  // Loads and checks the files; throws LinkError naming the file and the reason.
  explicit TlsContext(const TlsFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A new SSL object on `fd` (client side when connecting, server side when accepted).
  SSL* new_ssl(int fd, bool server) const;

 private:
  SSL_CTX* ctx_;
};

// The subject CN a party's certificate carries.
std::string party_common_name(int party);
// The subject CN of the peer's verified certificate ("" when it has none).
std::string peer_common_name(SSL* ssl);
// Drains this thread's OpenSSL error queue into one readable line.
std::string tls_error_string();

}  // namespace veil::net
