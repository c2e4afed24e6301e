#include "veil/tune/backend.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace veil::tune {

ReplayBackend::ReplayBackend(const CurveSet& set, double epoch_minutes) : set_(&set) {
  double sum = 0;
  size_t n = 0;
  for (const auto& c : set.curves)
    for (double s : c.seconds) sum += s, ++n;
  if (n == 0) throw std::runtime_error("curve set has no epochs to replay");
  scale_ = epoch_minutes * 60.0 / (sum / double(n));
}

double ReplayBackend::expected_seconds(size_t c, int epoch) const {
  const Curve& cv = set_->curves[c];
  if (cv.seconds.empty()) return 60.0 * scale_;
  size_t i = std::min(cv.seconds.size(), size_t(std::max(epoch, 1))) - 1;
  return cv.seconds[i] * scale_;
}

EpochOutcome ReplayBackend::run_epoch(size_t c, int epoch) {
  const Curve& cv = set_->curves[c];
  EpochOutcome o;
  o.epoch = epoch;
  if (epoch < 1 || size_t(epoch) > cv.metric.size()) {
    o.error = "config " + std::to_string(c) + " failed in epoch " + std::to_string(epoch) +
              " when recorded: " + (cv.failure.empty() ? "no data for this epoch" : cv.failure);
    // The failed epoch still costs about an epoch of time.
    o.ref_seconds = expected_seconds(c, epoch);
    return o;
  }
  o.ok = true;
  o.metric = cv.metric[size_t(epoch) - 1];
  o.ref_seconds = cv.seconds[size_t(epoch) - 1] * scale_;
  return o;
}

ProcessBackend::ProcessBackend(const SearchSpace& space, std::vector<nlohmann::json> configs, std::string workdir,
                               double time_scale, int nice)
    : space_(&space), configs_(std::move(configs)), workdir_(std::move(workdir)), time_scale_(time_scale), nice_(nice) {
  if (space.command.empty()) throw std::invalid_argument("search space has no \"command\" to run trials with");
}

ProcessBackend::~ProcessBackend() {
  for (auto& [c, p] : procs_)
    if (p) p->kill();
}

std::string ProcessBackend::checkpoint_dir(size_t c) const { return workdir_ + "/trial-" + std::to_string(c); }

double ProcessBackend::expected_seconds(size_t c, int) const {
  auto it = last_real_s_.find(c);
  double real = it == last_real_s_.end() ? 0.0 : it->second;  // 0: unknown until measured
  if (it == last_real_s_.end() && !last_real_s_.empty()) {
    real = 0;
    for (auto& [k, v] : last_real_s_) real += v;
    real /= double(last_real_s_.size());
  }
  return real * time_scale_;
}

EpochOutcome ProcessBackend::run_epoch(size_t c, int epoch) {
  EpochOutcome o;
  // An epoch a killed process had already checkpointed and reported: no need to run it again
  // (a restart would resume after it and never report it). It is charged a usual epoch.
  if (auto bk = banked_.find(c); bk != banked_.end()) {
    auto& q = bk->second;
    while (!q.empty() && q.front().epoch < epoch) q.pop_front();
    if (!q.empty()) {
      const EpochReport r = q.front();
      q.pop_front();
      o.ok = true;
      o.epoch = r.epoch;
      o.metric = r.metric;
      o.ref_seconds = expected_seconds(c, r.epoch);
      reported_[c] = r.epoch;
      return o;
    }
  }
  auto& p = procs_[c];
  bool fresh = false;
  if (!p || !p->running()) {
    TrialProcessOptions opt;
    opt.command = space_->command;
    opt.metric = space_->metric;
    opt.report_timeout_s = space_->report_timeout_s;
    opt.nice = nice_;
    opt.epochs = space_->epochs;
    p = std::make_unique<TrialProcess>(opt, configs_[c], checkpoint_dir(c), int(c));
    if (reported_.count(c)) ++restarts_;
    p->start();
    ++starts_[c];
    fresh = true;
  } else {
    p->resume();
  }
  bool got = false;
  for (;;) {
    EpochReport r = p->next();
    if (r.kind == EpochReport::got_epoch) {
      got = true;
      if (r.epoch < epoch) continue;  // re-reported an epoch the simulator already has
      p->pause();
      reported_[c] = r.epoch;
      last_real_s_[c] = r.seconds;
      o.ok = true;
      o.epoch = r.epoch;
      o.metric = r.metric;
      o.ref_seconds = r.seconds * time_scale_;
      return o;
    }
    o.epoch = epoch;
    o.ref_seconds = expected_seconds(c, epoch);
    if (r.kind == EpochReport::exited && fresh && !got && starts_[c] > 1) {
      // A restart that had nothing left to do: an earlier process of this trial, killed by a
      // revocation or a release, had checkpointed the last epoch(s) without printing their
      // lines (killed between its checkpoint and its report, or paused late and then
      // released). The trial program resumed after that checkpoint and finished.
      o.ok = true;
      o.finished = true;
      o.epoch = reported_.count(c) ? reported_[c] : 0;
      o.ref_seconds = r.seconds * time_scale_;
      procs_.erase(c);
      return o;
    }
    if (r.kind == EpochReport::exited)
      o.error = "trial " + std::to_string(c) + " exited with status 0 before reporting epoch " + std::to_string(epoch) +
                (p->garbage_lines() ? " (it printed " + std::to_string(p->garbage_lines()) +
                                          " line(s) that are not {\"epoch\": N, \"" + space_->metric + "\": x}, last: \"" +
                                          p->last_garbage() + "\")"
                                    : "");
    else
      o.error = r.error;
    procs_.erase(c);  // its process is gone (exited, or killed on timeout)
    return o;
  }
}

void ProcessBackend::kill(size_t c, double fraction) {
  auto it = procs_.find(c);
  if (it == procs_.end() || !it->second || !it->second->running()) return;
  // Let the process work for the part of the epoch that ran before the revocation.
  it->second->resume();
  auto real = last_real_s_.count(c) ? last_real_s_[c] : 0.2;
  std::this_thread::sleep_for(std::chrono::duration<double>(std::clamp(fraction, 0.0, 1.0) * real * 0.5));
  stop(c);
  ++kills_;
}

void ProcessBackend::release(size_t c) { stop(c); }

void ProcessBackend::stop(size_t c) {
  auto it = procs_.find(c);
  if (it == procs_.end()) return;
  if (it->second) {
    int known = reported_.count(c) ? reported_[c] : 0;
    auto& q = banked_[c];
    if (!q.empty()) known = std::max(known, q.back().epoch);
    for (const EpochReport& r : it->second->kill_and_collect())
      if (r.epoch > known) q.push_back(r), known = r.epoch;
  }
  procs_.erase(it);
}

}  // namespace veil::tune
