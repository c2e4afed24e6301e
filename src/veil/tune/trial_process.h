// One trial as a real OS process (the local executor's unit).
//
// Contract with the trial program (docs/TUNING.md): the command template may use
// {params} (the hyper-parameters as a shell-quoted JSON object), {checkpoint_dir},
// {epochs} and {trial}; the same values are in the environment as VEIL_TUNE_PARAMS,
// VEIL_TUNE_CHECKPOINT_DIR, VEIL_TUNE_EPOCHS and VEIL_TUNE_TRIAL. The program prints one
// JSON line per epoch, e.g. {"epoch": 3, "val_loss": 2.1}, after writing that epoch's
// checkpoint, and resumes after the last checkpoint when started again on the same dir.
// Other output lines are counted as garbage and skipped; stderr goes to <dir>/trial.log.
//
// The process runs in its own process group; kill() sends SIGKILL to the whole group
// (a spot revocation), pause()/resume() SIGSTOP/SIGCONT (the simulator keeps the real
// process in step with the simulated clock).
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace veil::tune {

struct TrialProcessOptions {
  std::string command;           // template, see above
  std::string metric = "val_loss";
  double report_timeout_s = 600; // real seconds without a valid epoch line before giving up
  int nice = 0;                  // added niceness of the trial process
  int epochs = 1;
};

struct EpochReport {
  enum Kind { got_epoch, exited, failed } kind = failed;
  int epoch = 0;
  double metric = 0;
  double seconds = 0;       // real seconds since resume()/start() (or the line's "seconds")
  std::string error;        // for failed: what went wrong and where to look
};

class TrialProcess {
 public:
  TrialProcess(TrialProcessOptions opt, nlohmann::json params, std::string checkpoint_dir, int trial);
  ~TrialProcess();
  TrialProcess(const TrialProcess&) = delete;
  TrialProcess& operator=(const TrialProcess&) = delete;

  void start();                 // throws std::runtime_error if the process cannot be spawned
  EpochReport next();           // waits for the next valid epoch line, exit, or timeout
  void kill();                  // SIGKILL to the group and reap; safe to call twice
  // kill(), then the valid epoch lines the process had already written and next() had not
  // returned (still in its pipe or read ahead). By the contract each of them follows that
  // epoch's checkpoint, so they are epochs the trial really has; `seconds` is 0 for them.
  std::vector<EpochReport> kill_and_collect();
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }
  int garbage_lines() const { return garbage_; }
  const std::string& last_garbage() const { return last_garbage_; }
  std::string command_line() const;

 private:
  int wait_exit(bool block);
  bool parse_line(std::string line, EpochReport* r);  // false (and counted as garbage) if not an epoch line
  TrialProcessOptions opt_;
  nlohmann::json params_;
  std::string dir_;
  int trial_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
  int garbage_ = 0;
  std::string last_garbage_;
  double t0_ = 0;
};

// Quotes `s` for /bin/sh (single quotes).
std::string shell_quote(const std::string& s);

}  // namespace veil::tune
