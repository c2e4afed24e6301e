// A KMS for a stack on one machine (the gateway's local groups, demos): a database and master
// key file in a folder, organisations org-0, org-1 and org-2 (one per party), each party's key
// of one model imported from `veil share-model`'s output with its bundle's SHA-256, a policy per
// party, and an in-process HTTPS server on a free loopback port. Each worker started gets a fresh
// one-time token; party_flags() gives the `veil party --serve` flags that replace --bundle-key.
// Reopening the folder reuses the database; a bundle re-made by share-model has its key imported
// as the next version.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "veil/serve/kms_server.h"
#include "veil/serve/kms_store.h"

namespace veil::serve {

struct LocalKmsOptions {
  std::string dir;                              // kms.db, master.key, kms-ca.pem, tokens/ (created if missing)
  std::string shared_dir;                       // share-model's --out: party-<i>.bundle and keys/party-<i>.key
  std::string model;                            // the model's name in the policies (--kms-model)
  std::string worker_version = "0.1.0";         // the version allowed (veil party's --worker-version default)
  std::function<void(const std::string&)> log;  // the server's request log
};

class LocalKms {
 public:
  explicit LocalKms(const LocalKmsOptions& o);  // throws on a bad folder or missing bundles/keys

  std::string url() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }
  std::string ca_file() const { return o_.dir + "/kms-ca.pem"; }
  KmsStore& store() { return *store_; }
  // Issues a token for `worker` running `party` (tokens/<worker>-<n>, mode 0600) and returns
  // --kms, --kms-ca, --bootstrap-token and --kms-model for `veil party --serve`.
  std::vector<std::string> party_flags(int party, const std::string& worker);

 private:
  LocalKmsOptions o_;
  std::unique_ptr<KmsStore> store_;
  std::unique_ptr<KmsServer> server_;
  int tokens_ = 0;
};

}  // namespace veil::serve
