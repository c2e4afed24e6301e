// Three `veil party` OS processes over TLS on loopback: the selftest passes on all three, and a
// party that is killed or never starts makes the others exit non-zero with a clear message.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "net/net_test_util.h"

extern char** environ;

namespace veil::net {
namespace {

using namespace std::chrono_literals;
using namespace veil::net::testing;
using Clock = std::chrono::steady_clock;

struct Process {
  pid_t pid = -1;
  std::string out_path, err_path;
  std::string out() const { return slurp(out_path); }
  std::string err() const { return slurp(err_path); }
  static std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
};

// Starts VEIL_BINARY with `args`, stdout and stderr going to files named after `name` in `dir`.
Process spawn_veil(const std::vector<std::string>& args, const std::filesystem::path& dir, const std::string& name) {
  Process p{-1, (dir / (name + ".out")).string(), (dir / (name + ".err")).string()};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, p.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all{VEIL_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&p.pid, VEIL_BINARY, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + std::string(VEIL_BINARY));
  return p;
}

// The exit code, or nullopt if the process was still running at the deadline (it is killed).
std::optional<int> wait_exit(const Process& p, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (Clock::now() >= deadline) {
      ::kill(p.pid, SIGKILL);
      ::waitpid(p.pid, &status, 0);
      return std::nullopt;
    }
    std::this_thread::sleep_for(10ms);
  }
}

class PartyProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Process certs = spawn_veil({"certs", "--out", (dir_.path() / "certs").string()}, dir_.path(), "certs");
    ASSERT_EQ(wait_exit(certs, 30s), 0) << certs.err();
  }
  Process start_party(int id, const std::vector<std::string>& extra) {
    std::string c = (dir_.path() / "certs").string(), p = "party" + std::to_string(id);
    std::vector<std::string> args{"party", "--id", std::to_string(id), "--peers", peers_,
                                  "--cert", c + "/" + p + ".pem", "--key", c + "/" + p + ".key",
                                  "--ca", c + "/ca.pem", "--seed", "7"};
    args.insert(args.end(), extra.begin(), extra.end());
    return spawn_veil(args, dir_.path(), p);
  }
  TempDir dir_;
  std::string peers_ = [] {
    auto e = free_loopback_endpoints();
    return e[0].str() + "," + e[1].str() + "," + e[2].str();
  }();
};

TEST_F(PartyProcessTest, ThreeProcessesOverTlsPassTheSelftest) {
  std::array<Process, 3> parties;
  for (int i = 2; i >= 0; --i) parties[size_t(i)] = start_party(i, {"--timeout-ms", "30000"});  // any order
  for (int i = 0; i < 3; ++i) {
    const Process& p = parties[size_t(i)];
    EXPECT_EQ(wait_exit(p, 60s), 0) << "party " << i << ": " << p.err();
    EXPECT_CONTAINS(p.out(), "{\"party\":" + std::to_string(i) + ",\"ok\":true,\"bytes_sent\":");
    EXPECT_CONTAINS(p.err(), "connected to parties");
  }
}

TEST_F(PartyProcessTest, KilledPartyMakesTheOthersFailPromptly) {
  std::array<Process, 3> parties;
  for (int i = 0; i < 3; ++i) parties[size_t(i)] = start_party(i, {"--timeout-ms", "20000", "--repeat", "100000000"});
  auto connected = [&] {
    for (const Process& p : parties)
      if (p.err().find("connected to parties") == std::string::npos) return false;
    return true;
  };
  for (auto until = Clock::now() + 30s; !connected() && Clock::now() < until;) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(connected()) << parties[0].err() << parties[1].err() << parties[2].err();
  std::this_thread::sleep_for(200ms);  // mid-run
  auto killed_at = Clock::now();
  ::kill(parties[2].pid, SIGKILL);
  EXPECT_EQ(wait_exit(parties[2], 10s), 128 + SIGKILL);
  for (int i = 0; i < 2; ++i) {
    const Process& p = parties[size_t(i)];
    std::optional<int> rc = wait_exit(p, 30s);
    ASSERT_TRUE(rc.has_value()) << "party " << i << " hangs after party 2 was killed";
    EXPECT_NE(*rc, 0);
    EXPECT_CONTAINS(p.err(), "veil: error: party " + std::to_string(i) + ": party ");
    EXPECT_CONTAINS(p.err(), "disconnected");
  }
  EXPECT_LT(Clock::now() - killed_at, 15s) << "the survivors should notice the disconnect, not time out";
}

TEST_F(PartyProcessTest, MissingPartyIsNamedAtTheSetupDeadline) {
  std::array<Process, 2> parties{start_party(0, {"--timeout-ms", "1500"}), start_party(1, {"--timeout-ms", "1500"})};
  for (int i = 0; i < 2; ++i) {
    const Process& p = parties[size_t(i)];
    EXPECT_EQ(wait_exit(p, 30s), 1);
    EXPECT_CONTAINS(p.err(), "veil: error: party " + std::to_string(i) + ": timed out after 1500 ms waiting for party 2 to connect");
  }
}

TEST_F(PartyProcessTest, BadFlagsAreExplained) {
  auto run = [&](const std::vector<std::string>& args) {
    Process p = spawn_veil(args, dir_.path(), "flags");
    EXPECT_NE(wait_exit(p, 30s), 0);
    return p.err();
  };
  EXPECT_CONTAINS(run({"party", "--id", "3", "--peers", peers_, "--insecure"}), "--id: Value 3 not in range 0 to 2");
  EXPECT_CONTAINS(run({"party", "--id", "0", "--peers", "127.0.0.1:1,127.0.0.1:2", "--insecure"}),
                  "expected three host:port entries");
  EXPECT_CONTAINS(run({"party", "--id", "0", "--peers", "127.0.0.1:x,127.0.0.1:2,127.0.0.1:3", "--insecure"}),
                  "port must be a number in 1..65535");
  EXPECT_CONTAINS(run({"party", "--id", "0", "--peers", peers_, "--cert", "/nonexistent/p0.pem"}),
                  "--cert: File does not exist: /nonexistent/p0.pem");
  EXPECT_CONTAINS(run({"party", "--id", "0", "--peers", peers_}), "TLS needs --cert, --key and --ca");
  EXPECT_CONTAINS(run({"party", "--id", "0", "--peers", "10.1.2.3:1,127.0.0.1:2,127.0.0.1:3", "--insecure"}),
                  "--insecure is for loopback experiments only");
}

}  // namespace
}  // namespace veil::net
