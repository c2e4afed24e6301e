#include "veil/nn/session_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "veil/core/digest.h"

namespace veil::nn {

std::string read_session_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the session key file " + path);
  std::ostringstream s;
  s << in.rdbuf();
  std::string key = s.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
    key.pop_back();
  if (key.size() < 16)
    throw std::runtime_error("the session key file " + path + " holds " + std::to_string(key.size()) +
                             " characters; a key needs at least 16 (e.g. 64 hex digits)");
  return key;
}

std::string session_token_mac(const std::string& key, const std::string& payload) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
       mac, &len);
  return hex(std::span<const uint8_t>(mac, len));
}

std::string make_session_token(const std::string& key, const std::string& session, int group, int64_t expiry) {
  const std::string payload = session + "." + std::to_string(group) + "." + std::to_string(expiry);
  return payload + "." + session_token_mac(key, payload);
}

std::vector<uint8_t> encode_token(const std::string& token) {
  std::vector<uint8_t> out{kTokenMessage};
  out.insert(out.end(), token.begin(), token.end());
  return out;
}

bool decode_token(const std::vector<uint8_t>& msg, std::string& token, const std::string& from) {
  if (msg.empty() || msg[0] != kTokenMessage) return false;
  if (msg.size() - 1 > kMaxTokenBytes)
    throw std::runtime_error(from + " sent a session token of " + std::to_string(msg.size() - 1) +
                             " bytes, more than " + std::to_string(kMaxTokenBytes));
  token.assign(msg.begin() + 1, msg.end());
  return true;
}

std::string SessionTokenVerifier::accept(const std::string& token, int64_t now) {
  for (auto it = used_.begin(); it != used_.end();) it = it->second < now ? used_.erase(it) : std::next(it);
  if (token.empty())
    return "this party requires a session token from the gateway (POST /v1/sessions, then `veil generate "
           "--session-token`): session refused";
  const size_t mac_at = token.rfind('.');
  const std::string payload = token.substr(0, mac_at == std::string::npos ? 0 : mac_at);
  const std::string mac = mac_at == std::string::npos ? "" : token.substr(mac_at + 1);
  const std::string want = session_token_mac(key_, payload);
  if (mac.size() != want.size() || CRYPTO_memcmp(mac.data(), want.data(), want.size()) != 0)
    return "the session token is not one the gateway issued (bad MAC): session refused";
  const size_t g_at = payload.find('.'), e_at = payload.rfind('.');
  if (g_at == std::string::npos || e_at == g_at) return "the session token is malformed: session refused";
  const std::string session = payload.substr(0, g_at);
  int64_t group = -1, expiry = 0;
  try {
    size_t n = 0;
    const std::string gs = payload.substr(g_at + 1, e_at - g_at - 1), es = payload.substr(e_at + 1);
    group = std::stoll(gs, &n);
    if (n != gs.size()) throw std::invalid_argument(gs);
    expiry = std::stoll(es, &n);
    if (n != es.size()) throw std::invalid_argument(es);
  } catch (const std::exception&) {
    return "the session token is malformed: session refused";
  }
  if (expiry < now)
    return "the session token expired " + std::to_string(now - expiry) + " s ago: session refused, ask the gateway for a new one";
  if (group != group_)
    return "the session token is for party group " + std::to_string(group) + ", this party serves group " +
           std::to_string(group_) + ": session refused";
  if (used_.count(session)) return "the session token of session " + session + " was used before (replay): session refused";
  used_[session] = expiry;
  return "";
}

}  // namespace veil::nn
