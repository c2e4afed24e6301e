// A test fixture for served private generation: a CA and certificates, the bundled trained tiny
// GPT-2 split by `veil share-model`, and helpers that start three `veil party --serve`
// processes on loopback TLS, a `veil generate --parties` client, or `veil generate` in one
// process. Used by the served-generation and KV-policy serving tests. A derived fixture may share
// another model folder, or share it for a precision plan, by setting model_ and share_flags_ in its
// constructor.
#pragma once
#include <array>
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nn/process_util.h"
#include "nn_test_util.h"

namespace veil::nn::test {

class ServedFixture : public ::testing::Test {
 protected:
  static inline const std::string kModel = repo_path("models/tiny-gpt2");

  void SetUp() override {
    using namespace std::chrono_literals;
    Process& certs = procs_.start({"certs", "--out", certs_}, "certs");
    ASSERT_EQ(Processes::wait_exit(certs, 30s), 0) << certs.err();
    std::vector<std::string> share_args{"share-model", model_, "--out", shared_};
    share_args.insert(share_args.end(), share_flags_.begin(), share_flags_.end());
    Process& share = procs_.start(share_args, "share");
    ASSERT_EQ(Processes::wait_exit(share, 60s), 0) << share.err();
  }

  std::string peers() const { return ports_[0] + "," + ports_[1] + "," + ports_[2]; }
  std::string clients() const { return ports_[3] + "," + ports_[4] + "," + ports_[5]; }

  Process& start_party(int id, int max_sessions, const std::vector<std::string>& extra = {}) {
    const std::string p = "party" + std::to_string(id), i = std::to_string(id);
    std::vector<std::string> args{"party", "--serve", "--id", i, "--peers", peers(), "--client-listen",
                                  ports_[size_t(3 + id)], "--bundle", shared_ + "/party-" + i + ".bundle",
                                  "--bundle-key", shared_ + "/keys/party-" + i + ".key", "--cert",
                                  certs_ + "/" + p + ".pem", "--key", certs_ + "/" + p + ".key", "--ca",
                                  certs_ + "/ca.pem", "--max-sessions", std::to_string(max_sessions),
                                  "--timeout-ms", "20000"};
    args.insert(args.end(), extra.begin(), extra.end());
    return procs_.start(args, p);
  }

  std::array<Process*, 3> start_parties(int max_sessions) {
    std::array<Process*, 3> out{};
    for (int i = 2; i >= 0; --i) out[size_t(i)] = &start_party(i, max_sessions);  // any order
    return out;
  }

  // `veil generate --parties` with the client folder (or `model`).
  Process& client(const std::vector<std::string>& extra, const std::string& name, std::string model = {},
                  const std::string& timeout_ms = "30000") {
    if (model.empty()) model = shared_ + "/client";
    std::vector<std::string> args{"generate", "--parties", clients(), "--ca", certs_ + "/ca.pem", "--cert",
                                  certs_ + "/client.pem", "--key", certs_ + "/client.key", "--model",
                                  model, "--json", "--timeout-ms", timeout_ms};
    args.insert(args.end(), extra.begin(), extra.end());
    return procs_.start(args, name);
  }

  // `veil generate` in one process (plaintext or in-process MPC) with the full model folder.
  nlohmann::json local(const std::string& backend, const std::vector<std::string>& extra, const std::string& name) {
    std::vector<std::string> args{"generate", "--backend", backend, "--model", model_, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return finished(procs_.start(args, name));
  }

  static nlohmann::json finished(Process& p) {
    using namespace std::chrono_literals;
    EXPECT_EQ(Processes::wait_exit(p, 120s), 0) << p.err();
    return nlohmann::json::parse(p.out());
  }

  static void expect_exit_ok(const std::array<Process*, 3>& parties) {
    using namespace std::chrono_literals;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(Processes::wait_exit(*parties[size_t(i)], 60s), 0) << parties[size_t(i)]->err();
  }

  std::string model_ = kModel;            // the folder `veil share-model` splits
  std::vector<std::string> share_flags_;  // its extra flags (--precision ditto)
  TempDir tmp_;
  std::string certs_ = tmp_.sub("certs"), shared_ = tmp_.path() + "/shared";
  Processes procs_{tmp_.path()};
  std::vector<std::string> ports_ = free_loopback_ports(6);
};

}  // namespace veil::nn::test
