// Shared helpers of the nn tests: fixture paths, temporary model folders, running the float64
// reference (tools/reference_logits.py) and the veil binary.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "veil/core/tensor.h"
#include "veil/model/safetensors.h"
#include "veil/nn/checkpoint.h"

namespace veil::nn::test {

inline std::string repo_path(const std::string& rel) { return std::string(VEIL_SOURCE_DIR) + "/" + rel; }
inline std::string gpt2_fixture() { return repo_path("models/tiny-random-gpt2"); }
inline std::string bert_fixture() { return repo_path("models/tiny-random-bert"); }

struct CommandResult {
  int rc;
  std::string out;  // stdout
};

inline CommandResult run_command(const std::string& cmd) {
  CommandResult r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline bool have_torch() { return run_command("/usr/bin/python3 -c 'import torch' 2>/dev/null").rc == 0; }

#define VEIL_SKIP_WITHOUT_TORCH()                                                          \
  if (!::veil::nn::test::have_torch())                                                     \
  GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch: scripts/bootstrap); " \
                  "the float64 reference is unavailable"

inline std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s;
}

// The JSON of tools/reference_logits.py for a model folder and token ids.
inline nlohmann::json reference(const std::string& dir, const std::vector<int32_t>& ids,
                                const std::vector<int32_t>& token_types = {}) {
  std::string cmd = "/usr/bin/python3 " + repo_path("tools/reference_logits.py") + " --model '" + dir +
                    "' --ids " + join(ids);
  if (!token_types.empty()) cmd += " --token-types " + join(token_types);
  const CommandResult r = run_command(cmd);
  if (r.rc != 0) throw std::runtime_error("reference_logits.py failed (exit " + std::to_string(r.rc) + "): " + cmd);
  return nlohmann::json::parse(r.out);
}

// max |a − b| over a (R,N) tensor and a JSON array of R rows of N numbers.
inline double max_abs_diff(const Tensor<float>& a, const nlohmann::json& rows) {
  EXPECT_EQ(int64_t(rows.size()), a.dim(0));
  EXPECT_EQ(int64_t(rows.at(0).size()), a.dim(1));
  double m = 0;
  for (int64_t r = 0; r < a.dim(0); ++r)
    for (int64_t c = 0; c < a.dim(1); ++c)
      m = std::max(m, std::abs(double(a.data[size_t(r * a.dim(1) + c)]) - rows[size_t(r)][size_t(c)].get<double>()));
  return m;
}

inline double max_abs_diff(const Tensor<float>& a, const Tensor<float>& b) {
  EXPECT_EQ(a.shape, b.shape);
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

inline std::vector<int32_t> random_ids(int64_t n, int32_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(int32_t(rng() % uint64_t(vocab)));
  return ids;
}

// A fresh folder under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    const auto base = std::filesystem::temp_directory_path();
    std::mt19937_64 rng(std::random_device{}());
    do path_ = base / ("veil-nn-test-" + std::to_string(rng()));
    while (!std::filesystem::create_directory(path_));
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string sub(const std::string& name) const {
    std::filesystem::create_directories(path_ / name);
    return (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

// Writes `config` and `weights` (names as given) as a model folder `dir`.
inline void write_model(const std::string& dir, const nlohmann::json& config, const Weights& weights) {
  write_json(dir + "/config.json", config);
  model::save_safetensors(dir + "/model.safetensors", weights);
}

// The weights with `prefix` put before every name.
inline Weights prefixed(const Weights& w, const std::string& prefix) {
  Weights out;
  for (const auto& [name, t] : w) out.emplace(prefix + name, t);
  return out;
}

// softmax(s)·v in double: s (H, Tq, Tk) scores, v (H, Tk, D), row-major; with `causal` query i
// sees keys 0 .. i + Tk − Tq. -> (H, Tq, D).
inline std::vector<double> softmax_times_v(const std::vector<double>& s, const std::vector<double>& v, int64_t heads,
                                           int64_t tq, int64_t tk, int64_t d, bool causal) {
  std::vector<double> y(size_t(heads * tq * d), 0.0);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < tq; ++i) {
      const int64_t last = causal ? i + (tk - tq) : tk - 1;
      const double* row = s.data() + (h * tq + i) * tk;
      double mx = row[0], sum = 0;
      for (int64_t j = 0; j <= last; ++j) mx = std::max(mx, row[j]);
      for (int64_t j = 0; j <= last; ++j) sum += std::exp(row[j] - mx);
      for (int64_t j = 0; j <= last; ++j)
        for (int64_t c = 0; c < d; ++c)
          y[size_t((h * tq + i) * d + c)] += std::exp(row[j] - mx) / sum * v[size_t((h * tk + j) * d + c)];
    }
  return y;
}

// max |a − b| over two equal-length vectors.
inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace veil::nn::test
