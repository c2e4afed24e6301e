#include "veil/mpc/client_wire.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>


namespace veil::mpc {

namespace {

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
void put_values(std::vector<uint8_t>& out, const std::vector<uint64_t>& v) {
  const size_t at = out.size();
  out.resize(at + v.size() * 8);
  if (!v.empty()) std::memcpy(out.data() + at, v.data(), v.size() * 8);  // little-endian host (core/ring.h)
}

class Reader {
 public:
  Reader(const std::vector<uint8_t>& m, const std::string& from, const char* what) : m_(m), from_(from), what_(what) {}
  void need(uint64_t bytes) const {
    if (bytes > m_.size() - at_) truncated();
  }
  [[noreturn]] void truncated() const {
    throw std::runtime_error(from_ + " sent a malformed " + what_ + " message (" + std::to_string(m_.size()) +
                             " bytes, cut short)");
  }
  uint8_t u8() { need(1); return m_[at_++]; }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(m_[at_ + size_t(i)]) << (8 * i);
    at_ += 8;
    return v;
  }
  std::vector<uint64_t> values(uint64_t n) {
    if (n > (m_.size() - at_) / 8) truncated();
    std::vector<uint64_t> v(n);
    if (n) std::memcpy(v.data(), m_.data() + at_, n * 8);
    at_ += n * 8;
    return v;
  }
  std::vector<uint64_t> values32(uint64_t n) {  // widened, high halves zero
    if (n > (m_.size() - at_) / 4) truncated();
    std::vector<uint64_t> v(n);
    for (uint64_t i = 0; i < n; ++i, at_ += 4)
      v[i] = uint64_t(m_[at_]) | uint64_t(m_[at_ + 1]) << 8 | uint64_t(m_[at_ + 2]) << 16 | uint64_t(m_[at_ + 3]) << 24;
    return v;
  }
  Seed seed() {
    need(16);
    Seed s;
    std::memcpy(s.data(), m_.data() + at_, 16);
    at_ += 16;
    return s;
  }
  void end() const {
    if (at_ != m_.size())
      throw std::runtime_error(from_ + " sent a " + what_ + " message with " + std::to_string(m_.size() - at_) + " trailing bytes");
  }

 private:
  const std::vector<uint8_t>& m_;
  const std::string& from_;
  const char* what_;
  size_t at_ = 1;  // after the kind byte
};

WireComponent read_component(Reader& r, uint8_t form, uint64_t n, const std::string& from) {
  WireComponent c;
  if (form == 1) {
    c.seeded = true;
    c.seed = r.seed();
  } else if (form == 0) {
    c.values = r.values(n);
  } else if (form == 2) {
    c.low32 = true;
    c.values = r.values32(n);
  } else {
    throw std::runtime_error(from + " sent an input component of unknown form " + std::to_string(form));
  }
  return c;
}

void put_component(std::vector<uint8_t>& out, const WireComponent& c) {
  if (c.seeded) {
    out.insert(out.end(), c.seed.begin(), c.seed.end());
  } else if (c.low32) {
    for (uint64_t v : c.values)
      for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
  } else {
    put_values(out, c.values);
  }
}

uint8_t form_of(const WireComponent& c) { return c.seeded ? 1 : c.low32 ? 2 : 0; }

std::vector<uint64_t> expand(const WireComponent& c, uint64_t n) {
  return c.seeded ? Prg(c.seed).draw<uint64_t>(n) : c.values;
}

Seed draw_seed(Prg& prg) {
  Seed s;
  prg.fill(s.data(), s.size());
  return s;
}

}  // namespace

std::array<WirePair, 3> client_split_seeded(const std::vector<uint64_t>& x, Prg& prg, int ring_bits) {
  if (ring_bits != 32 && ring_bits != 64) throw std::invalid_argument("client_split_seeded: ring_bits must be 32 or 64");
  const uint64_t n = x.size();
  const bool low32 = ring_bits == 32;
  WireComponent c0{true, draw_seed(prg), {}}, c1{true, draw_seed(prg), {}};
  std::vector<uint64_t> x0 = expand(c0, n), x1 = expand(c1, n), x2(n);
  for (size_t i = 0; i < n; ++i) x2[i] = (x[i] - x0[i] - x1[i]) & (low32 ? 0xFFFFFFFFull : ~0ull);
  WireComponent c2{false, {}, std::move(x2), low32};
  return {WirePair{n, c0, c1}, WirePair{n, c1, c2}, WirePair{n, std::move(c2), c0}};
}

SharePair expand(const WirePair& p) { return {expand(p.first, p.n), expand(p.second, p.n)}; }

std::vector<uint8_t> encode_input(const WirePair& p) {
  std::vector<uint8_t> out{uint8_t(ClientMessage::input)};
  put_u64(out, p.n);
  out.push_back(form_of(p.first));
  out.push_back(form_of(p.second));
  put_component(out, p.first);
  put_component(out, p.second);
  return out;
}

WirePair decode_input(const std::vector<uint8_t>& msg, uint64_t max_n, const std::string& from) {
  if (message_kind(msg, from) != ClientMessage::input)
    throw std::runtime_error(from + " sent a message of kind '" + std::string(1, char(msg[0])) + "' where an input was due");
  Reader r(msg, from, "input");
  WirePair p;
  p.n = r.u64();
  if (p.n > max_n)
    throw std::runtime_error(from + " sent an input of " + std::to_string(p.n) + " elements, more than the " +
                             std::to_string(max_n) + " this session allows");
  const uint8_t f0 = r.u8(), f1 = r.u8();
  p.first = read_component(r, f0, p.n, from);
  p.second = read_component(r, f1, p.n, from);
  r.end();
  return p;
}

std::vector<uint8_t> encode_output(const SharePair& p, const net::Traffic& traffic) {
  std::vector<uint8_t> out{uint8_t(ClientMessage::output)};
  out.reserve(25 + 16 * p.first.size());
  put_u64(out, traffic.bytes);
  put_u64(out, traffic.rounds);
  put_u64(out, p.first.size());
  put_values(out, p.first);
  put_values(out, p.second);
  return out;
}

SharePair decode_output(const std::vector<uint8_t>& msg, net::Traffic& traffic, const std::string& from) {
  const ClientMessage kind = message_kind(msg, from);
  if (kind == ClientMessage::error) throw std::runtime_error(from + " gave up on the session: " + error_text(msg));
  if (kind != ClientMessage::output)
    throw std::runtime_error(from + " sent a message of kind '" + std::string(1, char(msg[0])) + "' where an output was due");
  Reader r(msg, from, "output");
  traffic.bytes = r.u64();
  traffic.rounds = r.u64();
  const uint64_t n = r.u64();
  SharePair p;
  p.first = r.values(n);
  p.second = r.values(n);
  r.end();
  return p;
}

std::vector<uint8_t> encode_error(const std::string& text) {
  std::vector<uint8_t> out(1 + text.size());
  out[0] = uint8_t(ClientMessage::error);
  std::copy(text.begin(), text.end(), out.begin() + 1);
  return out;
}

ClientMessage message_kind(const std::vector<uint8_t>& msg, const std::string& from) {
  if (msg.empty()) throw std::runtime_error(from + " sent an empty message");
  return ClientMessage(msg[0]);
}

std::string error_text(const std::vector<uint8_t>& msg) {
  return msg.empty() ? std::string() : std::string(msg.begin() + 1, msg.end());
}

}  // namespace veil::mpc
