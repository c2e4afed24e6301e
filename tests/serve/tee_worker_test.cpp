// TEE workers (`veil tee-worker`): the sealed model and its refusals, a worker process whose
// generation equals the plaintext backend's, its session tokens and flags, and the model key
// released by the KMS on a bootstrap token, refused for a bad token, a tampered sealed model and
// the real SGX sample quote (which binds no key of ours), each refusal audited. The worker runs
// as an ordinary process here (no SGX on this machine).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "attest/attest_test_util.h"
#include "nn/nn_test_util.h"
#include "nn/process_util.h"
#include "serve/kms_test_util.h"
#include "veil/nn/checkpoint.h"
#include "veil/nn/generate.h"
#include "veil/nn/gpt2.h"
#include "veil/nn/plain_backend.h"
#include "veil/nn/session_token.h"
#include "veil/serve/dcap_verifier.h"
#include "veil/serve/sealed_model.h"
#include "veil/serve/tee_wire.h"

namespace veil::serve::test {
namespace {

using namespace std::chrono_literals;
using nn::test::Process;
using nn::test::Processes;

const std::string kModel = nn::test::repo_path("models/tiny-gpt2");

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void flip_byte(const std::string& path, size_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(std::streamoff(at));
  char c = 0;
  f.get(c);
  f.seekp(std::streamoff(at));
  f.put(char(c ^ 1));
}

std::string open_error(const std::string& path, const AeadKey& key) {
  try {
    open_sealed_model(path, key);
  } catch (const SealedModelError& e) {
    return e.what();
  }
  return "";
}

TEST(SealedModel, OpensToTheFolderItWasSealedFromAndRefusesWrongKeysAndModifiedFiles) {
  nn::test::TempDir tmp;
  const std::string path = tmp.path() + "/m.tsm";
  const AeadKey key = random_aead_key();
  seal_model(kModel, path, key);
  const OpenedModel m = open_sealed_model(path, key);
  const nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(kModel);
  EXPECT_EQ(m.config_json, slurp(kModel + "/config.json"));
  EXPECT_EQ(m.config.n_layer, ck.config.n_layer);
  ASSERT_EQ(m.weights.size(), ck.weights.size());
  for (const auto& [name, w] : ck.weights) {
    ASSERT_TRUE(m.weights.count(name)) << name;
    EXPECT_EQ(m.weights.at(name).data, w.data) << name;
  }
  EXPECT_NE(open_error(path, random_aead_key()).find("does not open with this key"), std::string::npos);
  EXPECT_NE(slurp(path).find("veil-tsm"), std::string::npos);

  std::filesystem::copy_file(path, tmp.path() + "/flipped.tsm");
  flip_byte(tmp.path() + "/flipped.tsm", 100);  // in the ciphertext
  EXPECT_NE(open_error(tmp.path() + "/flipped.tsm", key).find("does not open with this key"), std::string::npos);
  std::filesystem::copy_file(path, tmp.path() + "/header.tsm");
  flip_byte(tmp.path() + "/header.tsm", 13);  // the reserved field: authenticated too
  EXPECT_NE(open_error(tmp.path() + "/header.tsm", key).find("does not open with this key"), std::string::npos);
  std::filesystem::copy_file(path, tmp.path() + "/short.tsm");
  std::filesystem::resize_file(tmp.path() + "/short.tsm", std::filesystem::file_size(path) - 1);
  EXPECT_NE(open_error(tmp.path() + "/short.tsm", key).find("cut short or extended"), std::string::npos);
  std::ofstream(tmp.path() + "/other.tsm") << std::string(100, 'x');
  EXPECT_NE(open_error(tmp.path() + "/other.tsm", key).find("not a sealed model"), std::string::npos);
  EXPECT_NE(open_error(tmp.path() + "/missing.tsm", key).find("cannot read it"), std::string::npos);
  EXPECT_THROW(seal_model(kModel, path, key), SealedModelError);  // never replaces a file
  EXPECT_THROW(seal_model(tmp.path(), tmp.path() + "/none.tsm", key), nn::ModelFolderError);
}

// A CA and certificates, and tiny-gpt2 sealed under a key file.
class TeeWorkerProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // a worker that refused closes the connection
    Process& certs = procs_.start({"certs", "--out", certs_}, "certs");
    ASSERT_EQ(Processes::wait_exit(certs, 30s), 0) << certs.err();
    Process& seal = procs_.start({"tee-worker", "seal", kModel, "--out", sealed_, "--key-out", key_}, "seal");
    ASSERT_EQ(Processes::wait_exit(seal, 60s), 0) << seal.err();
  }

  Process& start_worker(const std::vector<std::string>& extra, const std::string& name = "worker") {
    std::vector<std::string> args{"tee-worker", "serve", "--sealed", sealed_, "--listen", address_, "--cert",
                                  certs_ + "/tee-worker.pem", "--key", certs_ + "/tee-worker.key", "--ca",
                                  certs_ + "/ca.pem", "--timeout-ms", "20000"};
    args.insert(args.end(), extra.begin(), extra.end());
    return procs_.start(args, name);
  }

  TeeClientOptions client(const std::string& token = {}) const {
    TeeClientOptions c;
    c.worker = net::parse_endpoint(address_);
    c.tls = {certs_ + "/client.pem", certs_ + "/client.key", certs_ + "/ca.pem"};
    c.timeout = 30s;
    c.session_token = token;
    return c;
  }

  std::vector<nn::PrivateToken> generate(const nn::GenerateOptions& opt, const std::string& token = {}) {
    return generate_tee(client(token), slurp(kModel + "/config.json"), kPrompt, opt);
  }

  // The refusal text of a session, "" when it was served.
  std::string refusal(const nn::GenerateOptions& opt, const std::string& token = {}) {
    try {
      generate(opt, token);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }

  // The plaintext backend in this process.
  std::vector<int32_t> reference(const nn::GenerateOptions& opt) const {
    nn::Gpt2Checkpoint ck = nn::load_gpt2_checkpoint(kModel);
    nn::PlainBackend be(std::move(ck.weights));
    nn::Gpt2<nn::PlainBackend> gpt2(be, ck.config);
    std::vector<int32_t> ids;
    for (const nn::GeneratedToken& t : nn::generate(be, gpt2, kPrompt, opt)) ids.push_back(t.id);
    return ids;
  }

  static std::vector<int32_t> ids(const std::vector<nn::PrivateToken>& out) {
    std::vector<int32_t> v;
    for (const nn::PrivateToken& t : out) v.push_back(t.id);
    return v;
  }

  const std::vector<int32_t> kPrompt{464, 1068, 758, 218, 1804};  // ids of tiny-gpt2's 2048-token vocabulary
  nn::test::TempDir tmp_;
  std::string certs_ = tmp_.path() + "/certs", sealed_ = tmp_.path() + "/model.tsm", key_ = tmp_.path() + "/model.key";
  Processes procs_{tmp_.path()};
  std::string address_ = nn::test::free_loopback_ports(1)[0];
};

TEST_F(TeeWorkerProcess, GeneratesWhatThePlaintextBackendGenerates) {
  const std::string health = nn::test::free_loopback_ports(1)[0];
  Process& w = start_worker({"--model-key", key_, "--health-listen", health});
  ASSERT_TRUE(Processes::wait_for_err(w, "serving a GPT-2", 60s)) << w.err();
  EXPECT_NE(w.err().find("an ordinary process, not an enclave"), std::string::npos);
  nn::GenerateOptions greedy;
  greedy.max_new_tokens = 6;
  EXPECT_EQ(ids(generate(greedy)), reference(greedy));
  nn::GenerateOptions sampled = greedy;
  sampled.sampling = {0.8, 20, 42};
  EXPECT_EQ(ids(generate(sampled)), reference(sampled));
  // A request the worker cannot serve is refused with the reason, and the worker keeps serving.
  nn::GenerateOptions too_long = greedy;
  too_long.max_new_tokens = 100000;
  EXPECT_NE(refusal(too_long).find("exceed the model's"), std::string::npos);
  EXPECT_EQ(ids(generate(greedy)), reference(greedy));
  TeeClientOptions other = client();
  EXPECT_THROW(generate_tee(other, "{\"n_layer\": 1}", kPrompt, greedy), std::runtime_error);  // another config.json

  httplib::Client h("http://" + health);
  auto ready = h.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto metrics = h.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("veil_tee_worker_sessions_total{tee_worker=\"0\",outcome=\"served\"} 3"), std::string::npos)
      << metrics->body;
  ::kill(w.pid, SIGTERM);  // drains: exits 0
  EXPECT_EQ(Processes::wait_exit(w, 30s), 0) << w.err();
  EXPECT_NE(w.err().find("drained after SIGTERM"), std::string::npos);
}

TEST_F(TeeWorkerProcess, WithASessionKeyServesOnlyValidTokensForItsId) {
  const std::string key_file = tmp_.path() + "/tee-session.key", key(64, 'k');
  std::ofstream(key_file) << key << "\n";
  Process& w = start_worker({"--model-key", key_, "--session-key", key_file, "--id", "3"});
  ASSERT_TRUE(Processes::wait_for_err(w, "serving a GPT-2", 60s)) << w.err();
  nn::GenerateOptions opt;
  opt.max_new_tokens = 2;
  const int64_t later = int64_t(std::time(nullptr)) + 300;
  EXPECT_NE(refusal(opt).find("needs a session token"), std::string::npos);
  EXPECT_NE(refusal(opt, nn::make_session_token(key, "s1", 2, later)).find("group"), std::string::npos);
  EXPECT_FALSE(refusal(opt, nn::make_session_token(std::string(64, 'x'), "s2", 3, later)).empty());
  const std::string good = nn::make_session_token(key, "s3", 3, later);
  EXPECT_EQ(refusal(opt, good), "");
  EXPECT_FALSE(refusal(opt, good).empty());  // used once
}

TEST_F(TeeWorkerProcess, ModelledPagingSlowsOnlySessionsOnAnOvercommittedHostAndSaysSo) {
  Process& w = start_worker({"--model-key", key_, "--modelled-paging-slowdown", "8"});
  ASSERT_TRUE(Processes::wait_for_err(w, "serving a GPT-2", 60s)) << w.err();
  EXPECT_NE(w.err().find("MODELLED EPC paging is on"), std::string::npos);
  nn::GenerateOptions opt;
  opt.max_new_tokens = 2;
  TeeClientOptions c = client();
  c.epc_overcommit = 1.0;  // fits: no penalty
  const std::vector<nn::PrivateToken> plain = generate_tee(c, slurp(kModel + "/config.json"), kPrompt, opt);
  ASSERT_TRUE(Processes::wait_for_err(w, "session 1 ", 30s));
  EXPECT_EQ(w.err().find("modelled paging x"), std::string::npos) << w.err();
  c.epc_overcommit = 2.0;  // penalty 1 + 8 * (1 - 1/2) = 5
  EXPECT_EQ(ids(generate_tee(c, slurp(kModel + "/config.json"), kPrompt, opt)), ids(plain));  // same tokens, later
  EXPECT_TRUE(Processes::wait_for_err(w, "(modelled paging x5.0", 30s)) << w.err();
}

TEST_F(TeeWorkerProcess, BadFlagsAndAWrongKeyStopItWithAClearError) {
  auto fails_with = [&](const std::vector<std::string>& args, const std::string& text) {
    Process& p = procs_.start(args, "bad");
    const std::optional<int> rc = Processes::wait_exit(p, 30s);
    EXPECT_TRUE(rc && *rc != 0) << p.err();  // 1 for a start-up error, CLI11's code for a bad value
    EXPECT_NE(p.err().find(text), std::string::npos) << p.err();
  };
  const std::string tls_key = certs_ + "/tee-worker.key";
  fails_with({"tee-worker", "serve", "--sealed", sealed_, "--listen", address_, "--model-key", key_},
             "serve needs --cert, --key and --ca");
  fails_with({"tee-worker", "serve", "--listen", address_, "--model-key", key_}, "serve needs --sealed");
  fails_with({"tee-worker", "serve", "--sealed", sealed_, "--listen", address_, "--model-key", key_, "--kms",
              "https://127.0.0.1:1", "--cert", certs_ + "/tee-worker.pem", "--key", tls_key, "--ca", certs_ + "/ca.pem"},
             "--model-key and --kms exclude each other");  // was the generic "serve needs ... either --model-key"
  std::vector<std::string> base{"tee-worker", "serve", "--sealed", sealed_, "--listen", address_, "--cert",
                                certs_ + "/tee-worker.pem", "--key", tls_key, "--ca", certs_ + "/ca.pem"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  fails_with(with({"--model-key", key_, "--quote", key_}), "--quote and --bootstrap-token are evidence for --kms");
  fails_with(with({"--model-key", key_, "--quote-kind", "sev"}), "--quote-kind must be sgx-dcap or tdx-dcap");
  fails_with(with({"--model-key", key_, "--modelled-paging-slowdown", "-1"}), "--modelled-paging-slowdown");
  fails_with(with({"--kms", "https://127.0.0.1:1", "--kms-ca", key_, "--kms-model", "m"}), "one piece of evidence");
  std::vector<std::string> bad_listen = with({"--model-key", key_});
  bad_listen[5] = "nowhere";
  fails_with(bad_listen, "nowhere");
  const std::string other_key = tmp_.path() + "/other.key";
  nn::write_bundle_key(other_key, random_aead_key());
  fails_with(with({"--model-key", other_key}), "does not open with this key");
  fails_with({"tee-worker", "seal", kModel, "--out", sealed_, "--key-out", tmp_.path() + "/k2"}, "already exists");
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/k2"));  // no key without its sealed model
  fails_with({"tee-worker", "seal", kModel, "--out", tmp_.path() + "/m2.tsm", "--key-out", key_}, "");
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/m2.tsm"));
}

// The KMS releases the sealed model's key (model "tiny-tee", party 0, organisation org-a) to a
// worker with a valid bootstrap token, and refuses a bad token, a tampered sealed model and the
// SGX sample quote, auditing each refusal.
class TeeWorkerKms : public KmsFixture {
 protected:
  void SetUp() override {
    KmsFixture::SetUp();
    Process& certs = procs_.start({"certs", "--out", certs_}, "certs");
    ASSERT_EQ(Processes::wait_exit(certs, 30s), 0) << certs.err();
    Process& seal = procs_.start({"tee-worker", "seal", kModel, "--out", sealed_, "--key-out", key_}, "seal");
    ASSERT_EQ(Processes::wait_exit(seal, 60s), 0) << seal.err();
    store_->put_share_key("tiny-tee", 0, nn::read_bundle_key(key_), file_sha256(sealed_), now_);
    store_->set_policy({"tiny-tee", 0, "org-a", {"0.1.0"}});
  }

  Process& worker(const std::vector<std::string>& evidence, const std::string& sealed = {}) {
    std::vector<std::string> args{"tee-worker", "serve", "--sealed", sealed.empty() ? sealed_ : sealed, "--listen",
                                  nn::test::free_loopback_ports(1)[0], "--cert", certs_ + "/tee-worker.pem", "--key",
                                  certs_ + "/tee-worker.key", "--ca", certs_ + "/ca.pem", "--kms",
                                  "https://127.0.0.1:" + std::to_string(server_->port()), "--kms-ca", kms_ca_,
                                  "--kms-model", "tiny-tee", "--max-sessions", "1"};
    args.insert(args.end(), evidence.begin(), evidence.end());
    return procs_.start(args, "worker-" + std::to_string(++started_));
  }

  std::string token_file(const std::string& name) {
    const std::string path = tmp_.path() + "/" + name + ".token";
    std::ofstream(path) << token("org-a", 0, name);
    return path;
  }

  void expect_stopped_refused(Process& p, const std::string& event, const std::string& reason) {
    EXPECT_EQ(Processes::wait_exit(p, 60s), 1) << p.err();
    EXPECT_NE(p.err().find("refused by the KMS (" + reason + ")"), std::string::npos) << p.err();
    const std::vector<AuditRecord> log = store_->audit_log();
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.back().event, event);
    EXPECT_EQ(log.back().outcome, "refused");
    EXPECT_EQ(log.back().reason, reason);
  }

  std::string certs_ = tmp_.path() + "/certs", sealed_ = tmp_.path() + "/model.tsm", key_ = tmp_.path() + "/model.key";
  Processes procs_{tmp_.path()};
  int started_ = 0;
};

TEST_F(TeeWorkerKms, ABootstrapTokenReleasesTheKeyAndABadOneIsRefusedAndAudited) {
  Process& good = worker({"--bootstrap-token", token_file("tee-0")});
  ASSERT_TRUE(Processes::wait_for_err(good, "serving a GPT-2", 60s)) << good.err();
  EXPECT_NE(good.err().find("enrolled with the KMS as org-a/party-0/tee-0 (bootstrap-token); key version 1 of tiny-tee"),
            std::string::npos)
      << good.err();
  EXPECT_EQ(store_->audit_log().back().event, "release");
  EXPECT_EQ(store_->audit_log().back().outcome, "granted");

  const std::string bad = tmp_.path() + "/bad.token";
  std::ofstream(bad) << std::string(64, '0');
  Process& refused = worker({"--bootstrap-token", bad});
  expect_stopped_refused(refused, "enrol", "bad_token");
}

TEST_F(TeeWorkerKms, ATamperedSealedModelGetsNoKey) {
  const std::string tampered = tmp_.path() + "/tampered.tsm";
  std::filesystem::copy_file(sealed_, tampered);
  flip_byte(tampered, 200);
  Process& p = worker({"--bootstrap-token", token_file("tee-1")}, tampered);
  expect_stopped_refused(p, "release", "bundle_mismatch");
}

TEST_F(TeeWorkerKms, TheSampleQuoteDoesNotBindTheWorkersTlsKey) {
  VEIL_REQUIRE_DCAP_SAMPLES();
  const auto s = attest::test::sgx_sample();
  const std::string policy = tmp_.path() + "/attestation-policy.json";
  std::ofstream(tmp_.path() + "/sgx-collateral.json") << s.collateral_json;
  std::ofstream(policy) << json{{"collateral", {"sgx-collateral.json"}},
                                {"accept_tcb_status", {"UpToDate", "ConfigurationAndSWHardeningNeeded"}},
                                {"sgx", {{{"mrenclave", "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"},
                                          {"org", "org-a"}, {"party", 0}, {"worker", "tee"}}}}}
                               .dump();
  add_dcap_verifiers(server_->service(), policy);
  now_ = s.at;  // the KMS verifies at its clock: when the sample's collateral is valid
  const std::string quote = tmp_.path() + "/sgx_quote";
  std::ofstream(quote, std::ios::binary).write(reinterpret_cast<const char*>(s.quote.data()), std::streamsize(s.quote.size()));
  Process& p = worker({"--quote", quote, "--quote-kind", "sgx-dcap"});
  expect_stopped_refused(p, "enrol", "key_not_bound");
  EXPECT_NE(p.err().find("report data does not bind this key"), std::string::npos) << p.err();
  Process& tdx = worker({"--quote", quote, "--quote-kind", "tdx-dcap"});
  expect_stopped_refused(tdx, "enrol", "wrong_tee");
}

}  // namespace
}  // namespace veil::serve::test
