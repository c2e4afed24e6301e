// Pseudo-random generator: AES-128 in counter mode (OpenSSL EVP, AES-NI where present).
// Two parties holding the same seed draw identical streams as long as they draw the same
// amounts in the same order; the MPC layer keeps its draws symmetric for that reason.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace veil {

using Seed = std::array<uint8_t, 16>;

Seed random_seed();  // from the OS (RAND_bytes)

class Prg {
 public:
  explicit Prg(const Seed& seed);
  Prg(Prg&&) noexcept;
  Prg& operator=(Prg&&) noexcept;
  ~Prg();

  void fill(void* out, size_t bytes);
  template <class T>
  std::vector<T> draw(size_t n) {
    std::vector<T> v(n);
    fill(v.data(), n * sizeof(T));
    return v;
  }
  uint64_t bytes_drawn() const { return drawn_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t drawn_ = 0;
};

}  // namespace veil
