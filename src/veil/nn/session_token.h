// The gateway's session tokens (serve/gateway.h) as the serving parties check them
// (`veil party --serve --session-key FILE --group N`):
//
//   token = session.group.expiry.HMAC-SHA256(key, "session.group.expiry")   (MAC in lower-case hex)
//
// The client sends the token before its request, on each client–party connection:
//
//   client -> party i   'T' | token (ASCII, at most 512 bytes)   optional; required by a party
//                                                                  with a session key
//   then                the request of nn/session_request.h
//
// A party with a key refuses a session without a token, with a MAC that is not the key's, past its
// expiry (Unix seconds), for another group, or whose token it has accepted before (each party
// remembers the tokens it accepted until their expiry).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace veil::nn {

inline constexpr uint8_t kTokenMessage = 'T';
inline constexpr size_t kMaxTokenBytes = 512;

// The key file's content (the HMAC key is its text without trailing white space). Throws
// std::runtime_error for a missing file or a key of fewer than 16 characters.
std::string read_session_key(const std::string& path);

// payload = session.group.expiry; returns payload + "." + hex HMAC-SHA256(key, payload).
std::string make_session_token(const std::string& key, const std::string& session, int group, int64_t expiry);
std::string session_token_mac(const std::string& key, const std::string& payload);

std::vector<uint8_t> encode_token(const std::string& token);
// True when `msg` is a token message; its text goes to `token`. Throws std::runtime_error naming
// `from` for a token message that is too long.
bool decode_token(const std::vector<uint8_t>& msg, std::string& token, const std::string& from);

class SessionTokenVerifier {
 public:
  SessionTokenVerifier(std::string key, int group) : key_(std::move(key)), group_(group) {}
  // "" when `token` is valid for this party's group at `now` (Unix seconds) and not seen before
  // (it is then remembered until its expiry); otherwise why not, for the client.
  std::string accept(const std::string& token, int64_t now);

 private:
  std::string key_;
  int group_;
  std::map<std::string, int64_t> used_;  // session id -> expiry
};

}  // namespace veil::nn
