// Spot market replay on real data.
//
//  * Spot prices: AWS `describe-spot-price-history` CSV (AvailabilityZone, InstanceType,
//    ProductDescription, SpotPrice, Timestamp); one product (default "Linux/UNIX") is
//    kept and each type's price is a step function of time (dollars per hour).
//  * Availability: SkyPilot spot traces (skypilot-org/spot-traces), JSON
//    {"metadata": {"gap_seconds": N}, "data": [k0, k1, ...]} where k is the number of spot
//    instances that could be held at that tick. We read k > 0 as "spot capacity is there";
//    a running spot instance is revoked when the trace drops to 0.
//  * A market file (data/tune/market-*.json) names the instance types, their on-demand
//    prices (with the table's source), relative speeds, the baseline type, and scenarios:
//    each scenario is a folder of traces, assigned to the instance types in sorted order.
//
// Replay: scenario time 0 maps to a seeded offset in the price history and to a seeded
// offset in the second half of each trace; revocation rates are estimated from the first
// half only, so the scheduler never sees the future it is replayed on.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace veil::tune {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Piecewise-constant price (dollars/hour) over time (seconds since the series' epoch).
struct PriceSeries {
  std::vector<double> t;      // change times, ascending; t[0] is the first observation
  std::vector<double> price;  // price from t[i] until t[i+1]
  double at(double time) const;                    // before t[0]: price[0]
  double dollars(double t0, double t1) const;      // integral of price over [t0, t1) in dollars
  double span() const { return t.empty() ? 0 : t.back() - t.front(); }
};

// All series of one product in an AWS spot price CSV, keyed by instance type. Times are
// seconds since the earliest timestamp in the file (shared by all series).
std::map<std::string, PriceSeries> load_aws_spot_prices(const std::string& csv_path,
                                                        const std::string& product = "Linux/UNIX");
// "2020-07-31T11:24:57+00:00" -> Unix seconds. Throws on a malformed stamp.
double parse_iso8601(const std::string& s);

class AvailabilityTrace {
 public:
  AvailabilityTrace() = default;
  AvailabilityTrace(std::string name, double gap_s, std::vector<int> counts);
  const std::string& name() const { return name_; }
  double gap_s() const { return gap_; }
  double duration_s() const { return gap_ * double(n_.size()); }
  size_t ticks() const { return n_.size(); }
  int count(size_t tick) const { return n_[tick]; }
  // Time wraps around the end of the trace.
  bool available(double t) const { return n_[tick(t)] > 0; }
  double next_unavailable(double t) const;  // first time >= t with no capacity (kInf if never)
  double next_available(double t) const;    // first time >= t with capacity (kInf if never)

 private:
  size_t tick(double t) const;
  double tick_time(double t, int64_t ahead) const;
  std::string name_;
  double gap_ = 1;
  std::vector<int> n_;
  std::vector<int64_t> next_down_, next_up_;  // ticks ahead (over a doubled trace), -1 = never
};

AvailabilityTrace load_skypilot_trace(const std::string& json_path);

// Revocations of a held spot instance, from a trace window [t0, t1): a revocation is a
// drop from capacity to none. Rate per hour of held (available) time.
struct RevocationEstimate {
  double rate_per_hour = 0;
  double availability = 1;   // fraction of ticks with capacity
  int revocations = 0;
  double held_hours = 0;
  // Probability that an instance held for `hours` is revoked (Poisson with the rate).
  double probability(double hours) const;
};
RevocationEstimate estimate_revocation(const AvailabilityTrace& tr, double t0, double t1);

struct InstanceType {
  std::string name;
  double vcpus = 1;
  double on_demand = 0;  // dollars per hour
  double speed = 1;      // epochs per unit time relative to the baseline type
};

struct Scenario {
  std::string name;
  std::string trace_dir;   // relative to the shared data folder
};

struct Market {
  std::string name;
  std::string on_demand_source;
  std::string speed_note;
  std::vector<InstanceType> types;
  std::vector<PriceSeries> spot;   // parallel to types
  int baseline = 0;                // index of the type the baselines use
  std::vector<Scenario> scenarios;
  std::string data_dir;
  int type_index(const std::string& name) const;  // -1 if absent
};

// Reads a market file; `data_dir` is the shared data folder (…/shared/data).
Market load_market(const std::string& market_json, const std::string& data_dir);

// One market as seen by one experiment (scenario + seed).
struct MarketReplay {
  const Market* market = nullptr;
  std::string scenario;
  std::vector<AvailabilityTrace> traces;      // parallel to market->types
  std::vector<RevocationEstimate> estimate;   // from the first half of each trace
  double price_offset_s = 0, trace_offset_s = 0;

  size_t types() const { return market->types.size(); }
  double on_demand_price(int ty) const { return market->types[ty].on_demand; }
  double spot_price(int ty, double t) const { return market->spot[ty].at(price_offset_s + t); }
  double spot_dollars(int ty, double t0, double t1) const {
    return market->spot[ty].dollars(price_offset_s + t0, price_offset_s + t1);
  }
  bool spot_available(int ty, double t) const { return traces[ty].available(trace_offset_s + t); }
  double next_revocation(int ty, double t) const { return traces[ty].next_unavailable(trace_offset_s + t) - trace_offset_s; }
  double next_spot_available(int ty, double t) const { return traces[ty].next_available(trace_offset_s + t) - trace_offset_s; }
};

// Builds the replay for scenario `s`; offsets drawn from `seed` so that `horizon_s` of
// price history fits after the price offset.
MarketReplay make_replay(const Market& m, size_t s, uint64_t seed, double horizon_s);

}  // namespace veil::tune
