#include "veil/serve/kms_local.h"

#include <filesystem>
#include <fstream>

#include "veil/nn/share_bundle.h"
#include "veil/serve/bootstrap_token.h"
#include "veil/serve/kms_client.h"

namespace veil::serve {

namespace fs = std::filesystem;

LocalKms::LocalKms(const LocalKmsOptions& o) : o_(o) {
  fs::create_directories(o_.dir + "/tokens");
  const std::string db = o_.dir + "/kms.db", master = o_.dir + "/master.key";
  const int64_t now = system_now();
  const bool fresh = !fs::exists(db);
  if (fresh) {
    if (!fs::exists(master)) nn::write_bundle_key(master, random_aead_key());
    KmsStore::create(db, nn::read_bundle_key(master), now, 825);
  }
  store_ = std::make_unique<KmsStore>(db, MasterKeySource{master});
  if (fresh) {
    std::ofstream(ca_file()) << store_->server_cert().cert_pem;
    for (int i = 0; i < 3; ++i) store_->add_org("org-" + std::to_string(i), now, 3650);
  }
  for (int i = 0; i < 3; ++i) {
    const std::string s = std::to_string(i);
    const std::string sha = file_sha256(o_.shared_dir + "/party-" + s + ".bundle");
    bool known = false;
    for (const ShareKeyInfo& k : store_->share_keys(o_.model, i))
      known = known || (!k.retired && k.bundle_sha256 == sha);
    if (!known)
      store_->put_share_key(o_.model, i, nn::read_bundle_key(o_.shared_dir + "/keys/party-" + s + ".key"), sha, now);
    store_->set_policy({o_.model, i, "org-" + s, {o_.worker_version}});
  }
  KmsServerOptions opt;
  opt.log = o_.log;
  server_ = std::make_unique<KmsServer>(*store_, opt);
}

std::vector<std::string> LocalKms::party_flags(int party, const std::string& worker) {
  const std::string token =
      issue_bootstrap_token(*store_, {"org-" + std::to_string(party), party, worker}, system_now(), 600);
  const std::string file = o_.dir + "/tokens/" + worker + "-" + std::to_string(++tokens_);
  write_token_file(file, token);
  return {"--kms", url(),         "--kms-ca", ca_file(),          "--bootstrap-token",
          file,    "--kms-model", o_.model,   "--worker-version", o_.worker_version};
}

}  // namespace veil::serve
