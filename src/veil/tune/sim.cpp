#include "veil/tune/sim.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <queue>
#include <stdexcept>

#include "veil/tune/trend.h"

namespace veil::tune {

const std::vector<Method>& all_methods() {
  static const std::vector<Method> m = {Method::spottune, Method::random_od, Method::random_spot, Method::asha_od,
                                        Method::asha_spot};
  return m;
}

std::string method_name(Method m) {
  switch (m) {
    case Method::spottune: return "spottune";
    case Method::random_od: return "random-od";
    case Method::random_spot: return "random-spot";
    case Method::asha_od: return "asha-od";
    case Method::asha_spot: return "asha-spot";
  }
  return "?";
}

Method parse_method(const std::string& s) {
  for (Method m : all_methods())
    if (method_name(m) == s) return m;
  throw std::invalid_argument("unknown method \"" + s + "\"; use spottune, random-od, random-spot, asha-od or asha-spot");
}

double expected_cost(const MarketReplay& m, const SimOptions& opt, int ty, bool spot, double t, double work_s,
                     double epoch_s, bool fresh_launch, double* duration_s) {
  const InstanceType& it = m.market->types[size_t(ty)];
  double run = work_s / it.speed, e = epoch_s / it.speed;
  double price = spot ? m.spot_price(ty, t) : it.on_demand;
  double lambda = spot ? m.estimate[size_t(ty)].rate_per_hour / 3600.0 : 0.0;
  // Each revocation costs a relaunch plus, on average, half an epoch of lost work.
  double time = run * (1 + lambda * (opt.launch_overhead_s + e / 2)) + (fresh_launch ? opt.launch_overhead_s : 0);
  double billed = time;
  if (opt.billing.mode == BillingMode::hourly) {
    // On-demand pays the last started hour; a spot lease ends either by us (partial hour
    // paid) or by revocation (partial hour free): expect half an hour per lease end, minus
    // the free ones.
    double revs = lambda * time;
    billed = spot ? time + 1800.0 * std::max(0.0, 1.0 - revs) : std::ceil(time / 3600.0 - 1e-9) * 3600.0;
  } else {
    billed = std::max(time, opt.billing.min_seconds);
  }
  if (duration_s) *duration_s = time;
  return price * billed / 3600.0;
}

namespace {

enum class Ev { ready, epoch_end, revoke, wake };
constexpr int kStuck = 3;

struct Event {
  double t;
  long seq;
  Ev kind;
  int trial;
  long gen;
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

struct Lease {
  int trial = -1, type = 0;
  bool spot = false;
  double start = 0, end = -1, revoke_at = kInf;
  bool revoked = false;
  double cost = 0;
};

enum class St { pending, queued, running, paused, done, stopped, failed };
const char* st_name(St s) {
  switch (s) {
    case St::pending: return "pending";
    case St::queued: return "queued";
    case St::running: return "running";
    case St::paused: return "paused";
    case St::done: return "done";
    case St::stopped: return "stopped";
    case St::failed: return "failed";
  }
  return "?";
}

struct Trial {
  size_t config = 0;
  St st = St::pending;
  int done = 0;
  std::vector<double> metric;
  int lease = -1;
  long gen = 0;
  EpochOutcome pending_out;
  double epoch_start = 0;
  double cost = 0;
  int revocations = 0, migrations = 0;
  int stuck = 0;  // revocations since the last completed epoch
  bool reference = false;  // fair_refs: never paused, so its curve is a fair calibration sample
  bool rank_paused = false;  // fair_refs: paused by rank once, so no longer a calibration reference
  std::string error;
};

class Sim {
 public:
  Sim(const MarketReplay& m, TrialBackend& b, const std::vector<size_t>& order, const SimOptions& o,
      const ProgressFn& p)
      : m_(m), b_(b), order_(order), o_(o), progress_(p), trend_(trend_options(o)) {
    res_.method = method_name(o.method);
    res_.scenario = m.scenario;
    res_.best = o.minimize ? kInf : -kInf;
    for (int r = o.asha_min_epochs; r < o.epochs; r *= o.eta) rungs_.push_back(r);
    rung_results_.resize(rungs_.size());
    blocked_until_.assign(m.types(), 0.0);
  }

  SimResult run() {
    dispatch(0);
    long events = 0;
    while (!q_.empty() && !halted_) {
      if (++events > 50'000'000) throw std::logic_error("tune simulation did not terminate (internal error)");
      Event ev = q_.top();
      q_.pop();
      if (ev.trial >= 0 && ev.gen != tr_[size_t(ev.trial)].gen) continue;
      now_ = ev.t;
      if (now_ > o_.budget.deadline_s) {
        halt(o_.budget.deadline_s, "deadline reached");
        break;
      }
      switch (ev.kind) {
        case Ev::ready: start_epoch(ev.trial); break;
        case Ev::epoch_end: end_epoch(ev.trial); break;
        case Ev::revoke: revoke(ev.trial); break;
        case Ev::wake: dispatch(now_); break;
      }
      if (!halted_ && spent(now_) >= o_.budget.money) halt(now_, "money budget spent");
    }
    finish();
    return res_;
  }

 private:
  bool spot_method() const { return o_.method == Method::random_spot || o_.method == Method::asha_spot; }
  bool asha() const { return o_.method == Method::asha_od || o_.method == Method::asha_spot; }
  bool better(double a, double b) const { return o_.minimize ? a < b : a > b; }

  void push(double t, Ev k, int trial) {
    q_.push({t, seq_++, k, trial, trial >= 0 ? tr_[size_t(trial)].gen : 0});
  }

  PriceFn price_of(const Lease& l) const {
    if (!l.spot) return PriceFn::constant(m_.on_demand_price(l.type));
    const MarketReplay* m = &m_;
    int ty = l.type;
    return {[m, ty](double t) { return m->spot_price(ty, t); },
            [m, ty](double a, double b) { return m->spot_dollars(ty, a, b); }};
  }

  double spent(double t) const {
    double s = closed_cost_;
    for (const Lease& l : leases_)
      if (l.end < 0) s += lease_cost(o_.billing, price_of(l), l.start, std::max(t, l.start), false);
    return s;
  }

  void close_lease(int li, double end, bool revoked) {
    Lease& l = leases_[size_t(li)];
    if (l.end >= 0) return;
    l.end = std::max(end, l.start);
    l.revoked = revoked;
    l.cost = lease_cost(o_.billing, price_of(l), l.start, l.end, revoked);
    closed_cost_ += l.cost;
    (l.spot ? spot_s_ : od_s_) += l.end - l.start;
    tr_[size_t(l.trial)].cost += l.cost;
    tr_[size_t(l.trial)].lease = -1;
  }

  // Hourly billing: dollars already charged for the rest of the lease's current hour
  // (a started hour is billed in full when the user ends the lease).
  double prepaid_dollars(const Lease& l) const {
    if (o_.billing.mode != BillingMode::hourly) return 0;
    double used = now_ - l.start, hours = std::ceil(used / 3600.0 - 1e-9);
    if (hours < 1) hours = 1;
    double left = l.start + hours * 3600.0 - now_;
    return price_of(l).at(l.start + (hours - 1) * 3600.0) * left / 3600.0;
  }

  double epoch_ref(const Trial& t) const { return b_.expected_seconds(t.config, t.done + 1); }

  // Spot capacity of a type, as the scheduler sees it: after a revocation notice the type's
  // capacity is gone until the trace shows it again after the revocation.
  bool spot_ok(int ty, double t) const { return t >= blocked_until_[size_t(ty)] && m_.spot_available(ty, t); }
  double next_spot_ok(int ty, double t) const {
    double from = std::max(t, blocked_until_[size_t(ty)]);
    return m_.next_spot_available(ty, from);
  }

  // Placement: (type, spot). Returns false when the policy waits (no spot capacity).
  bool place(const Trial& t, double now, int* ty, bool* spot, double* wake) {
    const int base = m_.market->baseline;
    *wake = kInf;
    *ty = base, *spot = false;
    if (o_.method == Method::random_od || o_.method == Method::asha_od) {
      *ty = base, *spot = false;
      return true;
    }
    if (spot_method() || (o_.method == Method::spottune && !o_.provisioning)) {
      *ty = base, *spot = true;
      if (spot_ok(base, now)) return true;
      *wake = next_spot_ok(base, now);
      if (*wake == kInf || o_.method == Method::spottune) *spot = false;  // never comes back: on-demand
      return *wake == kInf || o_.method == Method::spottune;
    }
    // SpotTune: cheapest expected cost for the trial's remaining work.
    double work = double(o_.epochs - t.done) * epoch_ref(t);
    double best = kInf;
    for (size_t k = 0; k < m_.types(); ++k)
      for (bool s : {true, false}) {
        if (s && !spot_ok(int(k), now)) continue;
        double dur;
        double c = expected_cost(m_, o_, int(k), s, now, work, epoch_ref(t), true, &dur);
        if (now + dur > o_.budget.deadline_s && !(s == false && best == kInf)) c *= 10;  // would miss the deadline
        if (c < best) best = c, *ty = int(k), *spot = s;
      }
    return true;
  }

  bool new_trials_left(double now) const {
    return next_new_ < order_.size() && next_new_ < size_t(o_.budget.max_trials) && spent(now) < o_.budget.money;
  }

  // The next trial to start: the front of the requeued ones, else a paused one that the
  // trend prediction now says may still beat the best, else a new one, else (no new ones
  // left) a paused one: stopped if the prediction says so, resumed otherwise (-1: none).
  int next_trial(double now, bool* from_queue) {
    *from_queue = false;
    if (!queue_.empty()) {
      *from_queue = true;
      return queue_.front();
    }
    const bool fresh = new_trials_left(now);
    for (size_t k = 0; k < paused_.size();) {
      const int p = paused_[k];
      Trial& pt = tr_[size_t(p)];
      TrendAssessment a = trend_.assess(size_t(p), pt.metric, res_.best);
      const bool judged = a.basis != "none";
      if (fresh && (!judged || a.stop)) {
        ++k;
        continue;
      }
      if (judged) res_.decisions.push_back({now, pt.config, pt.done, res_.best, a.prob, a.references, a.basis, a.stop});
      paused_.erase(paused_.begin() + long(k));
      if (!a.stop) return p;
      pt.st = St::stopped;
      ++res_.stopped_early;
    }
    if (fresh) {
      Trial t;
      t.config = order_[next_new_++];
      t.reference = reference_trials_ < o_.fair_refs;
      reference_trials_ += t.reference;
      tr_.push_back(t);
      ++res_.trials;
      return int(tr_.size() - 1);
    }
    return -1;
  }

  void dispatch(double now) {
    for (;;) {
      if (running_ >= o_.parallel || halted_) return;
      bool from_queue = false;
      int pick = next_trial(now, &from_queue);
      if (pick < 0) return;
      Trial& t = tr_[size_t(pick)];
      int ty = 0;
      bool spot = false;
      double wake = kInf;
      if (!place(t, now, &ty, &spot, &wake)) {
        if (!from_queue) queue_.push_front(pick);
        t.st = St::queued;
        push(wake, Ev::wake, -1);
        return;
      }
      if (from_queue) queue_.pop_front();
      // A trial revoked kStuck times without finishing an epoch (its epochs do not fit in the
      // spot windows) runs its next epoch on demand, so that no policy livelocks.
      if (spot && t.stuck >= kStuck) spot = false;
      Lease l;
      l.trial = pick, l.type = ty, l.spot = spot, l.start = now;
      l.revoke_at = spot ? m_.next_revocation(ty, now) : kInf;
      leases_.push_back(l);
      t.lease = int(leases_.size() - 1);
      t.st = St::running;
      ++t.gen;
      ++running_;
      push(now + o_.launch_overhead_s, Ev::ready, pick);
      if (l.revoke_at < now + o_.launch_overhead_s) {  // revoked while booting
        ++t.gen;
        push(std::max(now, l.revoke_at - o_.notice_s), Ev::revoke, pick);
      }
    }
  }

  void start_epoch(int i) {
    Trial& t = tr_[size_t(i)];
    const Lease& l = leases_[size_t(t.lease)];
    const double speed = m_.market->types[size_t(l.type)].speed;
    const double d_hat = b_.expected_seconds(t.config, t.done + 1) / speed;
    t.epoch_start = now_;
    if (l.spot && now_ + d_hat > l.revoke_at) {
      ++t.gen;
      push(std::max(now_, l.revoke_at - o_.notice_s), Ev::revoke, i);
      return;
    }
    t.pending_out = b_.run_epoch(t.config, t.done + 1);
    ++t.gen;
    const double end = now_ + t.pending_out.ref_seconds / speed;
    if (l.spot && end > l.revoke_at) {  // longer than expected: revoked before it ended
      push(std::max(now_, l.revoke_at - o_.notice_s), Ev::revoke, i);
      return;
    }
    push(end, Ev::epoch_end, i);
  }

  void revoke(int i) {
    Trial& t = tr_[size_t(i)];
    Lease& l = leases_[size_t(t.lease)];
    const double speed = m_.market->types[size_t(l.type)].speed;
    double d_hat = b_.expected_seconds(t.config, t.done + 1) / speed;
    b_.kill(t.config, d_hat > 0 ? (now_ - t.epoch_start) / d_hat : 0);
    ++t.revocations;
    ++t.stuck;
    ++res_.revocations;
    blocked_until_[size_t(l.type)] = std::max(blocked_until_[size_t(l.type)], l.revoke_at + 1e-3);
    // Hourly billing: let the provider take it (the partial hour is free); per-second: stop now.
    if (o_.billing.mode == BillingMode::hourly) close_lease(t.lease, l.revoke_at, true);
    else close_lease(t.lease, now_, true);
    requeue(i);
  }

  void requeue(int i) {
    Trial& t = tr_[size_t(i)];
    ++t.gen;
    --running_;
    t.st = St::queued;
    queue_.push_front(i);
    dispatch(now_);
  }

  void release(int i, St st) {
    Trial& t = tr_[size_t(i)];
    ++t.gen;
    const int li = t.lease;
    --running_;
    t.st = st;
    b_.release(t.config);
    if (li >= 0 && hand_over(li)) {
      tr_[size_t(i)].lease = -1;  // hand_over may have grown tr_: no reference held across it
    } else if (li >= 0) {
      close_lease(li, now_, false);
    }
    dispatch(now_);
  }

  // SpotTune with hourly billing: a trial that stops or finishes leaves the rest of a paid
  // hour; the next trial takes over its instance instead of a new one being started (it
  // still pays the restore overhead; after its first epoch provisioning may move it).
  // ASHA gets the same with asha_hand_over (its next trial keeps the instance's type).
  bool hand_over(int li) {
    const bool spottune = o_.method == Method::spottune && o_.provisioning && o_.hand_over;
    const bool asha = (o_.method == Method::asha_od || o_.method == Method::asha_spot) && o_.asha_hand_over;
    if (!(spottune || asha) || o_.billing.mode != BillingMode::hourly || halted_) return false;
    if (running_ >= o_.parallel || prepaid_dollars(leases_[size_t(li)]) <= 0) return false;
    const Lease& l0 = leases_[size_t(li)];
    if (l0.spot && l0.revoke_at < now_ + o_.launch_overhead_s) return false;
    const double left = l0.start + std::max(1.0, std::ceil((now_ - l0.start) / 3600.0 - 1e-9)) * 3600.0 - now_;
    if (left < o_.launch_overhead_s) return false;  // nothing of the paid hour would be used
    bool from_queue = false;
    int pick = next_trial(now_, &from_queue);
    if (pick < 0) return false;
    Trial& n = tr_[size_t(pick)];
    if (l0.spot && n.stuck >= kStuck) return false;  // next_trial only peeks at the queue; a new trial has stuck 0
    if (from_queue) queue_.pop_front();
    leases_[size_t(li)].trial = pick;
    n.lease = li;
    n.st = St::running;
    ++n.gen;
    ++running_;
    ++res_.handovers;
    push(now_ + o_.launch_overhead_s, Ev::ready, pick);
    return true;
  }

  void end_epoch(int i) {
    Trial& t = tr_[size_t(i)];
    EpochOutcome out = t.pending_out;
    if (!out.ok) {
      t.error = out.error;
      reference_trials_ -= t.reference;  // the next new trial takes its place
      res_.errors.push_back(out.error);
      ++res_.failed;
      release(i, St::failed);
      return;
    }
    if (out.finished) {
      // Its program found the checkpoint of the last epoch (written by a process killed before
      // it reported) and had nothing left to run: done, with the metrics it reported.
      t.stuck = 0;
      t.error = "finished from its checkpoint; the reports of epochs " + std::to_string(t.done + 1) + "-" +
                std::to_string(o_.epochs) + " were lost with a killed process";
      return release(i, St::done);
    }
    t.done = std::max(out.epoch, t.done + 1);
    t.stuck = 0;
    t.metric.resize(size_t(t.done), out.metric);
    t.metric.back() = out.metric;
    ++res_.epochs_run;
    if (better(out.metric, res_.best)) {
      res_.best = out.metric;
      res_.best_config = long(t.config);
    }
    double sp = spent(now_);
    res_.best_vs_cost.emplace_back(sp, res_.best);
    if (progress_) {
      snapshot();
      progress_(now_, sp, res_);
    }
    if (!t.rank_paused) trend_.observe(size_t(i), t.metric);  // known from now on: a calibration reference
    if (t.done >= o_.epochs) return release(i, St::done);
    if (asha()) {
      int k = rung_of(t.done);
      if (k >= 0) {
        rung_results_[size_t(k)].push_back({out.metric, i});
        if (!asha_continues(k, out.metric)) {
          ++res_.stopped_early;
          return release(i, St::stopped);
        }
      }
    }
    if (o_.method == Method::spottune && o_.prediction) {
      TrendAssessment a = trend_.assess(size_t(i), t.metric, res_.best);
      if (a.basis != "none")
        res_.decisions.push_back({now_, t.config, t.done, res_.best, a.prob, a.references, a.basis, a.stop});
      if (a.stop) {
        ++res_.stopped_early;
        return release(i, St::stopped);
      }
      if (o_.rank_early && rank_pauses(i, out.metric, a.basis == "none")) {
        paused_.push_back(i);
        return release(i, St::paused);
      }
    }
    if (o_.method == Method::spottune && o_.provisioning) {
      const Lease& l = leases_[size_t(t.lease)];
      double work = double(o_.epochs - t.done) * epoch_ref(t);
      double stay = expected_cost(m_, o_, l.type, l.spot, now_, work, epoch_ref(t), false);
      // Hourly billing: the current hour is paid whether the trial stays or leaves.
      stay = std::max(0.0, stay - prepaid_dollars(l));
      int ty = 0;
      bool spot = false;
      double wake = kInf;
      place(t, now_, &ty, &spot, &wake);
      if (ty != l.type || spot != l.spot) {
        double go = expected_cost(m_, o_, ty, spot, now_, work, epoch_ref(t), true);
        if (go < stay * (1 - o_.migrate_gain)) {
          ++t.migrations;
          ++res_.migrations;
          close_lease(t.lease, now_, false);
          b_.release(t.config);
          requeue(i);
          return;
        }
      }
    }
    start_epoch(i);
  }

  int rung_of(int epoch) const {
    for (size_t k = 0; k < rungs_.size(); ++k)
      if (rungs_[k] == epoch) return int(k);
    return -1;
  }

  // ASHA, stopping variant (as Ray Tune runs it): a trial reaching rung k continues when
  // its metric is within the best 1/eta of all results recorded at rung k so far
  // (itself included), otherwise it stops for good.
  bool asha_continues(int k, double v) const {
    std::vector<double> r;
    for (auto& [x, i] : rung_results_[size_t(k)]) r.push_back(x);
    return in_top_fraction(r, v);
  }

  bool in_top_fraction(std::vector<double> r, double v) const {
    std::sort(r.begin(), r.end(), [&](double a, double b) { return better(a, b); });
    size_t keep = std::max<size_t>(1, (r.size() + size_t(o_.eta) - 1) / size_t(o_.eta));
    return !better(r[keep - 1], v);
  }

  // SpotTune's rank-early rule: records the value of every trial at each epoch the ensemble
  // can judge (k >= 3); while the calibrated prediction abstains (too few references), a
  // trial outside the best 1/eta of the values recorded at its epoch pauses, freeing its
  // instance for a new trial, if one is left. A pause is not a verdict: next_trial resumes
  // the trial once the prediction, with references, says it may still beat the best, or
  // when no new trials are left, and stops it only on the prediction's word.
  //
  // With fair_refs (the default) the first fair_refs trials to start, picked by the seeded
  // order and not by their values, never pause, and a paused trial leaves the calibration
  // for good (whether it runs on was decided by its rank). Without them (fair_refs 0) the
  // references are the trials that ranked well early, a biased sample whose backtest errors
  // understate the error on a slow starter (docs/TUNING.md, "Rank early").
  bool rank_pauses(int i, double v, bool abstained) {
    Trial& t = tr_[size_t(i)];
    if (t.done < kEnsembleMinEpochs) return false;
    std::vector<double>& r = rank_values_[t.done];
    r.push_back(v);
    if (!abstained || t.reference || in_top_fraction(r, v) || !new_trials_left(now_)) return false;
    if (o_.fair_refs > 0) {
      t.rank_paused = true;
      trend_.forget(size_t(i));
    }
    return true;
  }

  void halt(double t, const std::string& why) {
    now_ = t;
    halted_ = true;
    res_.budget_exhausted = true;
    for (size_t i = 0; i < tr_.size(); ++i)
      if (tr_[i].st == St::running) {
        if (tr_[i].lease >= 0) close_lease(tr_[i].lease, t, false);
        b_.release(tr_[i].config);
        tr_[i].st = St::stopped;
        tr_[i].error = why;
      }
  }

  void snapshot() {
    res_.trials_table.clear();
    for (const Trial& t : tr_) {
      TrialSummary s;
      s.config = t.config;
      s.status = st_name(t.st);
      s.epochs = t.done;
      s.last = t.metric.empty() ? 0 : t.metric.back();
      s.best = t.metric.empty() ? 0 : *std::min_element(t.metric.begin(), t.metric.end(), [&](double a, double b) { return better(a, b); });
      if (t.lease >= 0) {
        const Lease& l = leases_[size_t(t.lease)];
        s.instance = m_.market->types[size_t(l.type)].name + (l.spot ? "/spot" : "/od");
      }
      s.cost = t.cost;
      if (t.lease >= 0) s.cost += lease_cost(o_.billing, price_of(leases_[size_t(t.lease)]), leases_[size_t(t.lease)].start, std::max(now_, leases_[size_t(t.lease)].start), false);
      s.revocations = t.revocations;
      s.migrations = t.migrations;
      s.error = t.error;
      res_.trials_table.push_back(s);
    }
  }

  void finish() {
    for (size_t i = 0; i < tr_.size(); ++i)
      if (tr_[i].lease >= 0) close_lease(tr_[i].lease, now_, false);
    res_.cost = closed_cost_;
    res_.wall_s = now_;
    res_.spot_share = spot_s_ + od_s_ > 0 ? spot_s_ / (spot_s_ + od_s_) : 0;
    if (!res_.best_vs_cost.empty()) res_.best_vs_cost.emplace_back(res_.cost, res_.best);
    snapshot();
  }

  static TrendOptions trend_options(const SimOptions& o) {
    TrendOptions t;
    t.epochs = o.epochs;
    t.minimize = o.minimize;
    t.stop_prob = o.stop_prob;
    t.calibrate = o.calibrate;
    t.predict_from = o.predict_from;
    t.min_references = o.min_references;
    t.use_map = o.trend_map;
    t.use_ensemble = o.trend_ensemble;
    t.student = o.trend_student;
    t.backtest_reach = o.backtest_reach;
    t.predict_after = o.predict_after;
    return t;
  }

  const MarketReplay& m_;
  TrialBackend& b_;
  const std::vector<size_t>& order_;
  SimOptions o_;
  ProgressFn progress_;
  TrendPredictor trend_;
  SimResult res_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> q_;
  long seq_ = 0;
  std::vector<Trial> tr_;
  std::vector<Lease> leases_;
  std::deque<int> queue_;
  std::vector<int> paused_;                         // spottune rank_early, in pausing order
  std::map<int, std::vector<double>> rank_values_;  // spottune rank_early: values recorded per epoch
  size_t next_new_ = 0;
  int reference_trials_ = 0;                        // spottune fair_refs: reference trials started, less failed ones
  int running_ = 0;
  double now_ = 0, closed_cost_ = 0, spot_s_ = 0, od_s_ = 0;
  bool halted_ = false;
  std::vector<double> blocked_until_;
  std::vector<int> rungs_;
  std::vector<std::vector<std::pair<double, int>>> rung_results_;
};

}  // namespace

SimResult simulate(const MarketReplay& market, TrialBackend& backend, const std::vector<size_t>& order,
                   const SimOptions& opt, const ProgressFn& progress) {
  if (opt.parallel < 1) throw std::invalid_argument("parallel must be >= 1");
  if (opt.eta < 2) throw std::invalid_argument("eta must be >= 2");
  for (size_t c : order)
    if (c >= backend.configs()) throw std::invalid_argument("config index out of range");
  Sim s(market, backend, order, opt, progress);
  return s.run();
}

}  // namespace veil::tune
