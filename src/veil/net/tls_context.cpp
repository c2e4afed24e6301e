#include "veil/net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <filesystem>

#include "veil/net/transport.h"

namespace veil::net {

namespace {
void require_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (path.empty()) throw LinkError(std::string("TLS needs a ") + what + " file");
  if (!std::filesystem::is_regular_file(path, ec))
    throw LinkError(std::string(what) + " file '" + path + "' does not exist or is not a file");
}
}  // namespace

std::string tls_error_string() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason ? reason : buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

TlsContext::TlsContext(const TlsFiles& f) : ctx_(SSL_CTX_new(TLS_method())) {
  if (!ctx_) throw LinkError("cannot create TLS context: " + tls_error_string());
  try {
    require_file(f.cert, "certificate");
    require_file(f.key, "private key");
    require_file(f.ca, "CA certificate");
    ERR_clear_error();
    if (SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION) != 1)
      throw LinkError("cannot require TLS 1.3: " + tls_error_string());
    if (SSL_CTX_use_certificate_chain_file(ctx_, f.cert.c_str()) != 1)
      throw LinkError("cannot load certificate '" + f.cert + "': " + tls_error_string());
    if (SSL_CTX_use_PrivateKey_file(ctx_, f.key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw LinkError("cannot load private key '" + f.key + "': " + tls_error_string());
    if (SSL_CTX_check_private_key(ctx_) != 1)
      throw LinkError("private key '" + f.key + "' does not match certificate '" + f.cert + "'");
    if (SSL_CTX_load_verify_locations(ctx_, f.ca.c_str(), nullptr) != 1)
      throw LinkError("cannot load CA certificate '" + f.ca + "': " + tls_error_string());
  } catch (...) {
    SSL_CTX_free(ctx_);
    throw;
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_num_tickets(ctx_, 0);  // no session tickets: nothing unread is left at close
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::new_ssl(int fd, bool server) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    throw LinkError("cannot create TLS session: " + tls_error_string());
  }
  if (server) SSL_set_accept_state(ssl);
  else SSL_set_connect_state(ssl);
  return ssl;
}

std::string party_common_name(int party) { return "veil-party-" + std::to_string(party); }

std::string peer_common_name(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "";
  char cn[256] = "";
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  X509_free(cert);
  return n > 0 ? std::string(cn, size_t(n)) : "";
}

}  // namespace veil::net
