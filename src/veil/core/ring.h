// Rings Z_2^32 and Z_2^64 as explicit types.
#pragma once
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace veil {

enum class Ring { FM32, FM64 };

template <Ring R> struct RingTraits;
template <> struct RingTraits<Ring::FM32> {
  using T = uint32_t;        // element type; arithmetic wraps mod 2^32
  using S = int32_t;         // signed view
  static constexpr int bits = 32;
  static constexpr int default_frac_bits = 8;  // SPU / Ditto default for FM32
};
template <> struct RingTraits<Ring::FM64> {
  using T = uint64_t;
  using S = int64_t;
  static constexpr int bits = 64;
  static constexpr int default_frac_bits = 18;  // SPU / PUMA default for FM64
};

// The ring an element type belongs to.
template <class T> struct ring_of;
template <> struct ring_of<uint32_t> { static constexpr Ring value = Ring::FM32; };
template <> struct ring_of<uint64_t> { static constexpr Ring value = Ring::FM64; };

template <class T> constexpr int ring_bits = int(sizeof(T) * 8);
template <class T> using signed_t = std::make_signed_t<T>;

constexpr std::string_view ring_name(Ring r) { return r == Ring::FM32 ? "FM32" : "FM64"; }
template <class T> constexpr std::string_view ring_name() { return ring_name(ring_of<T>::value); }

}  // namespace veil
