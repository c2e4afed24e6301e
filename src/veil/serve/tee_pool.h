// The gateway's TEE workers (serve/tee_worker.h) and the placement of requests on them by
// enclave page cache (serve/epc_placement.h). Each host declares its usable EPC and slots (the
// enclaves it may run at once); each worker names its host and serves one request at a time.
// A request needs enclave_bytes(model, prompt + new tokens) while it runs.
//
// place() picks a host with place_tee_job under the pool's placer over the hosts that have a
// healthy worker (their slots: the declared slots, at most their healthy workers); the request
// joins that host's FIFO. try_start() starts the head of a host's FIFO when can_start allows it
// (a free slot, and for epc-aware the enclave fits the EPC left) and an idle healthy worker of
// the host is there; the EPC-blind placers (least-loaded, round-robin) start it whatever the EPC,
// and the pool records the overcommitment that results (peak_overcommit). Refusals: max_queue
// requests waiting in all hosts (429, retry after the shortest predicted drain), an enclave larger
// than every host's EPC (never fits), no healthy worker.
// Service time: tokens · seconds per token, an exponential average of the observed sessions
// (its start value is an option). Not thread-safe (the gateway holds its lock); time is the
// caller's clock, in seconds.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "veil/net/endpoint.h"
#include "veil/serve/epc_placement.h"

namespace veil::serve {

struct TeeHostDecl {
  std::string name;
  int64_t epc_bytes = 0;  // usable EPC
  int slots = 1;
};

struct TeeWorkerSpec {
  int id = -1;
  std::string host;       // a declared host's name
  net::Endpoint endpoint;  // where the gateway connects (--listen)
  std::string health;     // host:port of its /readyz ("" when not known: healthy when added)
  pid_t pid = -1;         // local processes only
};

struct TeePoolOptions {
  TeePlacer placer = TeePlacer::epc_aware;
  int max_queue = 32;              // waiting requests, all hosts together
  double seconds_per_token = 0.01;  // start value of the service-time estimate
  double scale_weight = 0.3;        // weight of the newest observation in it
};

struct TeePlaced {
  bool placed = false;
  bool never = false;  // refused because no host's EPC can ever hold it
  uint64_t ticket = 0;
  std::string host;
  double predicted_seconds = 0;
  double retry_after_seconds = 0;
  std::string reason;
};

struct TeeHostSnapshot {
  std::string name;
  int64_t epc_bytes = 0, committed_bytes = 0;
  int slots = 0, healthy_workers = 0, running = 0, waiting = 0;
  double peak_overcommit = 0;  // largest committed / EPC seen
};

// A deployment's TEE fleet (`veil gateway --tee-config FILE`):
//   {"hosts":   [{"name": "h0", "epc_mb": 94, "slots": 4}, ...],     (or "epc_bytes")
//    "workers": [{"host": "h0", "endpoint": "10.0.0.5:7100", "health": "10.0.0.5:7101"}, ...]}
// Worker ids are their positions. Throws std::invalid_argument naming `source` and the entry.
struct TeeFleetConfig {
  std::vector<TeeHostDecl> hosts;
  std::vector<TeeWorkerSpec> workers;
};
TeeFleetConfig parse_tee_config(const std::string& json_text, const std::string& source);

class TeePool {
 public:
  explicit TeePool(TeePoolOptions o) : o_(o) {}

  // Throw std::invalid_argument for a duplicate name or id, an unknown host, EPC or slots < 1.
  void add_host(const TeeHostDecl& h);
  void add_worker(const TeeWorkerSpec& w);
  void set_healthy(int worker, bool healthy);
  bool healthy(int worker) const;
  const TeeWorkerSpec& worker(int id) const { return workers_.at(id).spec; }
  std::vector<TeeWorkerSpec> workers() const;
  bool empty() const { return workers_.empty(); }

  TeePlaced place(int64_t enclave_bytes, int64_t tokens, double now, bool retry = false);
  // The worker the request now runs on, or -1 (still waiting). A request whose host lost all its
  // healthy workers is cancelled and returns -2: place it again.
  int try_start(uint64_t ticket, double now);
  // Ends a running request; `observed_seconds` > 0 updates the seconds per token.
  void finish(uint64_t ticket, double observed_seconds);
  void cancel(uint64_t ticket);
  bool known(uint64_t ticket) const { return where_.count(ticket) != 0; }

  std::vector<TeeHostSnapshot> snapshot() const;
  double backlog_seconds(double now) const;
  int64_t epc_demand_bytes() const;  // enclave bytes of running and waiting requests
  int64_t largest_host_epc() const;
  int waiting() const;
  int running() const;
  int healthy_workers() const;
  double seconds_per_token() const { return spt_; }
  double host_overcommit(const std::string& host) const;  // committed / usable EPC now
  TeePlacer placer() const { return o_.placer; }

 private:
  struct Job {
    TeeJob job;
    int64_t tokens = 0;
    double started = -1;
    int worker = -1;
  };
  struct Host {
    TeeHostDecl decl;
    std::deque<Job> waiting;
    std::vector<Job> running;
    double peak_overcommit = 0;
  };
  struct Worker {
    TeeWorkerSpec spec;
    bool healthy = true;
    uint64_t busy = 0;  // the ticket it runs, 0 when idle
  };
  int healthy_on(const std::string& host) const;
  TeeHostState view(const Host& h, double now) const;  // slots limited by healthy workers

  TeePoolOptions o_;
  double spt_ = o_.seconds_per_token;
  std::map<std::string, Host> hosts_;
  std::map<int, Worker> workers_;
  std::map<uint64_t, std::string> where_;
  uint64_t next_ticket_ = 1;
  size_t rr_ = 0;
};

}  // namespace veil::serve
