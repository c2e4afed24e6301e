// A serving party's status for the operator and the gateway (`veil party --serve
// --health-listen HOST:PORT`), over plain HTTP:
//   GET /healthz  200 while the process runs (liveness)
//   GET /readyz   200 when the party is linked to its peers and takes sessions; 503 while it
//                 loads, links or drains (readiness: the gateway places sessions only on groups
//                 whose three parties are ready)
//   GET /metrics  Prometheus text: sessions by outcome, session seconds, bytes and rounds sent
//                 to the other parties, phase
// and its graceful drain: after SIGTERM the party finishes the session it runs, accepts no new
// one and exits 0 (PartyStatus::draining() is polled by the serving loop).
// A TEE worker (`veil tee-worker serve`) has the same endpoints under role "tee_worker": its
// metrics are veil_tee_worker_* with label tee_worker=<id>, without the party link's bytes and
// rounds.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "veil/serve/metrics.h"

namespace httplib {
class Server;
}

namespace veil::app {

enum class PartyPhase { loading, linking, ready, serving, draining };

class PartyStatus {
 public:
  // Installs the SIGTERM handler; starts the HTTP listener when `listen` is not empty (throws
  // std::runtime_error when it cannot bind).
  PartyStatus(int id, const std::string& listen, std::string role = "party");
  ~PartyStatus();
  PartyStatus(const PartyStatus&) = delete;
  PartyStatus& operator=(const PartyStatus&) = delete;

  void phase(PartyPhase p);
  // One session ended: outcome is served, refused or failed.
  void session_done(const std::string& outcome, double seconds, double bytes, double rounds);
  // SIGTERM was received.
  static bool draining();

 private:
  std::string metric(const char* name) const { return "veil_" + role_ + "_" + name; }
  serve::Labels labels() const { return {{role_, std::to_string(id_)}}; }
  int id_;
  std::string role_;
  std::atomic<PartyPhase> phase_{PartyPhase::loading};
  serve::Metrics metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace veil::app
