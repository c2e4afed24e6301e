// core/: PRG determinism and independence, fixed-point encoding, tensors.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "veil/core/file_read.h"
#include "veil/core/fixed_point.h"
#include "veil/core/prg.h"
#include "veil/core/tensor.h"

namespace veil {
namespace {

TEST(Prg, SameSeedSameStreamAcrossDrawSizes) {
  Seed s = random_seed();
  Prg a(s), b(s);
  auto x = a.draw<uint64_t>(1000);
  auto y1 = b.draw<uint64_t>(300);
  auto y2 = b.draw<uint64_t>(700);
  y1.insert(y1.end(), y2.begin(), y2.end());
  EXPECT_EQ(x, y1);  // a stream does not depend on how it is chopped
  EXPECT_EQ(a.bytes_drawn(), 8000u);
}

TEST(Prg, DifferentSeedsDiffer) {
  Prg a(random_seed()), b(random_seed());
  EXPECT_NE(a.draw<uint64_t>(4), b.draw<uint64_t>(4));
}

TEST(Prg, MatchesAes128CtrKnownAnswer) {
  // With counter 0 the first keystream block is AES-128_K(0^128) for the SP 800-38A key
  // 2b7e1516…; the expected block is `openssl enc -aes-128-ecb -nopad` of 16 zero bytes.
  Seed key = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
  Prg p(key);
  auto block = p.draw<uint8_t>(16);
  const uint8_t want[16] = {0x7d, 0xf7, 0x6b, 0x0c, 0x1a, 0xb8, 0x99, 0xb3, 0x3e, 0x42, 0xf0, 0x47, 0xb9, 0x1b, 0x54, 0x6f};
  EXPECT_EQ(0, std::memcmp(block.data(), want, 16));
}

TEST(FixedPoint, RoundTripBothRings) {
  for (double x : {0.0, 1.0, -1.0, 3.14159, -1234.5678, 1e-3}) {
    EXPECT_NEAR(fxp_decode<uint64_t>(fxp_encode<uint64_t>(x, 18), 18), x, std::ldexp(1.0, -19));
    EXPECT_NEAR(fxp_decode<uint32_t>(fxp_encode<uint32_t>(x, 8), 8), x, std::ldexp(1.0, -9));
  }
  EXPECT_EQ(fxp_encode<uint32_t>(-1.0, 8), uint32_t(0xFFFFFF00));  // two's complement
}

TEST(Tensor, ShapeIsChecked) {
  EXPECT_THROW(Tensor<float>({2, 3}, std::vector<float>(5)), std::invalid_argument);
  Tensor<float> t({2, 3}, 1.5f);
  EXPECT_EQ(t.size(), 6u);
  EXPECT_EQ(t.dim(-1), 3);
  EXPECT_EQ(shape_str(t.shape), "(2,3)");
}

}  // namespace
}  // namespace veil

namespace veil {
namespace {

TEST(ReadFile, ReturnsEveryByteAndNulloptForAMissingFile) {
  const std::string path = ::testing::TempDir() + "/veil_read_file_test.bin";
  const std::string bytes("a\0b\r\n\xff", 6);  // binary: a NUL, a CR and a high byte survive
  std::ofstream(path, std::ios::binary) << bytes;
  ASSERT_TRUE(read_file(path).has_value());
  EXPECT_EQ(*read_file(path), bytes);
  EXPECT_EQ(read_file_or_throw(path), bytes);
  std::filesystem::remove(path);
  EXPECT_FALSE(read_file(path).has_value());
  try {
    read_file_or_throw(path);
    ADD_FAILURE() << "no error for a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + path);
  }
}

}  // namespace
}  // namespace veil
