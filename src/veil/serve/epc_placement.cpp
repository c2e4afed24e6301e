#include "veil/serve/epc_placement.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "veil/model/hf_config.h"

namespace veil::serve {

EnclaveModel enclave_model_from_config(const nlohmann::json& config, const std::string& source) {
  const model::Gpt2Config c = model::parse_gpt2_config(config, source);
  const std::string dtype = config.contains("torch_dtype") && config.at("torch_dtype").is_string()
                                ? config.at("torch_dtype").get<std::string>()
                                : "float32";
  int bytes = 0;
  if (dtype == "float32")
    bytes = 4;
  else if (dtype == "float16" || dtype == "bfloat16")
    bytes = 2;
  else
    throw std::invalid_argument(source + ": torch_dtype '" + dtype + "' (float32, float16 or bfloat16)");
  return {c.n_layer, c.n_embd, c.n_positions, c.vocab_size, c.n_inner, bytes};
}

int64_t model_bytes(const EnclaveModel& m) {
  const int64_t e = m.n_embd, i = m.n_inner;
  const int64_t per_layer = 2 * e + (3 * e * e + 3 * e) + (e * e + e) + 2 * e + (e * i + i) + (i * e + e);
  return (m.vocab_size * e + m.n_positions * e + m.n_layer * per_layer + 2 * e) * m.dtype_bytes;
}

int64_t kv_cache_bytes(const EnclaveModel& m, int64_t context) {
  if (context < 1 || context > m.n_positions)
    throw std::invalid_argument("context " + std::to_string(context) + " is outside 1.." +
                                std::to_string(m.n_positions) + " (the model's n_positions)");
  return 2 * m.n_layer * context * m.n_embd * m.dtype_bytes;
}

double paging_penalty(double overcommit_ratio, double max_slowdown) {
  if (overcommit_ratio <= 1) return 1;
  return 1 + max_slowdown * (1 - 1 / overcommit_ratio);
}

TeePlacer parse_tee_placer(const std::string& s) {
  if (s == "epc-aware") return TeePlacer::epc_aware;
  if (s == "least-loaded") return TeePlacer::least_loaded;
  if (s == "round-robin") return TeePlacer::round_robin;
  throw std::invalid_argument("unknown placer '" + s + "' (epc-aware, least-loaded, round-robin)");
}

std::string tee_placer_name(TeePlacer p) {
  switch (p) {
    case TeePlacer::epc_aware: return "epc-aware";
    case TeePlacer::least_loaded: return "least-loaded";
    case TeePlacer::round_robin: return "round-robin";
  }
  return "?";
}

int64_t TeeHostState::committed() const {
  int64_t c = 0;
  for (const TeeJob& j : running) c += j.enclave_bytes;
  return c;
}

bool can_start(const TeeHostState& h, const TeeJob& j, TeePlacer p) {
  if (int(h.running.size()) >= h.spec.slots) return false;
  return p != TeePlacer::epc_aware || h.committed() + j.enclave_bytes <= h.spec.epc_bytes;
}

double predicted_completion(const TeeHostState& h, const TeeJob& j) {
  constexpr double kNever = std::numeric_limits<double>::infinity();
  if (j.enclave_bytes > h.spec.epc_bytes) return kNever;
  struct Active {
    double finish;
    int64_t bytes;
  };
  std::vector<Active> active;
  int64_t committed = 0;
  for (const TeeJob& r : h.running) {
    active.push_back({r.work_seconds, r.enclave_bytes});
    committed += r.enclave_bytes;
  }
  std::deque<const TeeJob*> queue;
  for (const TeeJob& w : h.waiting) queue.push_back(&w);
  queue.push_back(&j);
  double t = 0;
  while (true) {
    const TeeJob& head = *queue.front();
    if (int(active.size()) < h.spec.slots && committed + head.enclave_bytes <= h.spec.epc_bytes) {
      if (&head == &j) return t + j.work_seconds;
      active.push_back({t + head.work_seconds, head.enclave_bytes});
      committed += head.enclave_bytes;
      queue.pop_front();
      continue;
    }
    if (active.empty()) return kNever;  // a queued job larger than the EPC (never placed by epc_aware)
    auto first = std::min_element(active.begin(), active.end(),
                                  [](const Active& a, const Active& b) { return a.finish < b.finish; });
    t = std::max(t, first->finish);
    committed -= first->bytes;
    active.erase(first);
  }
}

TeePlacement place_tee_job(TeePlacer p, const std::vector<TeeHostState>& hosts, const TeeJob& j, size_t& rr) {
  TeePlacement out;
  if (hosts.empty()) {
    out.reason = "no hosts";
    return out;
  }
  switch (p) {
    case TeePlacer::round_robin:
      out.host = int(rr++ % hosts.size());
      return out;
    case TeePlacer::least_loaded: {
      size_t best = 0;
      for (size_t i = 1; i < hosts.size(); ++i)
        if (hosts[i].running.size() + hosts[i].waiting.size() < hosts[best].running.size() + hosts[best].waiting.size())
          best = i;
      out.host = int(best);
      return out;
    }
    case TeePlacer::epc_aware: {
      double best_t = std::numeric_limits<double>::infinity();
      int64_t best_headroom = 0;
      for (size_t i = 0; i < hosts.size(); ++i) {
        const double t = predicted_completion(hosts[i], j);
        if (!std::isfinite(t)) continue;
        const int64_t headroom = hosts[i].spec.epc_bytes - hosts[i].committed();
        constexpr double kSame = 1e-9;  // seconds: equal predictions
        if (!out.host || t < best_t - kSame || (t <= best_t + kSame && headroom > best_headroom)) {
          out.host = int(i);
          best_t = t;
          best_headroom = headroom;
        }
      }
      if (!out.host)
        out.reason = "its enclave needs " + std::to_string(j.enclave_bytes) + " bytes, more than any host's usable EPC";
      return out;
    }
  }
  return out;
}

TeeScale TeeAutoscaler::tick(const AutoscalerInput& in, int64_t epc_demand_bytes, int64_t usable_epc_per_host) {
  if (usable_epc_per_host <= 0) throw std::invalid_argument("usable EPC per host must be positive");
  TeeScale s;
  s.by_latency = latency_.tick(in);
  s.by_epc = int((epc_demand_bytes + usable_epc_per_host - 1) / usable_epc_per_host);
  s.hosts = std::min(latency_.options().max_groups, std::max(s.by_latency, s.by_epc));
  return s;
}

}  // namespace veil::serve
