// Share bundle: one party's secret shares of a model, encrypted at rest. The model owner writes
// the three bundles (`veil share-model`, nn/share_model.h); each `veil party --serve` decrypts its
// own once at start-up. A party never holds plaintext weights; a bundle without its key reveals
// nothing but its size and the header below.
//
// File layout (integers little-endian):
//   BundleHeader (36 bytes) = magic "veil-shb" (8) | version u32 (4) | party u32 (4)
//                             | plaintext length u64 (8) | nonce (12)
//   ciphertext (plaintext length bytes)
//   tag (16)
// Encryption: AES-256-GCM under the party's bundle key, a fresh random nonce per bundle, the
// whole 36-byte header as additional authenticated data (so the party id and length cannot be
// altered either). A wrong key, a modified byte anywhere, or a file cut short or extended fails
// to open with an error that says which.
//
// Plaintext: a safetensors file (model/safetensors.h) with two U64 tensors per weight, named
// "s0/<canonical name>" and "s1/<canonical name>" (model/checkpoint_layout.h): the party's
// replicated pair (x_i, x_{i+1}) of the weight's FM64 fixed-point encoding. Its metadata:
//   "format": "veil-share-bundle", "party": "<id>", "ring": "FM64", "frac_bits": "<F>",
//   "config.json": the text of the model's config.json.
// A bundle dealt for a precision plan (`veil share-model --precision ditto|PLAN.json`, served by
// the mixed-precision backend, nn/ditto_backend.h) holds each weight once per ring its ops use
// (nn/plan_weights.h), named "s0/<ring>/<canonical name>" and "s1/<ring>/<canonical name>" (ring
// FM32 or FM64; FM32 elements widened to U64, each below 2^32), with the metadata
//   "format": "veil-share-bundle", "party": "<id>", "ring": "plan", "config.json": as above,
//   "precision_plan": the plan as nn/precision_plan.h's plan_json (its calibrated scales included),
//   "plan_sha256": plan_fingerprint of it (hex), "encodings": {"<ring>/<name>": fraction bits}.
// Reading checks the fingerprint against the plan and each encoding against what the plan gives
// the weight (weight_encodings).
// The party id is in both the header and the plaintext; reading checks both against the id the
// reader expects.
//
// Key file: the 32-byte key as 64 hexadecimal digits and a newline, mode 0600. In production
// each party's key goes to that party only (today by hand; S3ML's key release to attested
// workers will take this file's place), and the key never travels with the bundle.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "veil/core/aead.h"
#include "veil/mpc/share.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/precision_plan.h"

namespace veil::nn {

// A bundle or key file that cannot be written, read, decrypted or understood.
struct BundleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr std::array<uint8_t, 8> kBundleMagic = {'v', 'e', 'i', 'l', '-', 's', 'h', 'b'};
inline constexpr uint32_t kBundleVersion = 1;

struct BundleHeader {
  std::array<uint8_t, 8> magic;      // kBundleMagic
  std::array<uint8_t, 4> version_le;  // kBundleVersion
  std::array<uint8_t, 4> party_le;    // 0, 1 or 2
  std::array<uint8_t, 8> length_le;   // plaintext (= ciphertext) bytes
  std::array<uint8_t, 12> nonce;
};
static_assert(sizeof(BundleHeader) == 36);

struct ShareBundle {
  int party = -1;
  int frac_bits = 0;
  std::string config_json;  // the model's config.json, verbatim
  std::map<std::string, mpc::AShare<uint64_t>> weights;  // canonical name -> this party's pair
  // A bundle dealt for a precision plan: the plan and every encoding of each weight (`weights` and
  // frac_bits stay empty).
  std::optional<PrecisionPlan> plan;
  PlanWeightShares plan_weights;
};

// Encrypts `bundle` under `key` into `path` (replacing it). Throws BundleError.
void write_share_bundle(const std::string& path, const ShareBundle& bundle, const AeadKey& key);

// Reads and decrypts `path`, which must be party `expected_party`'s bundle. Throws BundleError
// naming the file and what is wrong: not a bundle, another version, another party's bundle,
// truncated or extended, wrong key or modified contents.
ShareBundle read_share_bundle(const std::string& path, const AeadKey& key, int expected_party);

// Key files. Writing refuses to replace an existing file and creates it with mode 0600.
void write_bundle_key(const std::string& path, const AeadKey& key);
AeadKey read_bundle_key(const std::string& path);

}  // namespace veil::nn
