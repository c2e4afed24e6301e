#include "veil/serve/local_groups.h"

#include "veil/core/digest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <thread>

namespace veil::serve {

namespace fs = std::filesystem;

namespace {

// Starts `binary args` with stdout and stderr appended to `log`. The child gets SIGTERM when
// this process dies, so that parties never outlive a gateway that was killed.
pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> all{binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("cannot start " + binary);
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    const int in = ::open("/dev/null", O_RDONLY), out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, 0), ::dup2(out, 1), ::dup2(out, 2);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

void run_to_end(const std::string& binary, const std::vector<std::string>& args, const std::string& log,
                const std::string& what) {
  const pid_t pid = spawn(binary, args, log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(what + " failed (see " + log + ")");
}

// A file holding 64 random hex digits (mode 0600), made once.
void ensure_random_key(const std::string& path) {
  if (fs::exists(path)) return;
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness from OpenSSL");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << hex(std::span<const uint8_t>(b, sizeof b)) << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(tmp, path);
}

}  // namespace

std::vector<uint16_t> free_loopback_ports(int n) {
  std::vector<int> fds;
  std::vector<uint16_t> out;
  for (int i = 0; i < n; ++i) {  // held together so that they differ
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot pick a free loopback port");
    fds.push_back(fd);
    out.push_back(ntohs(a.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return out;
}

LocalGroups::LocalGroups(LocalGroupsOptions o) : o_(std::move(o)) {
  fs::create_directories(o_.state_dir + "/logs");
  const std::string certs = o_.state_dir + "/certs", shared = o_.state_dir + "/shared";
  if (!fs::exists(certs + "/ca.pem"))
    run_to_end(o_.veil_binary, {"certs", "--out", certs}, o_.state_dir + "/logs/certs.log", "veil certs");
  if (!fs::exists(shared + "/party-2.bundle"))
    run_to_end(o_.veil_binary, {"share-model", o_.model, "--out", shared}, o_.state_dir + "/logs/share-model.log",
               "veil share-model " + o_.model);
  model_name_ = fs::path(o_.model).lexically_normal().filename().string();
  if (model_name_.empty()) model_name_ = fs::path(o_.model).lexically_normal().parent_path().filename().string();
  if (o_.session_key.empty()) {
    o_.session_key = o_.state_dir + "/session.key";
    ensure_random_key(o_.session_key);
  }
  if (o_.tee) {
    if (!fs::exists(certs + "/tee-worker.pem"))  // a state folder of an older veil: no TEE certificate yet
      run_to_end(o_.veil_binary, {"certs", "--out", certs, "--force"}, o_.state_dir + "/logs/certs.log", "veil certs");
    if (!fs::exists(shared + "/tee/model.tsm")) {
      fs::remove_all(shared + "/tee");
      fs::create_directories(shared + "/tee");
      run_to_end(o_.veil_binary, {"tee-worker", "seal", o_.model, "--out", shared + "/tee/model.tsm", "--key-out",
                                  shared + "/tee/model.key"},
                 o_.state_dir + "/logs/tee-seal.log", "veil tee-worker seal " + o_.model);
    }
    ensure_random_key(tee_session_key_file());
  }
  if (o_.kms) start_kms();
}

void LocalGroups::start_kms() {
  const std::string dir = o_.state_dir + "/kms", db = dir + "/kms.db", mk = dir + "/master.key";
  const std::string log = o_.state_dir + "/logs/kms.log";
  fs::create_directories(dir + "/tokens");
  auto kms = [&](std::vector<std::string> args, const std::string& what) {
    args.insert(args.begin(), "kms");
    args.insert(args.end(), {"--db", db, "--master-key-file", mk});
    run_to_end(o_.veil_binary, args, log, "veil kms " + what);
  };
  if (!fs::exists(db)) {
    kms({"init", "--kms-ca-out", dir + "/kms-ca.pem"}, "init");
    for (int i = 0; i < 3; ++i) {
      const std::string s = std::to_string(i), org = "org" + s;
      kms({"add-org", org}, "add-org");
      kms({"put-key", "--model", model_name_, "--party", s, "--key-file", o_.state_dir + "/shared/keys/party-" + s + ".key",
           "--bundle", o_.state_dir + "/shared/party-" + s + ".bundle"},
          "put-key");
      kms({"policy", "--model", model_name_, "--party", s, "--org", org, "--allow-version", "0.1.0"}, "policy");
    }
  }
  if (o_.tee && !fs::exists(dir + "/tee-imported")) {  // the sealed model: a one-party model of its own name
    kms({"put-key", "--model", model_name_ + "-tee", "--party", "0", "--key-file", o_.state_dir + "/shared/tee/model.key",
         "--bundle", o_.state_dir + "/shared/tee/model.tsm"},
        "put-key");
    kms({"policy", "--model", model_name_ + "-tee", "--party", "0", "--org", "org0", "--allow-version", "0.1.0"}, "policy");
    std::ofstream(dir + "/tee-imported") << "1\n";
  }
  kms_port_ = free_loopback_ports(1)[0];
  kms_.pid = spawn(o_.veil_binary, {"kms", "serve", "--db", db, "--master-key-file", mk, "--listen",
                                    "127.0.0.1:" + std::to_string(kms_port_)}, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {  // until it listens
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(kms_port_);
    const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (up) return;
    if (reap(kms_, false) || std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("veil kms serve did not start (see " + log + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

LocalGroups::~LocalGroups() {
  for (int id : groups()) stop(id, std::chrono::seconds(5));
  for (int id : tee_workers()) stop_tee_worker(id, std::chrono::seconds(5));
  if (kms_.pid > 0 && !reap(kms_, false)) {
    ::kill(kms_.pid, SIGTERM);
    reap(kms_, true);
  }
}

net::TlsFiles LocalGroups::client_tls() const {
  const std::string c = o_.state_dir + "/certs";
  return {c + "/client.pem", c + "/client.key", c + "/ca.pem"};
}

std::vector<int> LocalGroups::groups() const {
  std::vector<int> out;
  for (const auto& [id, p] : procs_) out.push_back(id);
  return out;
}

GroupSpec LocalGroups::start(int id) {
  if (procs_.count(id)) throw std::invalid_argument("local group " + std::to_string(id) + " is already running");
  const std::vector<uint16_t> ports = free_loopback_ports(9);
  auto ep = [&](int k) { return "127.0.0.1:" + std::to_string(ports[size_t(k)]); };
  const std::string peers = ep(0) + "," + ep(1) + "," + ep(2);
  const std::string certs = o_.state_dir + "/certs", shared = o_.state_dir + "/shared";
  GroupSpec g;
  g.id = id;
  std::array<Proc, 3>& procs = procs_[id];
  for (int i = 0; i < 3; ++i) {
    const std::string s = std::to_string(i);
    g.parties[size_t(i)] = net::parse_endpoint(ep(3 + i));
    g.health[size_t(i)] = ep(6 + i);
    std::vector<std::string> args{
        "party", "--serve", "--id", s, "--peers", peers, "--client-listen", ep(3 + i), "--health-listen", ep(6 + i),
        "--bundle", shared + "/party-" + s + ".bundle", "--cert", certs + "/party" + s + ".pem", "--key",
        certs + "/party" + s + ".key", "--ca", certs + "/ca.pem", "--timeout-ms", std::to_string(o_.timeout_ms),
        "--session-key", o_.session_key, "--group", std::to_string(id)};
    if (o_.kms) {  // a one-time token for this worker, then the key from the KMS
      const std::string dir = o_.state_dir + "/kms", worker = "g" + std::to_string(id) + "-p" + s + "-" + std::to_string(ports[0]);
      const std::string token = dir + "/tokens/" + worker;
      run_to_end(o_.veil_binary, {"kms", "issue-token", "--db", dir + "/kms.db", "--master-key-file", dir + "/master.key",
                                  "--org", "org" + s, "--party", s, "--worker", worker, "--ttl", "600", "--out", token},
                 o_.state_dir + "/logs/kms.log", "veil kms issue-token");
      args.insert(args.end(), {"--kms", "https://127.0.0.1:" + std::to_string(kms_port_), "--kms-ca", dir + "/kms-ca.pem",
                               "--bootstrap-token", token, "--kms-model", model_name_});
    } else {
      args.insert(args.end(), {"--bundle-key", shared + "/keys/party-" + s + ".key"});
    }
    const std::string log = o_.state_dir + "/logs/group-" + std::to_string(id) + "-party-" + s + ".log";
    procs[size_t(i)].pid = spawn(o_.veil_binary, args, log);
    g.pids[size_t(i)] = procs[size_t(i)].pid;
  }
  return g;
}

bool LocalGroups::reap(Proc& p, bool block) {
  if (p.reaped) return true;
  int status = 0;
  if (::waitpid(p.pid, &status, block ? 0 : WNOHANG) == p.pid) p.reaped = true;
  return p.reaped;
}

void LocalGroups::stop_procs(std::vector<Proc*> procs, std::chrono::milliseconds grace) {
  for (Proc* p : procs)
    if (!reap(*p, false)) ::kill(p->pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (Proc* p : procs) {
    while (!reap(*p, false) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!p->reaped) {
      ::kill(p->pid, SIGKILL);
      reap(*p, true);
    }
  }
}

void LocalGroups::stop(int id, std::chrono::milliseconds grace) {
  auto it = procs_.find(id);
  if (it == procs_.end()) return;
  stop_procs({&it->second[0], &it->second[1], &it->second[2]}, grace);
  procs_.erase(it);
}

TeeWorkerSpec LocalGroups::start_tee_worker(int id, const std::string& host) {
  if (!o_.tee) throw std::logic_error("LocalGroups: start_tee_worker needs LocalGroupsOptions::tee");
  if (tee_procs_.count(id)) throw std::invalid_argument("local TEE worker " + std::to_string(id) + " is already running");
  const std::vector<uint16_t> ports = free_loopback_ports(2);
  const std::string listen = "127.0.0.1:" + std::to_string(ports[0]), health = "127.0.0.1:" + std::to_string(ports[1]);
  const std::string certs = o_.state_dir + "/certs", tee = o_.state_dir + "/shared/tee", s = std::to_string(id);
  std::vector<std::string> args{"tee-worker", "serve", "--id", s, "--sealed", tee + "/model.tsm", "--listen", listen,
                                "--health-listen", health, "--cert", certs + "/tee-worker.pem", "--key",
                                certs + "/tee-worker.key", "--ca", certs + "/ca.pem", "--timeout-ms",
                                std::to_string(o_.timeout_ms), "--session-key", tee_session_key_file(),
                                "--modelled-paging-slowdown", std::to_string(o_.tee_modelled_paging_slowdown)};
  if (o_.kms) {
    const std::string dir = o_.state_dir + "/kms", worker = "tee-" + s + "-" + std::to_string(ports[0]);
    const std::string token = dir + "/tokens/" + worker;
    run_to_end(o_.veil_binary, {"kms", "issue-token", "--db", dir + "/kms.db", "--master-key-file", dir + "/master.key",
                                "--org", "org0", "--party", "0", "--worker", worker, "--ttl", "600", "--out", token},
               o_.state_dir + "/logs/kms.log", "veil kms issue-token");
    args.insert(args.end(), {"--kms", "https://127.0.0.1:" + std::to_string(kms_port_), "--kms-ca", dir + "/kms-ca.pem",
                             "--bootstrap-token", token, "--kms-model", model_name_ + "-tee"});
  } else {
    args.insert(args.end(), {"--model-key", tee + "/model.key"});
  }
  Proc& p = tee_procs_[id];
  p.pid = spawn(o_.veil_binary, args, o_.state_dir + "/logs/tee-worker-" + s + ".log");
  TeeWorkerSpec w;
  w.id = id;
  w.host = host;
  w.endpoint = net::parse_endpoint(listen);
  w.health = health;
  w.pid = p.pid;
  return w;
}

bool LocalGroups::tee_worker_dead(int id) {
  auto it = tee_procs_.find(id);
  return it == tee_procs_.end() || reap(it->second, false);
}

void LocalGroups::stop_tee_worker(int id, std::chrono::milliseconds grace) {
  auto it = tee_procs_.find(id);
  if (it == tee_procs_.end()) return;
  stop_procs({&it->second}, grace);
  tee_procs_.erase(it);
}

std::vector<int> LocalGroups::tee_workers() const {
  std::vector<int> out;
  for (const auto& [id, p] : tee_procs_) out.push_back(id);
  return out;
}

bool LocalGroups::dead(int id) {
  auto it = procs_.find(id);
  if (it == procs_.end()) return true;
  bool any = false;
  for (Proc& p : it->second) any |= reap(p, false);
  return any;
}

void LocalGroups::kill_party(int id, int party) {
  auto it = procs_.find(id);
  if (it == procs_.end() || party < 0 || party > 2)
    throw std::invalid_argument("no local party " + std::to_string(party) + " in group " + std::to_string(id));
  ::kill(it->second[size_t(party)].pid, SIGKILL);
}

}  // namespace veil::serve
