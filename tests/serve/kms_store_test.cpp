// The KMS database: secrets sealed at rest (the raw file holds neither a share key nor a private
// key), a wrong master key refused at open, master-key rotation that keeps every secret readable
// under the new key and locks the old one out, share-key versions, one-time tokens.
#include <openssl/x509v3.h>

#include <fstream>
#include <iterator>

#include "serve/kms_test_util.h"

namespace veil::serve::test {
namespace {

std::string raw_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Everything the database file and its write-ahead log hold.
std::string raw_db(const std::string& db) { return raw_bytes(db) + raw_bytes(db + "-wal"); }

using KmsStoreTest = KmsFixture;

TEST_F(KmsStoreTest, DatabaseHoldsNoKeyBytesInTheClear) {
  const std::string raw = raw_db(db_);
  ASSERT_GT(raw.size(), 4096u);
  for (const AeadKey& k : keys_) {
    EXPECT_EQ(raw.find(std::string(k.begin(), k.end())), std::string::npos);
    EXPECT_EQ(raw.find(hex(k)), std::string::npos);
  }
  EXPECT_EQ(raw.find("PRIVATE KEY"), std::string::npos);        // CA and server keys are sealed
  EXPECT_NE(raw.find("BEGIN CERTIFICATE"), std::string::npos);  // certificates are public and stored as such
  const AeadKey master = nn::read_bundle_key(master_file_);
  EXPECT_EQ(raw.find(std::string(master.begin(), master.end())), std::string::npos);
}

// Names print as "org/party-N/worker" in the audit log: a '/' (or anything but letters, digits,
// '.', '_', '-') would let two identities print alike, so the store refuses it and stores nothing.
TEST_F(KmsStoreTest, OrganisationAndWorkerNamesAreRefusedUnlessPlain) {
  for (const std::string& bad : std::vector<std::string>{"a/b", "", "org a", std::string(65, 'x'), "org\nfake"}) {
    try {
      store_->add_org(bad, kStart, 365);
      ADD_FAILURE() << "organisation '" << bad << "' was accepted";
    } catch (const KmsStoreError& e) {
      EXPECT_NE(std::string(e.what()).find("is not a name"), std::string::npos) << e.what();
    }
    EXPECT_THROW(store_->add_token(std::string(64, 'a'), {"org-a", 0, bad}, kStart + 60, kStart), KmsStoreError) << bad;
  }
  EXPECT_EQ(store_->orgs(), (std::vector<std::string>{"org-a", "org-b"}));
  EXPECT_NO_THROW(store_->add_org("Org_c.1-x", kStart, 365));
  EXPECT_NO_THROW(store_->add_token(std::string(64, 'b'), {"org-a", 0, "worker-0.eu_1"}, kStart + 60, kStart));
}

TEST_F(KmsStoreTest, ServerCertificateNamesLoopbackAndTheGivenHosts) {
  const X509Ptr cert = parse_cert(store_->server_cert().cert_pem);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "veil-kms", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.7", 0), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "elsewhere.example", 0, 0, nullptr), 0);
  const std::string bad = tmp_.path() + "/bad.db";
  EXPECT_THROW(KmsStore::create(bad, random_aead_key(), kStart, 1, {"a,DNS:evil"}), PkiError);
  EXPECT_FALSE(std::filesystem::exists(bad));  // no half-made database left to block a second try
}

TEST_F(KmsStoreTest, WrongMasterKeyDoesNotOpenTheDatabase) {
  const std::string other = tmp_.path() + "/other.key";
  nn::write_bundle_key(other, random_aead_key());
  try {
    KmsStore s(db_, MasterKeySource{other});
    FAIL() << "a wrong master key opened the database";
  } catch (const KmsStoreError& e) {
    EXPECT_PRED2(nn::test::contains, std::string(e.what()), "does not open");
  }
}

TEST_F(KmsStoreTest, MasterKeyFromTheEnvironment) {
  ::setenv(kMasterKeyEnv, hex(nn::read_bundle_key(master_file_)).c_str(), 1);
  KmsStore s(db_, MasterKeySource{});
  EXPECT_EQ(s.share_key("tiny", 0, 1), keys_[0]);
  ::setenv(kMasterKeyEnv, "not hex", 1);
  EXPECT_THROW(KmsStore(db_, MasterKeySource{}), KmsStoreError);
  ::unsetenv(kMasterKeyEnv);
}

TEST_F(KmsStoreTest, MasterKeyRotationKeepsSecretsAndLocksOutTheOldKey) {
  server_.reset();
  const std::string old_raw = raw_db(db_);
  const std::string next_file = tmp_.path() + "/next.key";
  nn::write_bundle_key(next_file, random_aead_key());
  store_->rotate_master_key(nn::read_bundle_key(next_file));
  store_.reset();
  EXPECT_THROW(KmsStore(db_, MasterKeySource{master_file_}), KmsStoreError);
  KmsStore s(db_, MasterKeySource{next_file});
  EXPECT_EQ(s.share_key("tiny", 0, 1), keys_[0]);
  EXPECT_EQ(s.share_key("tiny", 1, 1), keys_[1]);
  const CertAndKey ca = s.org_ca("org-a");
  EXPECT_NE(parse_private_key(ca.key_pem), nullptr);
  EXPECT_NE(parse_private_key(s.server_cert().key_pem), nullptr);
  EXPECT_NE(raw_db(db_), old_raw);
}

TEST_F(KmsStoreTest, ShareKeyVersionsAndRetirement) {
  const AeadKey k2 = random_aead_key();
  EXPECT_THROW(store_->put_share_key("tiny", 0, k2, file_sha256(bundles_[0]), now_),
               KmsStoreError);  // v1 opens that bundle
  EXPECT_EQ(store_->put_share_key("tiny", 0, k2, std::string(64, 'a'), now_), 2);
  std::vector<ShareKeyInfo> v = store_->share_keys("tiny", 0);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_FALSE(v[0].retired);
  store_->retire_share_key("tiny", 0, 1);
  v = store_->share_keys("tiny", 0);
  EXPECT_TRUE(v[0].retired);
  EXPECT_FALSE(v[1].retired);
  EXPECT_EQ(store_->share_key("tiny", 0, 2), k2);
  EXPECT_THROW(store_->retire_share_key("tiny", 0, 9), KmsStoreError);
}

TEST_F(KmsStoreTest, TokensAreStoredHashedAndUsedOnce) {
  const std::string tok = token("org-a", 0, "w");
  EXPECT_EQ(raw_db(db_).find(tok), std::string::npos);
  TokenInfo info;
  EXPECT_EQ(store_->consume_token(bootstrap_token_hash(tok), now_, info), TokenUse::ok);
  EXPECT_EQ(info.identity, (WorkerIdentity{"org-a", 0, "w"}));
  EXPECT_EQ(store_->consume_token(bootstrap_token_hash(tok), now_, info), TokenUse::used);
  EXPECT_EQ(store_->consume_token(bootstrap_token_hash("nope"), now_, info), TokenUse::unknown);
  EXPECT_THROW(token("no-such-org", 0, "w"), KmsStoreError);
}

}  // namespace
}  // namespace veil::serve::test
