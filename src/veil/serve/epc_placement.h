// Placement and scaling of TEE workers (plaintext-backend workers inside SGX enclaves) by enclave
// page cache (EPC): the memory all enclaves of a host share, and whose overcommitment makes the
// kernel page enclave memory out and in (encrypted, integrity-checked), which ruins latency.
// S3ML (Ma et al., 2020) balances and scales its SGX model servers by EPC for that reason.
//
// A TEE worker serves one request (session) at a time in its own enclave. While it runs, the
// enclave commits
//   enclave bytes = model bytes + KV-cache bytes(context)
//   model bytes   = parameters · dtype bytes, GPT-2 parameters =
//                   V·E + P·E (token and position embeddings; the LM head is tied to the first)
//                   + L·(2E + 3E² + 3E + E² + E + 2E + E·I + I + I·E + E) + 2E (final layer norm)
//   KV bytes      = 2 (K and V) · L · context · E · dtype bytes
// with L = n_layer, E = n_embd, P = n_positions, V = vocab_size, I = n_inner (4E when absent), and
// dtype bytes from "torch_dtype" (float32 4, float16/bfloat16 2). Activations and the enclave
// runtime are not counted (a deployment adds them to each host's reserve by declaring less usable EPC).
//
// The EPC-aware balancer (TeePlacer::epc_aware) never commits a host beyond its usable EPC: a host
// starts the head of its FIFO only when a slot is free and the enclave fits; placement picks the
// host with the earliest predicted completion (queue replayed under both limits), and among equal
// ones the most EPC headroom; a request no host's EPC can hold is refused. The EPC-blind ones
// (least_loaded: fewest running + waiting; round_robin) start whenever a slot is free, whatever the
// EPC, and pay the paging penalty below.
#pragma once
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "veil/serve/autoscaler.h"

namespace veil::serve {

struct EnclaveModel {
  int64_t n_layer, n_embd, n_positions, vocab_size, n_inner;
  int dtype_bytes;
};

// From a GPT-2 config.json (model::parse_gpt2_config plus "torch_dtype", float32 when absent).
// Throws model::ConfigError, or std::invalid_argument for an unsupported dtype.
EnclaveModel enclave_model_from_config(const nlohmann::json& config, const std::string& source);
int64_t model_bytes(const EnclaveModel& m);
// Throws std::invalid_argument for a context outside 1..n_positions.
int64_t kv_cache_bytes(const EnclaveModel& m, int64_t context);
inline int64_t enclave_bytes(const EnclaveModel& m, int64_t context) { return model_bytes(m) + kv_cache_bytes(m, context); }

// Paging penalty (modelled, not measured here: this machine has no SGX). With committed enclave
// memory C on a host of usable EPC E, overcommit ratio r = C / E. For r <= 1 nothing pages. For
// r > 1, a fraction 1 - 1/r of the committed pages cannot be resident; with accesses spread evenly
// over them that is the fraction of accesses that fault, and each fault costs an EPC eviction and
// reload (about 40,000 cycles per swap by Taassori et al., "VAULT", ASPLOS 2018). So
//   penalty(r) = 1 + S · (1 - 1/r),   service time multiplied by penalty(r),
// monotone in r and bounded by 1 + S. S = 8 by default: then penalty(2) = 5, the average slowdown
// VAULT reports for SGX paging, taken here as the slowdown at half the working set paged out;
// penalty(5) = 7.4 at 5x overcommit, where Eleos (Orenbach et al., EuroSys 2017) ran memcached and
// a face verification server on datasets up to 5x the EPC and got 2.2-2.3x back by avoiding SGX's
// paging (so SGX paging cost at least that much there). The model ignores access locality (a hot
// working set smaller than the EPC pages less) and the cost of building enclaves.
double paging_penalty(double overcommit_ratio, double max_slowdown = 8.0);

enum class TeePlacer { epc_aware, least_loaded, round_robin };
TeePlacer parse_tee_placer(const std::string& s);  // "epc-aware", "least-loaded", "round-robin"
std::string tee_placer_name(TeePlacer p);

struct TeeHostSpec {
  int64_t epc_bytes = 0;  // usable EPC
  int slots = 1;          // workers that may run at once (cores)
};

struct TeeJob {
  uint64_t id = 0;
  int64_t enclave_bytes = 0;
  double work_seconds = 0;  // remaining service time without paging
};

struct TeeHostState {
  TeeHostSpec spec;
  std::vector<TeeJob> running;
  std::deque<TeeJob> waiting;

  int64_t committed() const;  // enclave bytes of the running jobs
  double overcommit_ratio() const { return double(committed()) / double(spec.epc_bytes); }
};

// Whether `h` may start `j` now under placer `p`: a free slot, and for epc_aware the enclave fits.
bool can_start(const TeeHostState& h, const TeeJob& j, TeePlacer p);

// epc_aware: seconds from now until `j` would finish on `h` if queued last, replaying the running
// jobs' remaining work and the FIFO under the slot and EPC limits (no paging: it never pages).
// Infinite if `j` alone exceeds the host's EPC.
double predicted_completion(const TeeHostState& h, const TeeJob& j);

struct TeePlacement {
  std::optional<int> host;
  std::string reason;  // when refused
};

// The host for `j` (index into `hosts`), or a refusal. `rr` is round_robin's cursor.
TeePlacement place_tee_job(TeePlacer p, const std::vector<TeeHostState>& hosts, const TeeJob& j, size_t& rr);

// The autoscaler for TEE groups: the latency-based count of the existing Autoscaler, next to the
// EPC count hosts_by_epc = ceil(enclave bytes placed and not finished / usable EPC per host); the
// fleet needs the larger (at most max_groups). EPC is the scarce resource when hosts_by_epc wins.
struct TeeScale {
  int by_latency = 0, by_epc = 0, hosts = 0;
};

class TeeAutoscaler {
 public:
  explicit TeeAutoscaler(AutoscalerOptions o) : latency_(o) {}
  TeeScale tick(const AutoscalerInput& in, int64_t epc_demand_bytes, int64_t usable_epc_per_host);

 private:
  Autoscaler latency_;
};

}  // namespace veil::serve
