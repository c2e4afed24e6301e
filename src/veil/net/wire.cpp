#include "veil/net/wire.h"

namespace veil::net::wire {

namespace {
template <size_t N> std::array<uint8_t, N> to_le(uint64_t v) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = uint8_t(v >> (8 * i));
  return out;
}
template <size_t N> uint64_t from_le(const std::array<uint8_t, N>& b) {
  uint64_t v = 0;
  for (size_t i = 0; i < N; ++i) v |= uint64_t(b[i]) << (8 * i);
  return v;
}
}  // namespace

Hello make_hello(uint32_t party, uint32_t version) {
  return Hello{kHelloMagic, to_le<4>(version), to_le<4>(party)};
}

std::optional<HelloFields> read_hello(const Hello& h) {
  if (h.magic != kHelloMagic) return std::nullopt;
  return HelloFields{uint32_t(from_le(h.version_le)), uint32_t(from_le(h.party_le))};
}

FrameHeader make_frame_header(uint64_t length) { return FrameHeader{kFrameMagic, to_le<8>(length)}; }

std::optional<uint64_t> read_frame_header(const FrameHeader& h) {
  if (h.magic != kFrameMagic) return std::nullopt;
  return from_le(h.length_le);
}

}  // namespace veil::net::wire
