#include "veil/net/certs.h"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "veil/net/message_conn.h"

namespace veil::net {

namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + tls_error_string()); }

Key new_key() {
  Key k(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (!k) fail("cannot generate an EC P-256 key");
  return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext || X509_add_ext(cert, ext, -1) != 1) {
    X509_EXTENSION_free(ext);
    fail(std::string("cannot add certificate extension ") + OBJ_nid2sn(nid));
  }
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`; self-signed when issuer is null.
Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, int days) {
  Cert c(X509_new(), &X509_free);
  if (!c) fail("cannot allocate a certificate");
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  bool ok = X509_set_version(c.get(), X509_VERSION_3) == 1 && bn &&
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get())) &&
            X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(c.get()), long(days) * 86400) &&
            X509_set_pubkey(c.get(), key) == 1;
  BN_free(bn);
  X509_NAME* name = X509_get_subject_name(c.get());
  ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>("veil"), -1, -1, 0) == 1 &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) == 1 &&
       X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name) == 1;
  if (!ok) fail("cannot fill certificate " + cn);
  X509* signer = issuer ? issuer : c.get();
  add_ext(c.get(), signer, NID_subject_key_identifier, "hash");
  add_ext(c.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (issuer) {
    add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_ext(c.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(c.get(), signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  } else {
    add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (X509_sign(c.get(), issuer ? issuer_key : key, EVP_sha256()) == 0) fail("cannot sign certificate " + cn);
  return c;
}

// Opens `path` for writing with `mode`, refusing to replace an existing file unless asked.
std::unique_ptr<FILE, decltype(&fclose)> open_out(const std::filesystem::path& path, mode_t mode, bool overwrite) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0)
    throw std::runtime_error("cannot write '" + path.string() + "': " + std::strerror(errno) +
                             (errno == EEXIST ? " (use --force to replace it)" : ""));
  if (overwrite) ::fchmod(fd, mode);
  return {::fdopen(fd, "w"), &fclose};
}

void write_cert(const std::filesystem::path& path, X509* cert, bool overwrite) {
  auto f = open_out(path, 0644, overwrite);
  if (PEM_write_X509(f.get(), cert) != 1) fail("cannot write '" + path.string() + "'");
}

void write_key(const std::filesystem::path& path, EVP_PKEY* key, bool overwrite) {
  auto f = open_out(path, 0600, overwrite);
  if (PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot write '" + path.string() + "'");
}

}  // namespace

TlsFiles party_cert_files(const std::filesystem::path& dir, int party) {
  std::string stem = "party" + std::to_string(party);
  return {(dir / (stem + ".pem")).string(), (dir / (stem + ".key")).string(), (dir / "ca.pem").string()};
}

TlsFiles client_cert_files(const std::filesystem::path& dir) {
  return {(dir / "client.pem").string(), (dir / "client.key").string(), (dir / "ca.pem").string()};
}

TlsFiles tee_worker_cert_files(const std::filesystem::path& dir) {
  return {(dir / "tee-worker.pem").string(), (dir / "tee-worker.key").string(), (dir / "ca.pem").string()};
}

std::string tee_worker_common_name() { return "veil-tee-worker"; }

void write_party_certs(const std::filesystem::path& dir, const CertOptions& opt) {
  if (opt.days < 1) throw std::invalid_argument("certificate validity must be at least 1 day");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create directory '" + dir.string() + "': " + ec.message());
  std::vector<std::filesystem::path> files{dir / "ca.pem"};
  for (int i = 0; i < 3; ++i) files.insert(files.end(), {party_cert_files(dir, i).cert, party_cert_files(dir, i).key});
  files.insert(files.end(), {client_cert_files(dir).cert, client_cert_files(dir).key});
  files.insert(files.end(), {tee_worker_cert_files(dir).cert, tee_worker_cert_files(dir).key});
  for (const auto& f : files)  // refuse before writing anything: never leave a half-replaced set
    if (!opt.overwrite && std::filesystem::exists(f, ec))
      throw std::runtime_error("'" + f.string() + "' already exists (use --force to replace the set)");
  Key ca_key = new_key();
  Cert ca = make_cert(ca_key.get(), "veil-ca", nullptr, nullptr, opt.days);
  write_cert(dir / "ca.pem", ca.get(), opt.overwrite);
  for (int i = 0; i <= 4; ++i) {  // 3: the client, 4: the TEE workers
    Key key = new_key();
    const std::string cn = i < 3 ? party_common_name(i) : i == 3 ? client_common_name() : tee_worker_common_name();
    Cert cert = make_cert(key.get(), cn, ca.get(), ca_key.get(), opt.days);
    TlsFiles files = i < 3 ? party_cert_files(dir, i) : i == 3 ? client_cert_files(dir) : tee_worker_cert_files(dir);
    write_key(files.key, key.get(), opt.overwrite);
    write_cert(files.cert, cert.get(), opt.overwrite);
  }
}

}  // namespace veil::net
