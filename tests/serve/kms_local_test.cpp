// The local stack's KMS: it imports the three keys of share-model's output, hands each worker
// flags with a fresh token that release that party's key, and on reopening reuses its database
// and imports the key of a bundle that was made again as the next version.
#include "veil/serve/kms_local.h"

#include <map>

#include "serve/kms_test_util.h"

namespace veil::serve::test {
namespace {

// share-model's output shape: party-<i>.bundle and keys/party-<i>.key.
void write_shared(const std::string& dir, const std::string& tag) {
  std::filesystem::create_directories(dir + "/keys");
  for (int i = 0; i < 3; ++i) {
    const std::string key_file = dir + "/keys/party-" + std::to_string(i) + ".key";
    std::filesystem::remove(key_file);
    const AeadKey key = random_aead_key();
    nn::write_bundle_key(key_file, key);
    nn::ShareBundle b;
    b.party = i;
    b.frac_bits = 18;
    b.config_json = tag;
    nn::write_share_bundle(dir + "/party-" + std::to_string(i) + ".bundle", b, key);
  }
}

// What `veil party --serve` makes of the flags.
WorkerCredentials fetch(const std::vector<std::string>& flags, int party, const std::string& bundle) {
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < flags.size(); i += 2) f[flags[i]] = flags[i + 1];
  KmsClientOptions o;
  o.url = f.at("--kms");
  o.ca_file = f.at("--kms-ca");
  std::ifstream(f.at("--bootstrap-token")) >> o.token;
  o.model = f.at("--kms-model");
  o.worker_version = f.at("--worker-version");
  o.party = party;
  o.bundle_sha256 = file_sha256(bundle);
  return fetch_worker_credentials(o);
}

TEST(KmsLocalTest, WorkersGetTheirPartysKeyAndAReopenedKmsImportsNewBundles) {
  nn::test::TempDir tmp;
  const std::string shared = tmp.path() + "/shared", dir = tmp.path() + "/kms";
  write_shared(shared, "first");
  LocalKmsOptions opt;
  opt.dir = dir;
  opt.shared_dir = shared;
  opt.model = "tiny-gpt2";
  std::vector<std::string> stale_flags;
  {
    LocalKms kms(opt);
    for (int i = 0; i < 3; ++i) {
      const std::string bundle = shared + "/party-" + std::to_string(i) + ".bundle";
      const WorkerCredentials c = fetch(kms.party_flags(i, "group-0-party-" + std::to_string(i)), i, bundle);
      EXPECT_EQ(c.org, "org-" + std::to_string(i));
      EXPECT_EQ(c.key_version, 1);
      EXPECT_EQ(nn::read_share_bundle(bundle, c.share_key, i).config_json, "first");
    }
    stale_flags = kms.party_flags(0, "unused");
  }
  write_shared(shared, "second");
  LocalKms kms(opt);  // same database, new bundles
  const std::string bundle = shared + "/party-0.bundle";
  const WorkerCredentials c = fetch(kms.party_flags(0, "group-1-party-0"), 0, bundle);
  EXPECT_EQ(c.key_version, 2);
  EXPECT_EQ(nn::read_share_bundle(bundle, c.share_key, 0).config_json, "second");
  EXPECT_EQ(kms.store().orgs(), (std::vector<std::string>{"org-0", "org-1", "org-2"}));
  stale_flags[1] = kms.url();                                   // the restarted KMS listens elsewhere
  EXPECT_EQ(fetch(stale_flags, 0, bundle).key_version, 2);      // a token issued before the restart still enrols once
  EXPECT_THROW(fetch(stale_flags, 0, bundle), KmsClientError);  // and only once
}

}  // namespace
}  // namespace veil::serve::test
