// Helpers of the tests that start `veil` processes (served generation): spawning with stdout and
// stderr to files, waiting with a limit, free loopback ports. Every process a Processes set
// started is killed when the set goes out of scope, so a failing test leaves none behind.
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace veil::nn::test {

struct Process {
  pid_t pid = -1;
  std::string out_path, err_path;
  bool reaped = false;
  std::string out() const { return slurp(out_path); }
  std::string err() const { return slurp(err_path); }
  static std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
};

class Processes {
 public:
  explicit Processes(std::string dir) : dir_(std::move(dir)) {}
  ~Processes() {
    for (Process& p : procs_)
      if (!p.reaped) {
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, nullptr, 0);
      }
  }
  Processes(const Processes&) = delete;
  Processes& operator=(const Processes&) = delete;

  // Starts VEIL_BINARY with `args`; stdout and stderr go to files named after `name`.
  Process& start(const std::vector<std::string>& args, const std::string& name) {
    Process p{-1, dir_ + "/" + name + ".out", dir_ + "/" + name + ".err"};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, p.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all{VEIL_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&p.pid, VEIL_BINARY, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + std::string(VEIL_BINARY));
    procs_.push_back(p);
    return procs_.back();
  }

  // The exit code (128 + signal when killed by one), or nullopt if the process was still running
  // at the limit (it is killed then).
  static std::optional<int> wait_exit(Process& p, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
        p.reaped = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, &status, 0);
        p.reaped = true;
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Waits until `p`'s stderr contains `text`; false at the limit.
  static bool wait_for_err(const Process& p, const std::string& text, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (p.err().find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

 private:
  std::string dir_;
  std::deque<Process> procs_;  // a deque: references to earlier processes stay valid
};

// n distinct loopback ports that were free a moment ago, as "127.0.0.1:port".
inline std::vector<std::string> free_loopback_ports(int n) {
  std::vector<int> fds;
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {  // hold them all so that they differ
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot pick a free loopback port");
    fds.push_back(fd);
    out.push_back("127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  }
  for (int fd : fds) ::close(fd);
  return out;
}

}  // namespace veil::nn::test
