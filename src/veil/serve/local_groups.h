// Party groups as local processes (`veil gateway --local N`): each group is three
// `veil party --serve` processes on loopback ports, with TLS certificates from `veil certs` and
// share bundles from `veil share-model` made once in a state folder. The parties read their
// bundle keys from the key files share-model writes (keys/party-<i>.key), or, with `kms`, fetch
// them from a local `veil kms serve` (three organisations org0..org2, one per party; the keys
// imported once; a one-time bootstrap token issued per worker as its group starts).
// TEE workers (`veil gateway --local-tee N`) are `veil tee-worker serve` processes on loopback
// ports opening one sealed model (state_dir/shared/tee/, sealed once by `veil tee-worker seal`)
// with its key file, or with `kms` with the key the local KMS releases on a bootstrap token (model
// "<name>-tee", party 0, org0). They check the TEE session key state_dir/tee-session.key. They run
// as ordinary processes: nothing here is an enclave.
#pragma once
#include <sys/types.h>

#include <array>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "veil/net/endpoint.h"
#include "veil/net/tls_context.h"
#include "veil/serve/tee_pool.h"

namespace veil::serve {

// A party group as the gateway knows it.
struct GroupSpec {
  int id = -1;
  std::array<net::Endpoint, 3> parties;  // where clients connect (--client-listen), party 0, 1, 2
  std::array<std::string, 3> health;     // host:port of each party's /readyz ("" when not known)
  std::array<pid_t, 3> pids{-1, -1, -1}; // local processes only
};

struct LocalGroupsOptions {
  std::string veil_binary;  // the veil executable to start
  std::string model;        // the full model folder (share-model splits it)
  std::string state_dir;    // certs/, shared/ (bundles, keys, client/), logs/
  int timeout_ms = 20000;   // the parties' --timeout-ms
  bool kms = false;         // keys from a local KMS (state_dir/kms/) instead of key files
  bool tee = false;         // TEE workers too: seal the model, import its key with `kms`
  double tee_modelled_paging_slowdown = 0;  // the TEE workers' --modelled-paging-slowdown (0: off)
  // The gateway's session-token key file, given to every party (--session-key, with --group);
  // empty: state_dir/session.key, made once (64 random hex digits).
  std::string session_key;
};

class LocalGroups {
 public:
  // Makes the certificates and the share bundles in state_dir unless they are there already;
  // throws std::runtime_error when `veil certs` or `veil share-model` fails.
  explicit LocalGroups(LocalGroupsOptions o);
  ~LocalGroups();  // stops every group
  LocalGroups(const LocalGroups&) = delete;
  LocalGroups& operator=(const LocalGroups&) = delete;

  GroupSpec start(int id);  // on free loopback ports; its logs go to logs/group-<id>-party-<i>.log
  // SIGTERM to the three parties (they drain), SIGKILL to any still running after `grace`.
  void stop(int id, std::chrono::milliseconds grace);
  // A party of the group has exited (killed, crashed).
  bool dead(int id);
  // SIGKILL to one party (the load test's fault).
  void kill_party(int id, int party);
  std::vector<int> groups() const;

  // A TEE worker with this id on loopback ports, placed on `host` for the gateway; its log goes to
  // logs/tee-worker-<id>.log. Needs tee in the options.
  TeeWorkerSpec start_tee_worker(int id, const std::string& host);
  bool tee_worker_dead(int id);
  void stop_tee_worker(int id, std::chrono::milliseconds grace);
  std::vector<int> tee_workers() const;
  std::string tee_session_key_file() const { return o_.state_dir + "/tee-session.key"; }

  std::string client_model() const { return o_.state_dir + "/shared/client"; }
  net::TlsFiles client_tls() const;
  std::string session_key_file() const { return o_.session_key; }

 private:
  struct Proc {
    pid_t pid = -1;
    bool reaped = false;
  };
  bool reap(Proc& p, bool block);
  void stop_procs(std::vector<Proc*> procs, std::chrono::milliseconds grace);
  void start_kms();
  LocalGroupsOptions o_;
  std::string model_name_;
  uint16_t kms_port_ = 0;
  Proc kms_;
  std::map<int, std::array<Proc, 3>> procs_;
  std::map<int, Proc> tee_procs_;
};

// n loopback ports that were free a moment ago.
std::vector<uint16_t> free_loopback_ports(int n);

}  // namespace veil::serve
