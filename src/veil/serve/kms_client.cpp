#include "veil/serve/kms_client.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "veil/core/digest.h"
#include "veil/net/endpoint.h"
#include "veil/serve/bootstrap_token.h"
#include "veil/serve/kms_pki.h"
#include "veil/serve/kms_store.h"

namespace veil::serve {

namespace {

using json = nlohmann::json;

net::Endpoint kms_endpoint(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) throw KmsClientError("--kms must be an https:// URL, not '" + url + "'");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  try {
    return net::parse_endpoint(rest);
  } catch (const std::invalid_argument& e) {
    throw KmsClientError("--kms '" + url + "': " + e.what());
  }
}

void configure(httplib::SSLClient& c, const KmsClientOptions& o) {
  c.set_ca_cert_path(o.ca_file.c_str());
  c.enable_server_certificate_verification(true);
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count();
  c.set_connection_timeout(time_t(std::max<int64_t>(1, s)), 0);
  c.set_read_timeout(time_t(std::max<int64_t>(1, s)), 0);
  c.set_write_timeout(time_t(std::max<int64_t>(1, s)), 0);
}

json call(httplib::SSLClient& c, const std::string& url, const char* path, const json& body, const std::string& step) {
  auto res = c.Post(path, body.dump(), "application/json");
  if (!res) {
    const long verify = c.get_openssl_verify_result();
    throw KmsClientError(
        step + ": cannot reach the KMS at " + url + " (" + httplib::to_string(res.error()) + " error" +
        (verify ? std::string("; its certificate does not match --kms-ca: ") + X509_verify_cert_error_string(verify)
                : std::string()) +
        ")");
  }
  json j = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    if (j.is_object() && j.contains("error"))
      throw KmsClientError(step + " refused by the KMS (" + j.value("error", "") + "): " + j.value("message", ""));
    throw KmsClientError(step + ": the KMS answered HTTP " + std::to_string(res->status));
  }
  if (!j.is_object()) throw KmsClientError(step + ": the KMS's answer is not a JSON object");
  return j;
}

}  // namespace

std::string file_sha256(const std::string& path) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("cannot start SHA-256");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), size_t(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error("cannot read '" + path + "'");
  Sha256 h;
  EVP_DigestFinal_ex(ctx.get(), h.data(), nullptr);
  return hex(h);
}

WorkerCredentials fetch_worker_credentials(const KmsClientOptions& o) {
  const net::Endpoint kms = kms_endpoint(o.url);
  PkeyPtr fresh;
  EVP_PKEY* key = o.key;
  if (!key) fresh = new_p256_key(), key = fresh.get();
  const json evidence = o.evidence_kind == kBootstrapTokenKind
                            ? json{{"kind", o.evidence_kind}, {"token", o.token}}
                            : json{{"kind", o.evidence_kind}, {"quote", hex(std::span<const uint8_t>(
                                                                  reinterpret_cast<const uint8_t*>(o.quote.data()),
                                                                  o.quote.size()))}};

  httplib::SSLClient enrol(kms.host, kms.port);  // no client certificate yet
  configure(enrol, o);
  const json cert = call(
      enrol, o.url, "/v1/enrol",
      {{"csr", make_csr(key)}, {"evidence", evidence}}, "enrolment");
  WorkerCredentials out;
  try {
    out.cert_pem = cert.at("certificate").get<std::string>();
    out.org = cert.at("org").get<std::string>();
    out.worker = cert.at("worker").get<std::string>();
    out.not_after = cert.at("not_after").get<int64_t>();
    if (cert.at("party").get<int>() != o.party)
      throw KmsClientError("enrolment: the KMS enrolled this worker for party " +
                           std::to_string(cert.at("party").get<int>()) + ", this worker runs party " +
                           std::to_string(o.party));
  } catch (const json::exception& e) {
    throw KmsClientError(std::string("enrolment: the KMS's answer lacks a field: ") + e.what());
  }
  X509Ptr x509 = parse_cert(out.cert_pem);

  httplib::SSLClient release(kms.host, kms.port, x509.get(), key);
  configure(release, o);
  json k = call(release, o.url, "/v1/release",
                {{"model", o.model},
                 {"party", o.party},
                 {"worker_version", o.worker_version},
                 {"bundle_sha256", o.bundle_sha256}},
                "key release");
  std::string key_hex = k.value("key", "");
  const std::optional<AeadKey> share = key_from_hex(key_hex);
  OPENSSL_cleanse(key_hex.data(), key_hex.size());
  if (!share) throw KmsClientError("key release: the KMS's answer holds no 256-bit key");
  out.share_key = *share;
  out.key_version = k.value("key_version", 0);
  return out;
}

}  // namespace veil::serve
