// Share bundles: the model owner's split decrypts to pairs that reconstruct the fixed-point
// weights; a wrong key, a modified or truncated bundle, another party's bundle and a bad key
// file fail with clear messages; `veil share-model` writes bundles, 0600 keys and the client
// folder. Bundles dealt for a precision plan hold every encoding of each weight and the plan, and
// refuse to load encodings the plan does not give.
#include <sys/stat.h>

#include "nn_test_util.h"
#include "veil/core/fixed_point.h"
#include "veil/nn/plan_weights.h"
#include "veil/nn/share_bundle.h"
#include "veil/nn/share_model.h"

namespace veil::nn {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

class ShareBundleTest : public ::testing::Test {
 protected:
  void SetUp() override { report_ = share_model(test::gpt2_fixture(), out_, {}); }
  test::TempDir tmp_;
  std::string out_ = tmp_.sub("shared");
  ShareModelReport report_;
  AeadKey key(int i) const { return read_bundle_key(report_.keys[size_t(i)]); }
};

TEST_F(ShareBundleTest, BundlesReconstructTheFixedPointWeights) {
  std::array<ShareBundle, 3> b;
  for (int i = 0; i < 3; ++i) b[size_t(i)] = read_share_bundle(report_.bundles[size_t(i)], key(i), i);
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(test::gpt2_fixture());
  std::ifstream cfg(test::gpt2_fixture() + "/config.json");
  EXPECT_EQ(b[1].config_json, std::string(std::istreambuf_iterator<char>(cfg), {}));
  ASSERT_EQ(b[0].weights.size(), ck.weights.size());
  for (const auto& [name, w] : ck.weights) {
    const auto &p0 = b[0].weights.at(name), &p1 = b[1].weights.at(name), &p2 = b[2].weights.at(name);
    EXPECT_EQ(p0.shape, w.shape) << name;
    EXPECT_EQ(p0.s1, p1.s0) << name;  // replicated: party i's second component is party i+1's first
    EXPECT_EQ(p1.s1, p2.s0) << name;
    EXPECT_EQ(p2.s1, p0.s0) << name;
    for (size_t k = 0; k < w.size(); k += 97)
      ASSERT_EQ(p0.s0[k] + p1.s0[k] + p2.s0[k], fxp_encode<uint64_t>(double(w.data[k]), b[0].frac_bits)) << name;
  }
  for (int i = 0; i < 3; ++i) {
    struct stat st{};
    ASSERT_EQ(::stat(report_.keys[size_t(i)].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << report_.keys[size_t(i)];
  }
  for (const char* f : {"config.json", "vocab.json", "merges.txt"})
    EXPECT_TRUE(std::filesystem::exists(report_.client_dir + "/" + f)) << f;
  EXPECT_FALSE(std::filesystem::exists(report_.client_dir + "/model.safetensors"));
}

TEST_F(ShareBundleTest, WrongKeyTamperTruncationAndWrongPartyAreNamed) {
  const std::string p0 = report_.bundles[0];
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(p0, key(1), 0); }),
               "authentication failed: wrong key for this bundle, or the bundle was modified");
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(p0, key(0), 1); }),
               "is party 0's bundle, but this is party 1");

  const std::vector<uint8_t> good = read_bytes(p0);
  const std::string bad = tmp_.path() + "/bad.bundle";
  std::vector<uint8_t> b = good;
  b[good.size() / 2] ^= 0x01;  // one bit of ciphertext
  write_bytes(bad, b);
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(bad, key(0), 0); }), "authentication failed");
  b = good;
  b[16] ^= 0x01;  // the header's length field, authenticated as AAD
  write_bytes(bad, b);
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(bad, key(0), 0); }), "its header announces");
  b = good;
  b[30] ^= 0x01;  // the nonce
  write_bytes(bad, b);
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(bad, key(0), 0); }), "authentication failed");
  b.assign(good.begin(), good.end() - 100);
  write_bytes(bad, b);
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(bad, key(0), 0); }), "(truncated)");
  b.assign(good.begin(), good.begin() + 20);
  write_bytes(bad, b);
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(bad, key(0), 0); }), "too short for a bundle");
  b = good;
  b.push_back(0);
  write_bytes(bad, b);
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(bad, key(0), 0); }), "extra bytes after the end");
  b = good;
  b[0] = 'X';
  write_bytes(bad, b);
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(bad, key(0), 0); }), "is not a veil share bundle");

  const std::string k = tmp_.path() + "/short.key";
  std::ofstream(k) << "abcd\n";
  EXPECT_PRED2(test::contains, error_of([&] { read_bundle_key(k); }), "64 hexadecimal digits");
}

TEST_F(ShareBundleTest, KeysAreNeverReplacedAndCanBeReused) {
  EXPECT_PRED2(test::contains, error_of([&] { share_model(test::gpt2_fixture(), out_, {}); }), "already exists");
  ShareModelOptions force;
  force.overwrite = true;
  EXPECT_PRED2(test::contains, error_of([&] { share_model(test::gpt2_fixture(), out_, force); }), "pass --key-dir");
  const std::string again = tmp_.sub("again");
  const ShareModelReport r = share_model(test::gpt2_fixture(), again, {.key_dir = out_ + "/keys"});
  EXPECT_EQ(read_share_bundle(r.bundles[2], key(2), 2).party, 2);  // sealed under the old key
}

TEST(ShareModelCli, WritesBundlesAndExplainsMissingFlags) {
  test::TempDir tmp;
  const std::string veil = VEIL_BINARY;
  test::CommandResult r = test::run_command(veil + " share-model " + test::gpt2_fixture() + " --out " + tmp.path() + "/s 2>&1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_PRED2(test::contains, r.out, "party 2: bundle");
  r = test::run_command(veil + " share-model " + test::gpt2_fixture() + " 2>&1");
  EXPECT_NE(r.rc, 0);
  EXPECT_PRED2(test::contains, r.out, "--out is required");
  r = test::run_command(veil + " share-model " + tmp.path() + " --out " + tmp.path() + "/t 2>&1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_PRED2(test::contains, r.out, "has no vocab.json");
}

// `veil share-model --precision ditto` on the distilled model: each weight on the rings its ops
// use, with the folder plan's calibrated fraction bits, the plan in every bundle and in the client
// folder; an encoding the plan does not give is refused on reading.
TEST(PlanBundleTest, BundlesHoldThePlanAndEveryEncoding) {
  const std::string model = test::repo_path("models/tiny-gpt2-ditto");
  if (!std::filesystem::exists(model + "/plan.json")) GTEST_SKIP() << model << " is absent";
  test::TempDir tmp;
  ShareModelOptions opt;
  opt.precision = "ditto";
  const ShareModelReport r = share_model(model, tmp.sub("shared"), opt);
  EXPECT_PRED2(test::contains, r.plan_source, "plan.json (ditto, 52 calibrated scales)");
  const PrecisionPlan plan = load_precision_plan(model + "/plan.json");
  EXPECT_EQ(plan_fingerprint(load_precision_plan(r.client_dir + "/plan.json")), plan_fingerprint(plan));
  std::array<ShareBundle, 3> b;
  for (int i = 0; i < 3; ++i) b[size_t(i)] = read_share_bundle(r.bundles[size_t(i)], read_bundle_key(r.keys[size_t(i)]), i);
  ASSERT_TRUE(b[0].plan.has_value());
  EXPECT_EQ(plan_fingerprint(*b[0].plan), plan_fingerprint(plan));
  EXPECT_TRUE(b[0].weights.empty());
  const Gpt2Checkpoint ck = load_gpt2_checkpoint(model);
  ASSERT_EQ(b[0].plan_weights.size(), ck.weights.size());
  int64_t fm32 = 0;
  for (const auto& [name, w] : ck.weights) {
    const std::vector<WeightEncoding> want = weight_encodings(plan, name, true);
    const auto& e0 = b[0].plan_weights.at(name);
    ASSERT_EQ(e0.size(), want.size()) << name;
    for (size_t e = 0; e < want.size(); ++e) {
      ASSERT_EQ(e0[e].ring, want[e].ring) << name;
      EXPECT_EQ(e0[e].frac_bits, want[e].frac_bits) << name;
      const RingTensor &p0 = e0[e], &p1 = b[1].plan_weights.at(name)[e], &p2 = b[2].plan_weights.at(name)[e];
      for (size_t k = 0; k < w.size(); k += 89) {
        const int64_t v = encode_weight(double(w.data[k]), want[e]);
        if (p0.ring == Ring::FM32)
          ASSERT_EQ(uint32_t(p0.a32.s0[k] + p1.a32.s0[k] + p2.a32.s0[k]), uint32_t(v)) << name;
        else
          ASSERT_EQ(p0.a64.s0[k] + p1.a64.s0[k] + p2.a64.s0[k], uint64_t(v)) << name;
      }
      fm32 += p0.ring == Ring::FM32;
    }
  }
  EXPECT_GT(fm32, 0);
  // A bundle whose encoding disagrees with its plan.
  ShareBundle bad = b[0];
  RingTensor& first = bad.plan_weights.at("h.0.mlp.c_fc.weight").front();
  first.frac_bits += 1;
  const std::string path = tmp.path() + "/bad.bundle";
  write_share_bundle(path, bad, read_bundle_key(r.keys[0]));
  EXPECT_PRED2(test::contains, error_of([&] { read_share_bundle(path, read_bundle_key(r.keys[0]), 0); }),
               "weight 'h.0.mlp.c_fc.weight' is not encoded on FM32 with " + std::to_string(first.frac_bits - 1) +
                   " fraction bits, as its plan asks");
}

}  // namespace
}  // namespace veil::nn
