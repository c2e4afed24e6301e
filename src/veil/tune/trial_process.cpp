#include "veil/tune/trial_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace veil::tune {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

TrialProcess::TrialProcess(TrialProcessOptions opt, nlohmann::json params, std::string checkpoint_dir, int trial)
    : opt_(std::move(opt)), params_(std::move(params)), dir_(std::move(checkpoint_dir)), trial_(trial) {}

TrialProcess::~TrialProcess() { kill(); }

std::string TrialProcess::command_line() const {
  std::string c = opt_.command;
  replace_all(c, "{params}", shell_quote(params_.dump()));
  replace_all(c, "{checkpoint_dir}", shell_quote(dir_));
  replace_all(c, "{epochs}", std::to_string(opt_.epochs));
  replace_all(c, "{trial}", std::to_string(trial_));
  return c;
}

void TrialProcess::start() {
  if (pid_ > 0) return;
  std::filesystem::create_directories(dir_);
  // Everything the child needs is prepared before fork(): `veil tune record --jobs` forks from
  // several threads, and between fork and exec only async-signal-safe calls are allowed. The
  // pipe is close-on-exec so that a trial started by another thread does not inherit it.
  const std::string cmd = command_line();
  const std::string log = dir_ + "/trial.log";
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "VEIL_TUNE_", 10) != 0) env.emplace_back(*e);
  env.push_back("VEIL_TUNE_PARAMS=" + params_.dump());
  env.push_back("VEIL_TUNE_CHECKPOINT_DIR=" + dir_);
  env.push_back("VEIL_TUNE_EPOCHS=" + std::to_string(opt_.epochs));
  env.push_back("VEIL_TUNE_TRIAL=" + std::to_string(trial_));
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("trial: pipe failed: ") + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("trial: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    if (opt_.nice) setpriority(PRIO_PROCESS, 0, opt_.nice);
    dup2(p[1], 1);
    int lf = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (lf >= 0) dup2(lf, 2);
    execle("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr, envp.data());
    _exit(127);
  }
  setpgid(pid, pid);
  close(p[1]);
  pid_ = pid;
  fd_ = p[0];
  buf_.clear();
  t0_ = now_s();
}

void TrialProcess::pause() {
  if (pid_ > 0) ::kill(-pid_, SIGSTOP);
}

void TrialProcess::resume() {
  if (pid_ > 0) ::kill(-pid_, SIGCONT);
  t0_ = now_s();
}

void TrialProcess::kill() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(-pid_, SIGCONT);
    wait_exit(true);
  }
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  pid_ = -1;
}

int TrialProcess::wait_exit(bool block) {
  int st = 0;
  pid_t r = waitpid(pid_, &st, block ? 0 : WNOHANG);
  if (r <= 0) return -1000;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return -WTERMSIG(st);
  return -1000;
}

bool TrialProcess::parse_line(std::string line, EpochReport* r) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.find_first_not_of(" \t") == std::string::npos) return false;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_object() && j.contains("epoch") && j["epoch"].is_number_integer() && j.contains(opt_.metric) &&
      j[opt_.metric].is_number() && std::isfinite(j[opt_.metric].get<double>())) {
    r->kind = EpochReport::got_epoch;
    r->epoch = j["epoch"].get<int>();
    r->metric = j[opt_.metric].get<double>();
    return true;
  }
  ++garbage_;
  last_garbage_ = line.substr(0, 200);
  return false;
}

std::vector<EpochReport> TrialProcess::kill_and_collect() {
  std::vector<EpochReport> out;
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(-pid_, SIGCONT);
    wait_exit(true);
    pid_ = -1;
  }
  if (fd_ >= 0) {
    // The writers are killed: take what is in the pipe without waiting for EOF (a process
    // the trial moved out of its group could hold the pipe open).
    char tmp[4096];
    for (;;) {
      pollfd pf{fd_, POLLIN, 0};
      int n = poll(&pf, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !(pf.revents & (POLLIN | POLLHUP))) break;
      ssize_t k = read(fd_, tmp, sizeof tmp);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      buf_.append(tmp, size_t(k));
    }
    close(fd_);
    fd_ = -1;
  }
  if (!buf_.empty() && buf_.back() != '\n') buf_ += '\n';  // a last line without newline counts, as at EOF
  size_t nl;
  while ((nl = buf_.find('\n')) != std::string::npos) {
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    EpochReport r;
    if (parse_line(std::move(line), &r)) out.push_back(r);
  }
  return out;
}

EpochReport TrialProcess::next() {
  EpochReport r;
  if (pid_ <= 0) {
    r.error = "trial process is not running";
    return r;
  }
  const double deadline = now_s() + opt_.report_timeout_s;
  const std::string where = " (command: " + command_line() + "; stderr in " + dir_ + "/trial.log)";
  for (;;) {
    size_t nl;
    while ((nl = buf_.find('\n')) != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (parse_line(std::move(line), &r)) {
        r.seconds = now_s() - t0_;
        t0_ = now_s();
        return r;
      }
    }
    double left = deadline - now_s();
    if (left <= 0) {
      r.kind = EpochReport::failed;
      r.error = "trial " + std::to_string(trial_) + " reported no epoch for " +
                std::to_string(int(opt_.report_timeout_s)) + " s; killed" + where;
      kill();
      return r;
    }
    pollfd pf{fd_, POLLIN, 0};
    int n = poll(&pf, 1, int(std::min(left, 1.0) * 1000) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char tmp[4096];
    ssize_t k = read(fd_, tmp, sizeof tmp);
    if (k > 0) {
      buf_.append(tmp, size_t(k));
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    // EOF: the process closed stdout; reap it.
    if (!buf_.empty()) buf_ += '\n';
    if (!buf_.empty()) continue;
    int code = wait_exit(true);
    close(fd_);
    fd_ = -1;
    pid_ = -1;
    if (code == 0) {
      r.kind = EpochReport::exited;
      return r;
    }
    r.kind = EpochReport::failed;
    r.error = "trial " + std::to_string(trial_) + " " +
              (code < 0 ? "was killed by signal " + std::to_string(-code) : "exited with status " + std::to_string(code));
    if (garbage_) r.error += " after " + std::to_string(garbage_) + " unparsable output line(s), last: \"" + last_garbage_ + "\"";
    r.error += where;
    return r;
  }
}

}  // namespace veil::tune
