// core/aead and core/digest: AES-256-GCM round trip, tamper detection, known answers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "veil/core/aead.h"
#include "veil/core/digest.h"

namespace veil {
namespace {

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(Aead, RoundTripAndEveryTamperFails) {
  const AeadKey key = random_aead_key();
  const AeadNonce nonce = random_aead_nonce();
  const std::vector<uint8_t> aad = bytes("header"), plain = bytes("three parties, one secret");
  std::vector<uint8_t> data = plain;
  const AeadTag tag = aes256gcm_seal(key, nonce, aad, data);
  EXPECT_NE(data, plain);

  std::vector<uint8_t> copy = data;
  ASSERT_TRUE(aes256gcm_open(key, nonce, aad, copy, tag));
  EXPECT_EQ(copy, plain);

  AeadKey other = key;
  other[0] ^= 1;
  copy = data;
  EXPECT_FALSE(aes256gcm_open(other, nonce, aad, copy, tag));  // wrong key
  copy = data;
  copy[3] ^= 0x80;
  EXPECT_FALSE(aes256gcm_open(key, nonce, aad, copy, tag));  // modified ciphertext
  copy = data;
  std::vector<uint8_t> aad2 = aad;
  aad2[0] ^= 1;
  EXPECT_FALSE(aes256gcm_open(key, nonce, aad2, copy, tag));  // modified header
  AeadTag tag2 = tag;
  tag2[15] ^= 1;
  copy = data;
  EXPECT_FALSE(aes256gcm_open(key, nonce, aad, copy, tag2));  // modified tag
  copy.assign(data.begin(), data.end() - 1);
  EXPECT_FALSE(aes256gcm_open(key, nonce, aad, copy, tag));  // truncated
}

TEST(Aead, MatchesGcmKnownAnswer) {
  // NIST GCM test case 13 (McGrew & Viega): zero 256-bit key, zero IV, empty plaintext.
  const AeadKey key{};
  const AeadNonce nonce{};
  std::vector<uint8_t> none;
  const AeadTag tag = aes256gcm_seal(key, nonce, {}, none);
  EXPECT_EQ(hex(tag), "530f8afbc74536b9a963b4f1c4cb738b");
}

TEST(Digest, Sha256KnownAnswer) {
  EXPECT_EQ(hex(sha256(std::string_view("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace veil
