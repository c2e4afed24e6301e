// The KMS over HTTPS on loopback: a worker enrols with a bootstrap token and receives the key
// that opens its bundle; every bad input (wrong, replayed or expired token, expired certificate
// or one from another organisation's CA, wrong party, model, organisation or worker version,
// tampered bundle, truncated or malformed body, no certificate) is refused with its reason and
// an audit record and releases nothing; share-key versions rotate without downtime, and so does
// the master key under a running server.
#include <thread>

#include "serve/kms_test_util.h"

namespace veil::serve::test {
namespace {

using KmsServerTest = KmsFixture;

TEST_F(KmsServerTest, WorkerEnrolsAndTheReleasedKeyOpensItsBundle) {
  KmsClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(server_->port());
  o.ca_file = kms_ca_;
  o.token = token("org-b", 1, "worker-b1");
  o.model = "tiny";
  o.party = 1;
  o.worker_version = "1.0";
  o.bundle_sha256 = file_sha256(bundles_[1]);
  const WorkerCredentials c = fetch_worker_credentials(o);
  EXPECT_EQ(c.share_key, keys_[1]);
  EXPECT_EQ(c.key_version, 1);
  EXPECT_EQ(c.org, "org-b");
  EXPECT_EQ(c.worker, "worker-b1");
  EXPECT_EQ(c.not_after, kStart + kCertTtl);
  const nn::ShareBundle b = nn::read_share_bundle(bundles_[1], c.share_key, 1);
  EXPECT_EQ(b.config_json, "{\"tag\": \"v1\"}");
  EXPECT_EQ(worker_identity(parse_cert(c.cert_pem).get()), (WorkerIdentity{"org-b", 1, "worker-b1"}));

  const std::vector<AuditRecord> log = store_->audit_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].event, "enrol");
  EXPECT_EQ(log[0].outcome, "granted");
  EXPECT_EQ(log[0].worker, "worker-b1");
  EXPECT_EQ(log[1].event, "release");
  EXPECT_EQ(log[1].outcome, "granted");
  EXPECT_EQ(log[1].org, "org-b");
  EXPECT_EQ(log[1].party, 1);
  EXPECT_EQ(log[1].model, "tiny");
  EXPECT_EQ(log[1].worker_version, "1.0");
  EXPECT_EQ(log[1].key_version, 1);
  for (const AuditRecord& r : log) {  // the audit log never holds the key
    EXPECT_EQ(r.detail.find(hex(keys_[1])), std::string::npos);
    EXPECT_EQ(r.peer.rfind("127.0.0.1:", 0), 0u) << r.peer;
  }
}

TEST_F(KmsServerTest, ClientReportsTheKmsRefusal) {
  KmsClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(server_->port());
  o.ca_file = kms_ca_;
  o.token = "00";
  o.model = "tiny";
  o.party = 0;
  o.worker_version = "1.0";
  o.bundle_sha256 = file_sha256(bundles_[0]);
  try {
    fetch_worker_credentials(o);
    FAIL() << "an unknown token was accepted";
  } catch (const KmsClientError& e) {
    EXPECT_PRED2(nn::test::contains, std::string(e.what()), "enrolment refused by the KMS (bad_token)");
  }
}

TEST_F(KmsServerTest, ClientRefusesAKmsWhoseCertificateIsNotThePinnedOne) {
  const std::string other_ca = tmp_.path() + "/other-ca.pem";
  std::ofstream(other_ca) << make_server_cert(now_, 1).cert_pem;  // a certificate like the KMS's, but not its
  KmsClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(server_->port());
  o.ca_file = other_ca;
  o.token = token("org-a", 0, "worker-a0");
  o.model = "tiny";
  o.party = 0;
  o.worker_version = "1.0";
  o.bundle_sha256 = file_sha256(bundles_[0]);
  try {
    fetch_worker_credentials(o);
    FAIL() << "the client trusted a KMS certificate it was not given";
  } catch (const KmsClientError& e) {
    EXPECT_PRED2(nn::test::contains, std::string(e.what()), "does not match --kms-ca");
  }
  EXPECT_TRUE(store_->audit_log().empty());  // the token never reached the KMS
  EXPECT_TRUE(store_->tokens().front().used == std::nullopt);
}

TEST_F(KmsServerTest, UnknownTokenIsRefused) {
  Worker w;
  expect_refused(enrol(new_bootstrap_token(), w), 401, "enrol", "bad_token");
}

TEST_F(KmsServerTest, ReplayedTokenIsRefused) {
  const std::string tok = token("org-a", 0, "worker-a0");
  Worker first, second;
  ASSERT_EQ(enrol(tok, first).status, 200);
  const Reply r = enrol(tok, second);
  expect_refused(r, 401, "enrol", "token_replayed");
  EXPECT_EQ(store_->audit_log().back().worker, "worker-a0");  // the token's identity is recorded
}

TEST_F(KmsServerTest, ConcurrentEnrolmentsWithOneTokenGrantExactlyOne) {
  const std::string tok = token("org-a", 0, "worker-a0");
  std::vector<std::thread> threads;
  std::vector<Reply> replies(8);
  for (size_t i = 0; i < replies.size(); ++i)
    threads.emplace_back([&, i] {
      Worker w;
      replies[i] = enrol(tok, w);
    });
  for (std::thread& t : threads) t.join();
  int granted = 0, replayed = 0;
  for (const Reply& r : replies) {
    granted += r.status == 200;
    replayed += r.status == 401 && r.body.value("error", "") == "token_replayed";
  }
  EXPECT_EQ(granted, 1);
  EXPECT_EQ(replayed, 7);
  EXPECT_EQ(store_->audit_log().size(), 8u);
}

TEST_F(KmsServerTest, EnrolmentsSucceedWhileAnotherProcessWritesTheDatabase) {
  // As `veil kms issue-token` does while `veil kms serve` runs: a second connection writes tokens.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    KmsStore other(db_, MasterKeySource{master_file_});
    for (int i = 0; !stop; ++i) {  // a write every millisecond, far more often than operators run commands
      issue_bootstrap_token(other, {"org-a", 0, "filler-" + std::to_string(i)}, now_, 600);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<Reply> replies;
  for (int i = 0; i < 20; ++i) {
    Worker w;
    replies.push_back(enrol(token("org-a", 0, "worker-" + std::to_string(i)), w));
  }
  stop = true;
  writer.join();
  for (const Reply& r : replies) EXPECT_EQ(r.status, 200) << r.body.dump();
}

TEST_F(KmsServerTest, ExpiredTokenIsRefused) {
  const std::string tok = token("org-a", 0, "worker-a0", 60);
  now_ += 61;
  Worker w;
  expect_refused(enrol(tok, w), 401, "enrol", "token_expired");
}

TEST_F(KmsServerTest, ExpiredCertificateIsRefused) {
  const Worker w = enrolled("org-a", 0, "worker-a0");
  ASSERT_EQ(release(w, 0).status, 200);
  now_ += kCertTtl + 1;
  expect_refused(release(w, 0), 401, "release", "cert_expired");
}

TEST_F(KmsServerTest, CertificateFromAnotherOrganisationsCaIsRefused) {
  // A certificate that names org-a but was signed by org-b's CA (org-b's operator forging org-a's worker).
  Worker w;
  w.key = new_p256_key();
  w.cert = parse_cert(issue_worker_cert(store_->org_ca("org-b"), w.key.get(), {"org-a", 0, "forged"}, now_, kCertTtl));
  expect_refused(release(w, 0), 401, "release", "cert_untrusted");
  // And one from a CA this KMS has never seen, naming an organisation it does not know.
  const CertAndKey foreign = make_org_ca("org-x", now_, 1);
  w.cert = parse_cert(issue_worker_cert(foreign, w.key.get(), {"org-x", 0, "stranger"}, now_, kCertTtl));
  expect_refused(release(w, 0), 401, "release", "cert_untrusted");
}

TEST_F(KmsServerTest, WrongPartyIndexIsRefused) {
  const Worker w = enrolled("org-a", 0, "worker-a0");
  expect_refused(release(w, 1), 403, "release", "wrong_party");
}

TEST_F(KmsServerTest, OrganisationThatDoesNotRunThePartyIsRefused) {
  const Worker w = enrolled("org-b", 0, "worker-b0");  // party 0 belongs to org-a
  expect_refused(release(w, 0), 403, "release", "org_not_allowed");
}

TEST_F(KmsServerTest, WrongModelIsRefused) {
  const Worker w = enrolled("org-a", 0, "worker-a0");
  expect_refused(release(w, 0, "other-model"), 403, "release", "unknown_model");
}

TEST_F(KmsServerTest, WorkerVersionNotAllowedIsRefused) {
  const Worker w = enrolled("org-a", 0, "worker-a0");
  expect_refused(release(w, 0, "tiny", "0.9"), 403, "release", "version_not_allowed");
}

TEST_F(KmsServerTest, TamperedBundleIsRefused) {
  std::ifstream in(bundles_[0], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 1;
  const std::string tampered = tmp_.path() + "/tampered.bundle";
  std::ofstream(tampered, std::ios::binary) << bytes;
  const Worker w = enrolled("org-a", 0, "worker-a0");
  expect_refused(release(w, 0, "tiny", "1.0", file_sha256(tampered)), 403, "release", "bundle_mismatch");
}

TEST_F(KmsServerTest, TruncatedAndMalformedBodiesAreRefused) {
  const Worker w = enrolled("org-a", 0, "worker-a0");
  const std::string good = release_body("tiny", 0, "1.0", file_sha256(bundles_[0]));
  expect_refused(release_raw(&w, good.substr(0, good.size() / 2)), 400, "release", "bad_request");
  expect_refused(release_raw(&w, "[1, 2, 3]"), 400, "release", "bad_request");
  expect_refused(
      release_raw(
          &w,
          json{{"model", "tiny"}, {"party", 7}, {"worker_version", "1.0"}, {"bundle_sha256", file_sha256(bundles_[0])}}
              .dump()),
      400, "release", "bad_request");
  expect_refused(release_raw(&w, release_body("tiny", 0, "1.0", "abc")), 400, "release", "bad_request");
  const std::string tok = token("org-a", 0, "worker-a1");
  const std::string enrol_body =
      json{{"csr", make_csr(new_p256_key().get())}, {"evidence", {{"kind", "bootstrap-token"}, {"token", tok}}}}.dump();
  expect_refused(enrol_raw(enrol_body.substr(0, enrol_body.size() - 5)), 400, "enrol", "bad_request");
  expect_refused(
      enrol_raw(json{{"csr", "not a csr"}, {"evidence", {{"kind", "bootstrap-token"}, {"token", tok}}}}.dump()), 400,
      "enrol", "bad_csr");
  expect_refused(
      enrol_raw(
          json{{"csr", make_csr(new_p256_key().get())}, {"evidence", {{"kind", "sgx-dcap"}, {"quote", "AA"}}}}.dump()),
      400, "enrol", "unsupported_evidence");
  Worker ok;  // the malformed requests did not use the token up
  EXPECT_EQ(enrol(tok, ok).status, 200);
}

TEST_F(KmsServerTest, BodyCutShortOfItsLengthOrTooLargeIsRefused) {
  const std::string body = release_body("tiny", 0, "1.0", file_sha256(bundles_[0]));
  send_and_hang_up(
      "POST /v1/release HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2));
  std::vector<AuditRecord> log = store_->audit_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].event, "release");
  EXPECT_EQ(log[0].outcome, "refused");
  EXPECT_EQ(log[0].reason, "bad_request");
  EXPECT_PRED2(nn::test::contains, log[0].detail, "shorter than its Content-Length");
  const Worker w = enrolled("org-a", 0, "worker-a0");
  expect_refused(release_raw(&w, std::string(100 * 1024, ' ') + body), 413, "release", "bad_request");
}

TEST_F(KmsServerTest, ReleaseWithoutClientCertificateIsRefused) {
  expect_refused(release_raw(nullptr, release_body("tiny", 0, "1.0", file_sha256(bundles_[0]))), 401, "release",
                 "no_client_cert");
}

TEST_F(KmsServerTest, ShareKeyRotationServesBothVersionsUntilTheOldOneIsRetired) {
  const AeadKey next = random_aead_key();
  const std::string next_bundle = write_bundle(0, next, "v2");
  EXPECT_EQ(store_->put_share_key("tiny", 0, next, file_sha256(next_bundle), now_), 2);
  const Worker old_worker = enrolled("org-a", 0, "old"), new_worker = enrolled("org-a", 0, "new");
  Reply r = release(old_worker, 0);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body.at("key_version"), 1);
  EXPECT_EQ(key_from_hex(r.body.at("key").get<std::string>()), keys_[0]);
  r = release(new_worker, 0, "tiny", "1.0", file_sha256(next_bundle));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body.at("key_version"), 2);
  const std::optional<AeadKey> got = key_from_hex(r.body.at("key").get<std::string>());
  ASSERT_TRUE(got);
  EXPECT_EQ(nn::read_share_bundle(next_bundle, *got, 0).config_json, "{\"tag\": \"v2\"}");
  store_->retire_share_key("tiny", 0, 1);
  expect_refused(release(old_worker, 0), 403, "release", "key_retired");
  EXPECT_EQ(release(new_worker, 0, "tiny", "1.0", file_sha256(next_bundle)).status, 200);
}

TEST_F(KmsServerTest, MasterKeyRotatesUnderARunningServer) {
  const Worker w = enrolled("org-a", 0, "worker-a0");
  const std::string next_file = tmp_.path() + "/master.next";
  nn::write_bundle_key(next_file, random_aead_key());
  KmsStore(db_, MasterKeySource{master_file_})
      .rotate_master_key(nn::read_bundle_key(next_file));  // as `veil kms rotate-master-key`
  std::filesystem::rename(next_file, master_file_);
  const Reply r = release(w, 0);  // the server reloads the key file
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(key_from_hex(r.body.at("key").get<std::string>()), keys_[0]);
  EXPECT_EQ(enrolled("org-b", 1, "after-rotation").cert != nullptr, true);  // the org CA keys were re-sealed too
}

TEST_F(KmsServerTest, MetricsCountOutcomesByReasonAndHealthzAnswers) {
  const Worker w = enrolled("org-a", 0, "worker-a0");
  ASSERT_EQ(release(w, 0).status, 200);
  release(w, 1);
  release(w, 1);
  auto c = client();
  auto health = c->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = c->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_PRED2(nn::test::contains, metrics->body, "# TYPE veil_kms_requests_total counter");
  EXPECT_PRED2(nn::test::contains, metrics->body,
               "veil_kms_requests_total{event=\"enrol\",outcome=\"granted\",reason=\"\"} 1\n");
  EXPECT_PRED2(nn::test::contains, metrics->body,
               "veil_kms_requests_total{event=\"release\",outcome=\"granted\",reason=\"\"} 1\n");
  EXPECT_PRED2(nn::test::contains, metrics->body,
               "veil_kms_requests_total{event=\"release\",outcome=\"refused\",reason=\"wrong_party\"} 2\n");
}

}  // namespace
}  // namespace veil::serve::test
