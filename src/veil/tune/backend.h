// Where trial epochs come from: recorded curves (replay) or real processes (local).
// The simulator owns time; a backend only says what an epoch yields and how long it took
// on the baseline instance (speed 1.0), in simulated seconds.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "veil/tune/curves.h"
#include "veil/tune/space.h"
#include "veil/tune/trial_process.h"

namespace veil::tune {

struct EpochOutcome {
  bool ok = false;
  int epoch = 0;            // the epoch the trial reached (a trial may resume past the expected one)
  double metric = 0;
  double ref_seconds = 0;   // simulated seconds on the baseline instance
  std::string error;
  // ok, but no new epoch: the trial's program was restarted, found its checkpoint complete and
  // exited with status 0 without reporting (a process killed earlier had written the last
  // checkpoints but not their epoch lines). The trial is done; `epoch` is the last epoch whose
  // metric is known, the metrics after it are lost.
  bool finished = false;
};

class TrialBackend {
 public:
  virtual ~TrialBackend() = default;
  virtual size_t configs() const = 0;
  virtual nlohmann::json config(size_t c) const = 0;
  // Expected simulated seconds of `epoch` of config c on the baseline instance.
  virtual double expected_seconds(size_t c, int epoch) const = 0;
  // Runs `epoch` of config c, (re)starting it from its last checkpoint if needed.
  virtual EpochOutcome run_epoch(size_t c, int epoch) = 0;
  // Revocation or migration during an epoch, after `fraction` of it: the work since the
  // last checkpoint is lost (a real process is killed).
  virtual void kill(size_t c, double fraction) = 0;
  // Trial finished, stopped or paused: release what it holds (its checkpoint stays).
  virtual void release(size_t c) = 0;
};

// Serves recorded curves. Recorded seconds are scaled so the mean epoch of the set lasts
// `epoch_minutes` on the baseline instance.
class ReplayBackend : public TrialBackend {
 public:
  ReplayBackend(const CurveSet& set, double epoch_minutes);
  size_t configs() const override { return set_->curves.size(); }
  nlohmann::json config(size_t c) const override { return set_->curves[c].params; }
  double expected_seconds(size_t c, int epoch) const override;
  EpochOutcome run_epoch(size_t c, int epoch) override;
  void kill(size_t, double) override {}
  void release(size_t) override {}
  double scale() const { return scale_; }

 private:
  const CurveSet* set_;
  double scale_ = 1;
};

// Runs real trial processes (one per trial, in step with the simulated clock: a trial's
// process is paused with SIGSTOP between its epochs and killed on revocation).
// Real seconds are multiplied by `time_scale` to give simulated baseline seconds.
class ProcessBackend : public TrialBackend {
 public:
  ProcessBackend(const SearchSpace& space, std::vector<nlohmann::json> configs, std::string workdir,
                 double time_scale, int nice);
  ~ProcessBackend() override;
  size_t configs() const override { return configs_.size(); }
  nlohmann::json config(size_t c) const override { return configs_[c]; }
  double expected_seconds(size_t c, int epoch) const override;
  EpochOutcome run_epoch(size_t c, int epoch) override;
  void kill(size_t c, double fraction) override;
  void release(size_t c) override;
  std::string checkpoint_dir(size_t c) const;
  int kills() const { return kills_; }
  int restarts() const { return restarts_; }

 private:
  const SearchSpace* space_;
  std::vector<nlohmann::json> configs_;
  std::string workdir_;
  double time_scale_;
  int nice_;
  std::map<size_t, std::unique_ptr<TrialProcess>> procs_;
  std::map<size_t, double> last_real_s_;
  std::map<size_t, int> reported_;   // last epoch each config reported
  std::map<size_t, int> starts_;     // processes started per config
  // Epoch lines a killed process had written but the simulator had not asked for yet: the
  // process ran ahead of the simulated clock (between reading a line and SIGSTOP, or while
  // resumed for the part of an epoch before a revocation). Served before any restart.
  std::map<size_t, std::deque<EpochReport>> banked_;
  void stop(size_t c);               // kills c's process, banking its unread epoch lines
  int kills_ = 0, restarts_ = 0;
};

}  // namespace veil::tune
