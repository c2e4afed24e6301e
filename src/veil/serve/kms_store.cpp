#include "veil/serve/kms_store.h"

#include <openssl/crypto.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "veil/core/digest.h"
#include "veil/nn/share_bundle.h"

namespace veil::serve {

namespace {

constexpr int kSchema = 1;
constexpr const char* kCanary = "veil-kms master key check";

const char* kSchemaSql = R"sql(
CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE server(id INTEGER PRIMARY KEY CHECK(id = 1), cert TEXT NOT NULL, key BLOB NOT NULL);
CREATE TABLE orgs(name TEXT PRIMARY KEY, ca_cert TEXT NOT NULL, ca_key BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE share_keys(model TEXT NOT NULL, party INTEGER NOT NULL, version INTEGER NOT NULL, key BLOB NOT NULL,
                        bundle_sha256 TEXT NOT NULL, retired INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,
                        PRIMARY KEY(model, party, version));
CREATE TABLE policies(model TEXT NOT NULL, party INTEGER NOT NULL, org TEXT NOT NULL REFERENCES orgs(name),
                      versions TEXT NOT NULL, PRIMARY KEY(model, party));
CREATE TABLE tokens(hash TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(name), party INTEGER NOT NULL,
                    worker TEXT NOT NULL, expires INTEGER NOT NULL, used INTEGER, created INTEGER NOT NULL);
CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, event TEXT NOT NULL,
                   outcome TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, org TEXT NOT NULL,
                   worker TEXT NOT NULL, party INTEGER NOT NULL, model TEXT NOT NULL, worker_version TEXT NOT NULL,
                   key_version INTEGER NOT NULL, peer TEXT NOT NULL);
)sql";

std::string share_key_aad(const std::string& model, int party, int version) {
  return "veil-kms/share-key/" + model + "/" + std::to_string(party) + "/" + std::to_string(version);
}
std::string org_aad(const std::string& org) { return "veil-kms/org-ca/" + org; }
constexpr const char* kServerAad = "veil-kms/server-key";
constexpr const char* kCanaryAad = "veil-kms/canary";

}  // namespace

// A prepared statement; binds by position (1-based) and steps.
class KmsStore::Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw KmsStoreError(std::string("database error: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& blob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  // True while there is a row.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw KmsStoreError(std::string("database error: ") + sqlite3_errmsg(db_));
  }
  void run() { step(); }
  std::string text(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string(p, size_t(sqlite3_column_bytes(s_, col))) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  bool null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

std::optional<AeadKey> key_from_hex(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (text.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  AeadKey k{};
  for (size_t i = 0; i < k.size(); ++i) {
    const int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    k[i] = uint8_t(hi * 16 + lo);
  }
  return k;
}

AeadKey MasterKeySource::load() const {
  if (!file.empty()) {
    try {
      return nn::read_bundle_key(file);
    } catch (const nn::BundleError& e) {
      throw KmsStoreError(std::string("master key: ") + e.what());
    }
  }
  const char* env = std::getenv(kMasterKeyEnv);
  if (!env) throw KmsStoreError(std::string("no master key: pass --master-key-file or set ") + kMasterKeyEnv);
  std::optional<AeadKey> k = key_from_hex(env);
  if (!k) throw KmsStoreError(std::string(kMasterKeyEnv) + " does not hold a 256-bit key as 64 hexadecimal digits");
  return *k;
}

std::string MasterKeySource::describe() const { return file.empty() ? std::string("$") + kMasterKeyEnv : file; }

std::string master_key_id(const AeadKey& key) {
  std::string data = "veil-kms master key id/1:";
  data.append(reinterpret_cast<const char*>(key.data()), key.size());
  const Sha256 h = sha256(data);
  OPENSSL_cleanse(data.data(), data.size());
  return hex(h).substr(0, 16);
}

std::string KmsStore::seal(const std::string& plain, const std::string& aad) const {
  const AeadNonce nonce = random_aead_nonce();
  std::string out(nonce.begin(), nonce.end());
  out += plain;
  auto body = std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()) + nonce.size(), plain.size());
  const AeadTag tag = aes256gcm_seal(master_, nonce, {reinterpret_cast<const uint8_t*>(aad.data()), aad.size()}, body);
  out.append(tag.begin(), tag.end());
  return out;
}

std::string KmsStore::open(const std::string& sealed, const std::string& aad) const {
  AeadNonce nonce;
  AeadTag tag;
  if (sealed.size() < nonce.size() + tag.size()) throw KmsStoreError("sealed value '" + aad + "' is truncated");
  std::copy_n(sealed.begin(), nonce.size(), nonce.begin());
  std::copy_n(sealed.end() - long(tag.size()), tag.size(), tag.begin());
  std::string plain = sealed.substr(nonce.size(), sealed.size() - nonce.size() - tag.size());
  if (!aes256gcm_open(master_, nonce, {reinterpret_cast<const uint8_t*>(aad.data()), aad.size()},
                      {reinterpret_cast<uint8_t*>(plain.data()), plain.size()}, tag)) {
    OPENSSL_cleanse(plain.data(), plain.size());
    throw KmsStoreError("sealed value '" + aad + "' does not open with the master key (wrong key or modified row)");
  }
  return plain;
}

void KmsStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw KmsStoreError("database error: " + msg);
  }
}

void KmsStore::create(const std::string& path, const AeadKey& master, int64_t now, int server_cert_days,
                      const std::vector<std::string>& server_names) {
  if (std::filesystem::exists(path))
    throw KmsStoreError("'" + path + "' already exists; refusing to replace a KMS database");
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw KmsStoreError("cannot create '" + path + "': " + msg);
  }
  try {
    KmsStore s;  // closes the connection however this ends
    s.db_ = db;
    s.path_ = path;
    s.master_ = master;
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    s.exec("PRAGMA journal_mode=WAL; BEGIN;");
    s.exec(kSchemaSql);
    Stmt(db, "INSERT INTO meta VALUES('schema', ?)").bind(1, int64_t(kSchema)).run();
    Stmt(db, "INSERT INTO meta VALUES('master_key_id', ?)").bind(1, master_key_id(master)).run();
    Stmt(db, "INSERT INTO meta VALUES('canary', ?)").blob(1, s.seal(kCanary, kCanaryAad)).run();
    CertAndKey server = make_server_cert(now, server_cert_days, server_names);
    Stmt(db, "INSERT INTO server VALUES(1, ?, ?)")
        .bind(1, server.cert_pem)
        .blob(2, s.seal(server.key_pem, kServerAad))
        .run();
    OPENSSL_cleanse(server.key_pem.data(), server.key_pem.size());
    s.exec("COMMIT;");
  } catch (...) {  // leave no half-made database behind
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix);
    throw;
  }
}

KmsStore::KmsStore(const std::string& path, const MasterKeySource& source) : path_(path), source_(source) {
  if (!std::filesystem::exists(path))
    throw KmsStoreError("no KMS database at '" + path + "' (create one with `veil kms init`)");
  try {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK)
      throw KmsStoreError("cannot open '" + path + "': " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA foreign_keys=ON;");
    Stmt schema(db_, "SELECT value FROM meta WHERE name = 'schema'");
    if (!schema.step() || schema.integer(0) != kSchema)
      throw KmsStoreError("'" + path + "' is not a veil KMS database of schema " + std::to_string(kSchema));
    master_ = source_.load();
    Stmt canary(db_, "SELECT value FROM meta WHERE name = 'canary'");
    if (!canary.step()) throw KmsStoreError("'" + path + "' has no master key check");
    try {
      open(canary.text(0), kCanaryAad);
    } catch (const KmsStoreError&) {
      throw KmsStoreError("the master key from " + source_.describe() + " does not open '" + path +
                          "' (wrong key, or the key before the last rotate-master-key)");
    }
  } catch (...) {  // the destructor will not run
    OPENSSL_cleanse(master_.data(), master_.size());
    sqlite3_close_v2(db_);
    throw;
  }
}

KmsStore::~KmsStore() {
  OPENSSL_cleanse(master_.data(), master_.size());
  sqlite3_close_v2(db_);
}

void KmsStore::check_master() {
  Stmt s(db_, "SELECT value FROM meta WHERE name = 'master_key_id'");
  if (!s.step()) throw KmsStoreError("'" + path_ + "' has no master key id");
  const std::string want = s.text(0);
  if (want == master_key_id(master_)) return;
  const AeadKey next = source_.load();  // rotated under a running server: the source holds the new key
  if (master_key_id(next) != want)
    throw KmsStoreError("the database was re-sealed under another master key and " + source_.describe() +
                        " does not hold it (finish the rotation: put the new key there)");
  master_ = next;
}

CertAndKey KmsStore::server_cert() {
  std::lock_guard lock(mu_);
  check_master();
  Stmt s(db_, "SELECT cert, key FROM server WHERE id = 1");
  if (!s.step()) throw KmsStoreError("'" + path_ + "' has no server certificate");
  return {s.text(0), open(s.text(1), kServerAad)};
}

namespace {

// Organisation and worker names go into certificates (O, CN) and into the audit log's
// "org/party-N/worker": 1 to 64 letters, digits, '.', '_' or '-', so that no two identities print
// alike.
void check_name(const char* what, const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  if (!ok)
    throw KmsStoreError(std::string(what) + " '" + name +
                        "' is not a name: use 1 to 64 letters, digits, '.', '_' or '-'");
}

}  // namespace

void KmsStore::add_org(const std::string& org, int64_t now, int ca_days) {
  check_name("organisation", org);
  std::lock_guard lock(mu_);
  check_master();
  if (Stmt(db_, "SELECT 1 FROM orgs WHERE name = ?").bind(1, org).step())
    throw KmsStoreError("organisation '" + org + "' already exists");
  CertAndKey ca = make_org_ca(org, now, ca_days);
  Stmt(db_, "INSERT INTO orgs VALUES(?, ?, ?, ?)")
      .bind(1, org)
      .bind(2, ca.cert_pem)
      .blob(3, seal(ca.key_pem, org_aad(org)))
      .bind(4, now)
      .run();
  OPENSSL_cleanse(ca.key_pem.data(), ca.key_pem.size());
}

std::vector<std::string> KmsStore::orgs() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (Stmt s(db_, "SELECT name FROM orgs ORDER BY name"); s.step();) out.push_back(s.text(0));
  return out;
}

std::optional<std::string> KmsStore::org_ca_cert(const std::string& org) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT ca_cert FROM orgs WHERE name = ?");
  s.bind(1, org);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

CertAndKey KmsStore::org_ca(const std::string& org) {
  std::lock_guard lock(mu_);
  check_master();
  Stmt s(db_, "SELECT ca_cert, ca_key FROM orgs WHERE name = ?");
  s.bind(1, org);
  if (!s.step()) throw KmsStoreError("no organisation '" + org + "' (add it with `veil kms add-org`)");
  return {s.text(0), open(s.text(1), org_aad(org))};
}

int KmsStore::put_share_key(const std::string& model, int party, const AeadKey& key, const std::string& bundle_sha256,
                            int64_t now) {
  std::lock_guard lock(mu_);
  check_master();
  exec("BEGIN IMMEDIATE;");
  try {
    if (Stmt(db_, "SELECT 1 FROM share_keys WHERE model = ? AND party = ? AND bundle_sha256 = ? AND retired = 0")
            .bind(1, model)
            .bind(2, int64_t(party))
            .bind(3, bundle_sha256)
            .step())
      throw KmsStoreError("an active key of " + model + " party " + std::to_string(party) +
                          " already opens the bundle with SHA-256 " + bundle_sha256);
    Stmt v(db_, "SELECT COALESCE(MAX(version), 0) + 1 FROM share_keys WHERE model = ? AND party = ?");
    v.bind(1, model).bind(2, int64_t(party)).step();
    const int version = int(v.integer(0));
    std::string plain(key.begin(), key.end());
    Stmt(db_, "INSERT INTO share_keys VALUES(?, ?, ?, ?, ?, 0, ?)")
        .bind(1, model)
        .bind(2, int64_t(party))
        .bind(3, int64_t(version))
        .blob(4, seal(plain, share_key_aad(model, party, version)))
        .bind(5, bundle_sha256)
        .bind(6, now)
        .run();
    OPENSSL_cleanse(plain.data(), plain.size());
    exec("COMMIT;");
    return version;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK;", nullptr, nullptr, nullptr);
    throw;
  }
}

void KmsStore::retire_share_key(const std::string& model, int party, int version) {
  std::lock_guard lock(mu_);
  Stmt(db_, "UPDATE share_keys SET retired = 1 WHERE model = ? AND party = ? AND version = ?")
      .bind(1, model)
      .bind(2, int64_t(party))
      .bind(3, int64_t(version))
      .run();
  if (sqlite3_changes(db_) != 1)
    throw KmsStoreError("no key version " + std::to_string(version) + " of " + model + " party " +
                        std::to_string(party));
}

std::vector<ShareKeyInfo> KmsStore::share_keys(const std::string& model, int party) {
  std::lock_guard lock(mu_);
  std::vector<ShareKeyInfo> out;
  Stmt s(
      db_,
      "SELECT version, bundle_sha256, retired, created FROM share_keys WHERE model = ? AND party = ? ORDER BY version");
  s.bind(1, model).bind(2, int64_t(party));
  while (s.step()) out.push_back({int(s.integer(0)), s.text(1), s.integer(2) != 0, s.integer(3)});
  return out;
}

AeadKey KmsStore::share_key(const std::string& model, int party, int version) {
  std::lock_guard lock(mu_);
  check_master();
  Stmt s(db_, "SELECT key FROM share_keys WHERE model = ? AND party = ? AND version = ?");
  s.bind(1, model).bind(2, int64_t(party)).bind(3, int64_t(version));
  if (!s.step())
    throw KmsStoreError("no key version " + std::to_string(version) + " of " + model + " party " +
                        std::to_string(party));
  std::string plain = open(s.text(0), share_key_aad(model, party, version));
  AeadKey k{};
  if (plain.size() != k.size())
    throw KmsStoreError("share key " + share_key_aad(model, party, version) + " has the wrong length");
  std::copy(plain.begin(), plain.end(), k.begin());
  OPENSSL_cleanse(plain.data(), plain.size());
  return k;
}

void KmsStore::set_policy(const Policy& p) {
  std::lock_guard lock(mu_);
  if (!Stmt(db_, "SELECT 1 FROM orgs WHERE name = ?").bind(1, p.org).step())
    throw KmsStoreError("no organisation '" + p.org + "' (add it with `veil kms add-org`)");
  Stmt(db_, "INSERT OR REPLACE INTO policies VALUES(?, ?, ?, ?)")
      .bind(1, p.model)
      .bind(2, int64_t(p.party))
      .bind(3, p.org)
      .bind(4, nlohmann::json(p.versions).dump())
      .run();
}

std::optional<Policy> KmsStore::policy(const std::string& model, int party) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT org, versions FROM policies WHERE model = ? AND party = ?");
  s.bind(1, model).bind(2, int64_t(party));
  if (!s.step()) return std::nullopt;
  return Policy{model, party, s.text(0), nlohmann::json::parse(s.text(1)).get<std::vector<std::string>>()};
}

std::vector<Policy> KmsStore::policies() {
  std::lock_guard lock(mu_);
  std::vector<Policy> out;
  for (Stmt s(db_, "SELECT model, party, org, versions FROM policies ORDER BY model, party"); s.step();)
    out.push_back(
        {s.text(0), int(s.integer(1)), s.text(2), nlohmann::json::parse(s.text(3)).get<std::vector<std::string>>()});
  return out;
}

void KmsStore::add_token(const std::string& token_hash, const WorkerIdentity& id, int64_t expires, int64_t now) {
  check_name("worker", id.worker);
  std::lock_guard lock(mu_);
  if (!Stmt(db_, "SELECT 1 FROM orgs WHERE name = ?").bind(1, id.org).step())
    throw KmsStoreError("no organisation '" + id.org + "' (add it with `veil kms add-org`)");
  Stmt(db_, "INSERT INTO tokens VALUES(?, ?, ?, ?, ?, NULL, ?)")
      .bind(1, token_hash)
      .bind(2, id.org)
      .bind(3, int64_t(id.party))
      .bind(4, id.worker)
      .bind(5, expires)
      .bind(6, now)
      .run();
}

TokenUse KmsStore::consume_token(const std::string& token_hash, int64_t now, TokenInfo& info) {
  std::lock_guard lock(mu_);
  // Write first, with no statement open: a read transaction that later upgrades to a write fails at
  // once (SQLITE_BUSY_SNAPSHOT, no busy wait) when another process wrote in between.
  Stmt(db_, "UPDATE tokens SET used = ? WHERE hash = ? AND used IS NULL AND expires > ?")
      .bind(1, now)
      .bind(2, token_hash)
      .bind(3, now)
      .run();
  const bool consumed = sqlite3_changes(db_) == 1;
  Stmt s(db_, "SELECT org, party, worker, expires, used FROM tokens WHERE hash = ?");
  s.bind(1, token_hash);
  if (!s.step()) return TokenUse::unknown;
  info = {token_hash.substr(0, 16), {s.text(0), int(s.integer(1)), s.text(2)}, s.integer(3), std::nullopt};
  if (!s.null(4)) info.used = s.integer(4);
  if (consumed) return TokenUse::ok;
  return info.used ? TokenUse::used : TokenUse::expired;
}

std::vector<TokenInfo> KmsStore::tokens() {
  std::lock_guard lock(mu_);
  std::vector<TokenInfo> out;
  for (Stmt s(db_, "SELECT hash, org, party, worker, expires, used FROM tokens ORDER BY created"); s.step();)
    out.push_back({s.text(0).substr(0, 16),
                   {s.text(1), int(s.integer(2)), s.text(3)},
                   s.integer(4),
                   s.null(5) ? std::nullopt : std::optional<int64_t>(s.integer(5))});
  return out;
}

void KmsStore::audit(const AuditRecord& r) {
  std::lock_guard lock(mu_);
  Stmt(db_,
       "INSERT INTO audit(time, event, outcome, reason, detail, org, worker, party, model, worker_version, "
       "key_version, peer) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, r.time)
      .bind(2, r.event)
      .bind(3, r.outcome)
      .bind(4, r.reason)
      .bind(5, r.detail)
      .bind(6, r.org)
      .bind(7, r.worker)
      .bind(8, int64_t(r.party))
      .bind(9, r.model)
      .bind(10, r.worker_version)
      .bind(11, int64_t(r.key_version))
      .bind(12, r.peer)
      .run();
}

std::vector<AuditRecord> KmsStore::audit_log(int64_t after_id) {
  std::lock_guard lock(mu_);
  std::vector<AuditRecord> out;
  Stmt s(db_,
         "SELECT id, time, event, outcome, reason, detail, org, worker, party, model, worker_version, key_version, "
         "peer FROM audit WHERE id > ? ORDER BY id");
  s.bind(1, after_id);
  while (s.step())
    out.push_back({s.integer(0), s.integer(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.text(7),
                   int(s.integer(8)), s.text(9), s.text(10), int(s.integer(11)), s.text(12)});
  return out;
}

void KmsStore::rotate_master_key(const AeadKey& next) {
  std::lock_guard lock(mu_);
  check_master();
  struct Sealed {
    std::string model;
    int64_t party = 0, version = 0;
    std::string plain;
  };
  std::vector<Sealed> keys, cas;  // share keys; org CA keys (model = org name)
  std::string server_key;
  auto wipe = [&] {
    for (Sealed& k : keys) OPENSSL_cleanse(k.plain.data(), k.plain.size());
    for (Sealed& c : cas) OPENSSL_cleanse(c.plain.data(), c.plain.size());
    OPENSSL_cleanse(server_key.data(), server_key.size());
  };
  const AeadKey old = master_;
  exec("BEGIN IMMEDIATE;");
  try {
    for (Stmt s(db_, "SELECT model, party, version, key FROM share_keys"); s.step();)
      keys.push_back({s.text(0), s.integer(1), s.integer(2),
                      open(s.text(3), share_key_aad(s.text(0), int(s.integer(1)), int(s.integer(2))))});
    for (Stmt s(db_, "SELECT name, ca_key FROM orgs"); s.step();)
      cas.push_back({s.text(0), 0, 0, open(s.text(1), org_aad(s.text(0)))});
    Stmt server(db_, "SELECT key FROM server WHERE id = 1");
    if (server.step()) server_key = open(server.text(0), kServerAad);
    master_ = next;
    for (const Sealed& k : keys)
      Stmt(db_, "UPDATE share_keys SET key = ? WHERE model = ? AND party = ? AND version = ?")
          .blob(1, seal(k.plain, share_key_aad(k.model, int(k.party), int(k.version))))
          .bind(2, k.model)
          .bind(3, k.party)
          .bind(4, k.version)
          .run();
    for (const Sealed& c : cas)
      Stmt(db_, "UPDATE orgs SET ca_key = ? WHERE name = ?")
          .blob(1, seal(c.plain, org_aad(c.model)))
          .bind(2, c.model)
          .run();
    Stmt(db_, "UPDATE server SET key = ? WHERE id = 1").blob(1, seal(server_key, kServerAad)).run();
    Stmt(db_, "UPDATE meta SET value = ? WHERE name = 'canary'").blob(1, seal(kCanary, kCanaryAad)).run();
    Stmt(db_, "UPDATE meta SET value = ? WHERE name = 'master_key_id'").bind(1, master_key_id(next)).run();
    exec("COMMIT;");
  } catch (...) {
    master_ = old;
    sqlite3_exec(db_, "ROLLBACK;", nullptr, nullptr, nullptr);
    wipe();
    throw;
  }
  wipe();
}

}  // namespace veil::serve
