// A KMS for the serve tests: a fresh database under a master key file in a temporary folder,
// organisations org-a and org-b, a share bundle of model "tiny" for parties 0 and 1 (party 0 run
// by org-a, party 1 by org-b; worker version 1.0 allowed), an in-process HTTPS server on an
// ephemeral loopback port with a clock the test moves, and helpers that enrol and ask for a key
// as a worker would, with raw bodies when a test needs them.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "nn/nn_test_util.h"
#include "veil/core/digest.h"
#include "veil/nn/share_bundle.h"
#include "veil/serve/bootstrap_token.h"
#include "veil/serve/kms_client.h"
#include "veil/serve/kms_pki.h"
#include "veil/serve/kms_server.h"
#include "veil/serve/kms_store.h"

namespace veil::serve::test {

using json = nlohmann::json;

struct Reply {
  int status = 0;  // 0: no HTTP answer
  json body;
};

// A worker's enrolled credentials, in memory.
struct Worker {
  PkeyPtr key;
  X509Ptr cert;
};

class KmsFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kCertTtl = 3600;
  const int64_t kStart =
      system_now();  // the fixture's clock starts at the real time (the client checks the KMS's certificate)

  void SetUp() override {
    nn::write_bundle_key(master_file_, random_aead_key());
    KmsStore::create(db_, nn::read_bundle_key(master_file_), kStart, 30, {"veil-kms", "10.0.0.7"});
    store_ = std::make_unique<KmsStore>(db_, MasterKeySource{master_file_});
    std::ofstream(kms_ca_) << store_->server_cert().cert_pem;
    store_->add_org("org-a", kStart, 365);
    store_->add_org("org-b", kStart, 365);
    for (int party = 0; party < 2; ++party) {
      keys_[party] = random_aead_key();
      bundles_[party] = write_bundle(party, keys_[party], "v1");
      store_->put_share_key("tiny", party, keys_[party], file_sha256(bundles_[party]), kStart);
      store_->set_policy({"tiny", party, party == 0 ? "org-a" : "org-b", {"1.0"}});
    }
    KmsServerOptions opt;
    opt.cert_ttl_seconds = kCertTtl;
    opt.clock = [this] { return now_.load(); };
    server_ = std::make_unique<KmsServer>(*store_, opt);
  }

  // A small share bundle of `party` (its config_json tells versions apart).
  std::string write_bundle(int party, const AeadKey& key, const std::string& tag) {
    nn::ShareBundle b;
    b.party = party;
    b.frac_bits = 18;
    b.config_json = "{\"tag\": \"" + tag + "\"}";
    const std::string path = tmp_.path() + "/party-" + std::to_string(party) + "-" + tag + ".bundle";
    nn::write_share_bundle(path, b, key);
    return path;
  }

  std::string token(const std::string& org, int party, const std::string& worker, int64_t ttl = 600) {
    return issue_bootstrap_token(*store_, {org, party, worker}, now_, ttl);
  }

  std::unique_ptr<httplib::SSLClient> client(const Worker* w = nullptr) {
    auto c = w ? std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port(), w->cert.get(), w->key.get())
               : std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port());
    c->set_ca_cert_path(kms_ca_.c_str());
    c->enable_server_certificate_verification(true);
    c->set_read_timeout(10, 0);
    return c;
  }

  static Reply post(httplib::SSLClient& c, const std::string& path, const std::string& body) {
    auto res = c.Post(path.c_str(), body, "application/json");
    if (!res) return {};
    return {res->status, json::parse(res->body, nullptr, false)};
  }

  Reply enrol_raw(const std::string& body) { return post(*client(), "/v1/enrol", body); }

  // Enrols with `tok`; on success `w` holds the key and the issued certificate.
  Reply enrol(const std::string& tok, Worker& w) {
    w.key = new_p256_key();
    Reply r = enrol_raw(
        json{{"csr", make_csr(w.key.get())}, {"evidence", {{"kind", "bootstrap-token"}, {"token", tok}}}}.dump());
    if (r.status == 200) w.cert = parse_cert(r.body.at("certificate").get<std::string>());
    return r;
  }

  Worker enrolled(const std::string& org, int party, const std::string& name) {
    Worker w;
    const Reply r = enrol(token(org, party, name), w);
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return w;
  }

  static std::string release_body(const std::string& model, int party, const std::string& version,
                                  const std::string& sha) {
    return json{{"model", model}, {"party", party}, {"worker_version", version}, {"bundle_sha256", sha}}.dump();
  }

  Reply release_raw(const Worker* w, const std::string& body) { return post(*client(w), "/v1/release", body); }

  // Sends `request` (raw HTTP) over TLS and closes the connection's sending side, as a client that
  // stops mid-body would; waits until the KMS has audited one more request.
  void send_and_hang_up(const std::string& request) {
    const size_t before = store_->audit_log().size();
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    ASSERT_TRUE(ctx);
    ASSERT_EQ(SSL_CTX_load_verify_locations(ctx.get(), kms_ca_.c_str(), nullptr), 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_ssl_connect(ctx.get()), &BIO_free_all);
    ASSERT_TRUE(bio);
    BIO_set_conn_hostname(bio.get(), ("127.0.0.1:" + std::to_string(server_->port())).c_str());
    ASSERT_EQ(BIO_do_connect(bio.get()), 1);
    ASSERT_EQ(BIO_write(bio.get(), request.data(), int(request.size())), int(request.size()));
    BIO_flush(bio.get());
    SSL* ssl = nullptr;
    BIO_get_ssl(bio.get(), &ssl);
    SSL_shutdown(ssl);  // close_notify: the server's read of the rest of the body ends here
    for (int i = 0; i < 500 && store_->audit_log().size() == before; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  Reply release(const Worker& w, int party, const std::string& model = "tiny", const std::string& version = "1.0",
                std::string sha = {}) {
    if (sha.empty()) sha = file_sha256(bundles_[party]);
    return release_raw(&w, release_body(model, party, version, sha));
  }

  // The reply is the refusal `reason` with HTTP `status`, carries no key, and the newest audit
  // record is that refusal of `event`.
  void expect_refused(const Reply& r, int status, const std::string& event, const std::string& reason) {
    EXPECT_EQ(r.status, status) << r.body.dump();
    ASSERT_TRUE(r.body.is_object()) << "no JSON error body";
    EXPECT_EQ(r.body.value("error", ""), reason) << r.body.dump();
    EXPECT_FALSE(r.body.value("message", "").empty());
    EXPECT_FALSE(r.body.contains("key"));
    EXPECT_FALSE(r.body.contains("certificate"));
    const std::vector<AuditRecord> log = store_->audit_log();
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.back().event, event);
    EXPECT_EQ(log.back().outcome, "refused");
    EXPECT_EQ(log.back().reason, reason);
    EXPECT_EQ(log.back().detail, r.body.value("message", ""));
    EXPECT_EQ(log.back().key_version, 0);
  }

  nn::test::TempDir tmp_;
  std::string db_ = tmp_.path() + "/kms.db", master_file_ = tmp_.path() + "/master.key",
              kms_ca_ = tmp_.path() + "/kms-ca.pem";
  std::atomic<int64_t> now_{kStart};
  std::unique_ptr<KmsStore> store_;
  std::unique_ptr<KmsServer> server_;
  AeadKey keys_[2];
  std::string bundles_[2];
};

}  // namespace veil::serve::test
