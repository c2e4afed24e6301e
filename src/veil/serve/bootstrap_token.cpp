#include "veil/serve/bootstrap_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "veil/core/aead.h"
#include "veil/core/digest.h"

namespace veil::serve {

std::string new_bootstrap_token() {
  const AeadKey bytes = random_aead_key();  // 32 bytes from the OS
  return hex(bytes);
}

void write_token_file(const std::string& path, const std::string& token) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write '" + path + "': " + std::strerror(errno));
  ::fchmod(fd, 0600);  // whatever the umask
  const std::string text = token + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write '" + path + "'");
}

std::string bootstrap_token_hash(const std::string& token) { return hex(sha256(token)); }

std::string issue_bootstrap_token(KmsStore& store, const WorkerIdentity& id, int64_t now, int64_t ttl_seconds) {
  if (ttl_seconds < 1) throw std::invalid_argument("a bootstrap token must live at least 1 second");
  std::string token = new_bootstrap_token();
  store.add_token(bootstrap_token_hash(token), id, now + ttl_seconds, now);
  return token;
}

AttestationResult BootstrapTokenVerifier::verify(const AttestationEvidence& evidence, int64_t now) {
  AttestationResult r;
  if (evidence.token.empty()) {
    r.reason = "bad_token";
    r.detail = "no bootstrap token in the evidence";
    return r;
  }
  TokenInfo info;
  switch (store_.consume_token(bootstrap_token_hash(evidence.token), now, info)) {
    case TokenUse::unknown:
      r.reason = "bad_token";
      r.detail = "the bootstrap token is not one this KMS issued";
      return r;
    case TokenUse::used:
      r.identity = info.identity;
      r.reason = "token_replayed";
      r.detail = "bootstrap token " + info.id + " was already used at " + format_time(*info.used);
      return r;
    case TokenUse::expired:
      r.identity = info.identity;
      r.reason = "token_expired";
      r.detail = "bootstrap token " + info.id + " expired at " + format_time(info.expires);
      return r;
    case TokenUse::ok:
      break;
  }
  r.ok = true;
  r.identity = info.identity;
  r.claims["token_id"] = info.id;
  return r;
}

}  // namespace veil::serve
