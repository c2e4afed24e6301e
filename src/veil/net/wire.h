// Wire format of the TCP transport: the connection hello and the frame header. The full spec is
// at the top of tcp_transport.h. Multi-byte integers are little-endian byte arrays, so the structs
// have no padding and no alignment, and mean the same on every host.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

namespace veil::net::wire {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr std::array<uint8_t, 8> kHelloMagic = {'v', 'e', 'i', 'l', '-', 'n', 'e', 't'};
inline constexpr std::array<uint8_t, 4> kFrameMagic = {'V', 'F', 'R', '1'};

struct Hello {                   // first bytes each side sends on a new connection
  std::array<uint8_t, 8> magic;  // kHelloMagic
  std::array<uint8_t, 4> version_le;
  std::array<uint8_t, 4> party_le;  // sender's party id
};
static_assert(sizeof(Hello) == 16);

struct FrameHeader {             // precedes every frame's payload
  std::array<uint8_t, 4> magic;  // kFrameMagic
  std::array<uint8_t, 8> length_le;  // payload bytes
};
static_assert(sizeof(FrameHeader) == 12);

struct HelloFields {
  uint32_t version;
  uint32_t party;
};

Hello make_hello(uint32_t party, uint32_t version = kProtocolVersion);
std::optional<HelloFields> read_hello(const Hello& h);  // nullopt: wrong magic
FrameHeader make_frame_header(uint64_t length);
std::optional<uint64_t> read_frame_header(const FrameHeader& h);  // nullopt: wrong magic

}  // namespace veil::net::wire
