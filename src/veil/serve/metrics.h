// Prometheus metrics in the text exposition format (version 0.0.4): counters, gauges and
// histograms with labels, for the gateway's and the party workers' /metrics. Thread-safe.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace veil::serve {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // Declares a metric family before use; names and help are printed as given. A histogram's
  // upper bounds must be increasing (the +Inf bucket is added). Throws std::invalid_argument for
  // a name that is not [a-zA-Z_:][a-zA-Z0-9_:]* or a family declared twice with another type.
  void counter(const std::string& name, const std::string& help);
  void gauge(const std::string& name, const std::string& help);
  void histogram(const std::string& name, const std::string& help, std::vector<double> bounds);

  // Throw std::invalid_argument for an undeclared family or one of another type, or a negative
  // counter increment.
  void add(const std::string& name, const Labels& labels, double value = 1);
  void set(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, const Labels& labels, double value);

  // A counter's or gauge's current value (0 when the series has not been touched).
  double value(const std::string& name, const Labels& labels = {}) const;

  std::string render() const;  // the whole exposition, families in declaration order

 private:
  enum class Type { counter, gauge, histogram };
  struct Series {
    double value = 0;               // counter, gauge; the histogram's sum
    uint64_t count = 0;             // histogram
    std::vector<uint64_t> buckets;  // histogram, per bound (not cumulative)
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // by rendered label set
  };
  void declare(const std::string& name, Type type, const std::string& help, std::vector<double> bounds);
  Series& series(const std::string& name, Type type, const Labels& labels);

  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// "{a=\"x\",b=\"y\"}" with the values escaped (\\, \", \n); "" for no labels.
std::string render_labels(const Labels& labels);
// A sample value as Prometheus reads it: integers without a fraction, +Inf, NaN.
std::string format_value(double v);

}  // namespace veil::serve
