// The KMS's state: one SQLite database (WAL mode, so that `veil kms` commands can change it
// while `veil kms serve` runs). Secrets are sealed at rest with AES-256-GCM (core/aead.h) under
// the master key, which never enters the database:
//   sealed blob = nonce (12) | ciphertext | tag (16), additional data = the row's identity
//   ("veil-kms/share-key/<model>/<party>/<version>", ...), so a sealed value cannot be moved
//   to another row.
//
// Tables
//   meta        schema version, master_key_id (16 hex digits of SHA-256 over a label and the
//               key; tells a running server that the key changed), canary (a sealed constant:
//               a wrong master key is refused at open)
//   server      the KMS's TLS certificate and its sealed private key
//   orgs        organisation -> CA certificate and sealed CA private key
//   share_keys  (model, party, version) -> sealed 256-bit share-bundle key, SHA-256 of the bundle
//               it opens, active/retired. Several versions may be active: rotation adds a
//               version (a new bundle from `veil share-model`), workers still running the old
//               bundle get the old version until it is retired.
//   policies    (model, party) -> the organisation that runs that party, allowed worker versions
//   tokens      SHA-256 of each bootstrap token -> identity, expiry, time used (one-time)
//   audit       every enrolment and key release, granted or refused, with its reason
// Every method is safe to call from several threads (one connection behind a mutex).
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "veil/core/aead.h"
#include "veil/core/utc_time.h"  // format_time: how the audit log and messages show times
#include "veil/serve/kms_pki.h"

struct sqlite3;

namespace veil::serve {

// A database that cannot be opened, read or written, or a master key that does not open it.
struct KmsStoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kMasterKeyEnv = "VEIL_KMS_MASTER_KEY";

// Where the master key comes from: a key file (64 hex digits, as `veil share-model`'s key
// files) or, when `file` is empty, the environment variable VEIL_KMS_MASTER_KEY.
struct MasterKeySource {
  std::string file;
  AeadKey load() const;  // throws KmsStoreError naming the source
  std::string describe() const;
};

std::string master_key_id(const AeadKey& key);
// 64 hexadecimal digits (surrounding whitespace allowed) -> key; nullopt otherwise.
std::optional<AeadKey> key_from_hex(std::string_view text);

struct Policy {
  std::string model;
  int party = -1;
  std::string org;                    // the organisation whose workers may run this party
  std::vector<std::string> versions;  // allowed worker versions
};

struct ShareKeyInfo {
  int version = 0;
  std::string bundle_sha256;  // hex
  bool retired = false;
  int64_t created = 0;
};

enum class TokenUse { ok, unknown, used, expired };

struct TokenInfo {
  std::string id;  // first 16 hex digits of the token's hash: names it in listings and the audit log
  WorkerIdentity identity;
  int64_t expires = 0;
  std::optional<int64_t> used;
};

struct AuditRecord {
  int64_t id = 0;
  int64_t time = 0;
  std::string event;    // "enrol" or "release"
  std::string outcome;  // "granted" or "refused"
  std::string reason;   // refusal code ("" when granted)
  std::string detail;   // what was wrong, or what was granted
  std::string org, worker;
  int party = -1;  // the party the certificate or token names, else the requested one
  std::string model, worker_version;
  int key_version = 0;  // the released version (0: none)
  std::string peer;     // the client's address
};

class KmsStore {
 public:
  // Creates a new database at `path` (refusing an existing file), sealed under `master`, with a
  // fresh TLS certificate for the KMS valid `server_cert_days` for loopback and `server_names`
  // (make_server_cert).
  static void create(const std::string& path, const AeadKey& master, int64_t now, int server_cert_days,
                     const std::vector<std::string>& server_names = {});

  // Opens an existing database; throws KmsStoreError if the source's key does not open it.
  KmsStore(const std::string& path, const MasterKeySource& source);
  ~KmsStore();
  KmsStore(const KmsStore&) = delete;
  KmsStore& operator=(const KmsStore&) = delete;

  CertAndKey server_cert();

  void add_org(const std::string& org, int64_t now, int ca_days);
  std::vector<std::string> orgs();
  std::optional<std::string> org_ca_cert(const std::string& org);
  CertAndKey org_ca(const std::string& org);  // throws KmsStoreError if unknown

  // Adds the next version of (model, party)'s share key; returns its version (1, 2, ...).
  int put_share_key(const std::string& model, int party, const AeadKey& key, const std::string& bundle_sha256,
                    int64_t now);
  void retire_share_key(const std::string& model, int party, int version);
  std::vector<ShareKeyInfo> share_keys(const std::string& model, int party);
  AeadKey share_key(const std::string& model, int party, int version);

  void set_policy(const Policy& p);
  std::optional<Policy> policy(const std::string& model, int party);
  std::vector<Policy> policies();

  void add_token(const std::string& token_hash, const WorkerIdentity& id, int64_t expires, int64_t now);
  // Marks the token used if it exists, is unused and not expired at `now` (atomically: of two
  // concurrent uses one wins). `info` gets the token's identity when it exists.
  TokenUse consume_token(const std::string& token_hash, int64_t now, TokenInfo& info);
  std::vector<TokenInfo> tokens();

  void audit(const AuditRecord& r);
  std::vector<AuditRecord> audit_log(int64_t after_id = 0);

  // Re-seals every secret under `next` in one transaction and records its key id; afterwards only
  // `next` opens the database. A server running on the old key reloads its source when it sees
  // the new id (kms_server.h).
  void rotate_master_key(const AeadKey& next);

 private:
  KmsStore() = default;  // create() fills one in
  class Stmt;
  void exec(const char* sql);
  std::string seal(const std::string& plain, const std::string& aad) const;
  std::string open(const std::string& sealed, const std::string& aad) const;
  void check_master();  // reloads the source once when the database's key id changed

  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::string path_;
  MasterKeySource source_;
  AeadKey master_{};
};

}  // namespace veil::serve
