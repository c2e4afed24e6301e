// Messages of ring elements followed by densely packed bit fields, for kernels whose parties send
// parts of ring elements (mpc/dealt.cpp, mpc/ring_cast.cpp). A message's size is the elements'
// bytes plus its field bits rounded up to whole bytes; the receiver knows both counts.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace veil::mpc {

// A message: ring elements, then bit fields packed densely (least significant bit first).
class MsgOut {
 public:
  MsgOut() = default;
  MsgOut(int64_t elt_bytes, int64_t field_bits) {
    elts_.reserve(size_t(elt_bytes));
    fields_.reserve(size_t(field_bits / 64 + 1));
  }
  template <class T> void put(T v) {
    const size_t at = elts_.size();
    elts_.resize(at + sizeof(T));
    std::memcpy(elts_.data() + at, &v, sizeof(T));
  }
  template <class T> void put_all(const T* v, size_t n) {
    if (n == 0) return;  // v may be null for an empty tensor
    const size_t at = elts_.size();
    elts_.resize(at + n * sizeof(T));
    std::memcpy(elts_.data() + at, v, n * sizeof(T));
  }
  void field(uint64_t v, int bits) {  // 1 ≤ bits ≤ 64
    if (bits < 64) v &= (uint64_t(1) << bits) - 1;
    acc_ |= v << nb_;
    if (nb_ + bits >= 64) {
      flush_word();
      acc_ = nb_ ? v >> (64 - nb_) : 0;
      nb_ = nb_ + bits - 64;
    } else {
      nb_ += bits;
    }
  }
  // The bytes to send: elements, then the fields (the last word cut to its used bytes).
  std::vector<uint8_t> bytes() {
    std::vector<uint8_t> out = std::move(elts_);
    const size_t at = out.size();
    out.resize(at + fields_.size() * 8 + size_t((nb_ + 7) / 8));
    if (!fields_.empty()) std::memcpy(out.data() + at, fields_.data(), fields_.size() * 8);
    for (int b = 0; b < (nb_ + 7) / 8; ++b) out[at + fields_.size() * 8 + size_t(b)] = uint8_t(acc_ >> (8 * b));
    return out;
  }
 private:
  void flush_word() { fields_.push_back(acc_); }
  std::vector<uint8_t> elts_;
  std::vector<uint64_t> fields_;
  uint64_t acc_ = 0;
  int nb_ = 0;
};

class MsgIn {
 public:
  // `data` must carry 16 bytes of slack after the message: fields are read a whole word at a time.
  MsgIn(std::vector<uint8_t> data, size_t elt_bytes) : data_(std::move(data)), field_at_(elt_bytes) {}
  template <class T> T get() {
    T v;
    std::memcpy(&v, data_.data() + elt_at_, sizeof(T));
    elt_at_ += sizeof(T);
    return v;
  }
  uint64_t field(int bits) {  // 1 ≤ bits ≤ 64
    const size_t byte = field_at_ + bitpos_ / 8;
    const int off = int(bitpos_ % 8);
    uint64_t lo, hi;
    std::memcpy(&lo, data_.data() + byte, 8);
    std::memcpy(&hi, data_.data() + byte + 8, 8);
    uint64_t v = off ? (lo >> off) | (hi << (64 - off)) : lo;
    bitpos_ += size_t(bits);
    return bits < 64 ? v & ((uint64_t(1) << bits) - 1) : v;
  }
 private:
  std::vector<uint8_t> data_;
  size_t elt_at_ = 0, field_at_;
  size_t bitpos_ = 0;
};

}  // namespace veil::mpc
