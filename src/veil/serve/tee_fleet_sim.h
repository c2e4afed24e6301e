// A discrete-event simulation of a fleet of SGX hosts running TEE workers, to compare the EPC-aware
// balancer with EPC-blind ones (epc_placement.h) on one request stream. Deterministic by seed.
//
// Requests arrive as a Poisson stream of `rate` per second for `duration` seconds; each has a
// context uniform in [min_context, max_context] tokens, a service time service_base +
// service_per_token · context (without paging), and an enclave of enclave_bytes(model, context).
// The balancer places each arriving request on a host's FIFO, or refuses it (max_queue requests
// already waiting in all hosts, or no host's EPC can hold it). A host runs up to `slots` requests
// at once; while its committed enclave memory exceeds its EPC every running request progresses at
// 1 / paging_penalty(committed / EPC) of its speed (rates change at every start and finish).
// Every second the TEE autoscaler is told the predicted backlog (remaining work without paging,
// divided by the slots of each host) and the EPC demand (enclaves of running and waiting
// requests); the report keeps its peak counts. The fleet itself stays at `hosts`, so the observed
// p99 is not fed to the latency count (its rule adds a host per tick while p99 exceeds the SLO,
// which without a growing fleet would only count up).
//
// What is modelled rather than measured: service times (parameters, not a measured enclave
// worker), the paging penalty (epc_placement.h), the arrival process. No SGX hardware is involved.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "veil/serve/epc_placement.h"

namespace veil::serve {

struct TeeSimOptions {
  EnclaveModel model{};
  int hosts = 4;
  int64_t epc_bytes = 0;  // usable EPC per host
  int slots = 8;
  double rate = 10;        // requests per second
  double duration = 600;   // seconds of arrivals
  int64_t min_context = 64, max_context = 1024;
  double service_base = 0.2, service_per_token = 0.002;  // seconds
  int max_queue = 64;
  double paging_slowdown = 8;  // S of paging_penalty
  double slo_seconds = 5;      // for the autoscaler's latency count
  uint64_t seed = 1;
};

struct TeeRequest {
  double arrival;
  int64_t context;
  double service_seconds;
  int64_t enclave_bytes;
};

// The request stream of `o` (its own generator: the same on every platform for a seed).
std::vector<TeeRequest> tee_request_stream(const TeeSimOptions& o);

struct TeeSimReport {
  std::string placer;
  uint64_t requests = 0, completed = 0, refused = 0;
  double throughput = 0;     // completed / seconds from 0 to the last finish
  double p50 = 0, p99 = 0;   // latency (arrival to finish) of completed requests, seconds
  int hosts_used = 0;        // hosts that ran at least one request
  double overcommitted_fraction = 0;  // share of host-time with committed enclave memory > EPC
  double max_overcommit = 0;          // highest committed / EPC seen on any host
  int peak_hosts_by_epc = 0, peak_hosts_by_latency = 0;
};

TeeSimReport run_tee_sim(const TeeSimOptions& o, TeePlacer placer, const std::vector<TeeRequest>& requests);

}  // namespace veil::serve
