#include "veil/party_serve.h"

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include "veil/core/digest.h"
#include "veil/mpc/client_wire.h"
#include "veil/mpc/context.h"
#include "veil/net/link.h"
#include "veil/net/message_conn.h"
#include "veil/net/socket.h"
#include "veil/net/tcp_transport.h"
#include "veil/nn/serve_session.h"
#include "veil/nn/share_bundle.h"
#include "veil/party_health.h"

namespace veil::app {

namespace {

using namespace std::chrono_literals;

// The party's link to its peers, rebuilt after any session that may have left it out of step.
struct PeerLink {
  std::unique_ptr<net::Link> link;
  std::unique_ptr<mpc::Context> ctx;
};

class Server {
 public:
  explicit Server(const ServeOptions& o) : o_(o), tls_(o.tls), status_(o.id, o.health_listen) {
    if (!o.session_key.empty()) tokens_.emplace(o.session_key, o.group);
  }

  void run() {
    std::fprintf(stderr, "veil party %d: decrypting %s\n", o_.id, o_.bundle.c_str());
    model_ = nn::load_served_model(o_.bundle, o_.released_key ? *o_.released_key : nn::read_bundle_key(o_.bundle_key), o_.id);
    listener_ = net::listen_on(o_.client_listen, who());
    log("serving a GPT-2 of " + std::to_string(model_.config.n_layer) + " layers (" +
        std::to_string(model_.parameters) + " weights, shares only) under precision plan '" + model_.plan_name + "' (" +
        (model_.plan ? std::to_string(model_.plan->scales.size()) + " calibrated scales, " : std::string("FM64 bundle, ")) +
        "fingerprint " + hex(model_.plan_sha256).substr(0, 16) + "...) to clients on " + o_.client_listen.str());
    if (tokens_) log("sessions need a session token of the gateway for group " + std::to_string(o_.group));
    connect_peers();
    for (int64_t n = 1; o_.max_sessions == 0 || n <= o_.max_sessions;) {
      if (PartyStatus::draining()) return log("drained after SIGTERM, exiting");
      std::string from;
      net::Fd fd = net::accept_until(listener_.get(), net::Clock::now() + 250ms, from);
      if (PartyStatus::draining()) return log("drained after SIGTERM, exiting");  // takes no new session
      if (!fd) {  // idle: notice a peer that went away, so that the next session finds a working link
        if (std::string why = peers_.link->failure(); !why.empty()) reconnect("link to the other parties lost (" + why + ")");
        continue;
      }
      session(n++, std::move(fd), "the client at " + from);
    }
    log("served " + std::to_string(o_.max_sessions) + " sessions (--max-sessions), exiting");
  }

 private:
  std::string who() const { return "party " + std::to_string(o_.id) + ": "; }
  void log(const std::string& line) const {
    std::fprintf(stderr, "veil party %d: %s\n", o_.id, line.c_str());
    std::fflush(stderr);
  }

  // Blocks until the three parties are linked (retrying: the others may start later or be
  // reconnecting too).
  void connect_peers() {
    status_.phase(PartyPhase::linking);
    net::TcpOptions opt;
    opt.tls_files = o_.tls;
    opt.setup_timeout = o_.timeout;
    opt.max_frame_bytes = o_.max_frame_bytes;
    for (;;) {
      try {
        peers_.ctx.reset();
        peers_.link = std::make_unique<net::Link>(o_.id, net::connect_tcp(o_.id, o_.peers, opt), net::LinkOptions{o_.timeout});
        peers_.ctx = std::make_unique<mpc::Context>(*peers_.link);
        log("linked to parties " + std::to_string((o_.id + 1) % 3) + " and " + std::to_string((o_.id + 2) % 3) +
            " (TLS 1.3)");
        status_.phase(PartyPhase::ready);
        return;
      } catch (const net::LinkError& e) {
        log(std::string("waiting for the other parties: ") + e.what());
      }
    }
  }

  void reconnect(const std::string& why) {
    log(why + "; reconnecting to the other parties");
    peers_.ctx.reset();
    if (peers_.link) peers_.link->close();
    peers_.link.reset();
    connect_peers();
  }

  static void tell_client(net::MessageConn& c, const std::string& why) {
    try {
      c.send(mpc::encode_error(why), 2s);
    } catch (const std::exception&) {  // the client may be gone: nothing more to do
    }
  }

  void session(int64_t n, net::Fd fd, const std::string& from) {
    const std::string tag = "session " + std::to_string(n) + " (" + from + "): ";
    std::unique_ptr<net::MessageConn> client;
    nn::SessionRequest r;
    try {
      client = net::open_message_conn(std::move(fd), tls_, true, net::client_common_name(), from,
                                      net::Clock::now() + o_.timeout, o_.max_frame_bytes);
      r = nn::read_session_request(*client, model_, o_.id, o_.timeout, tokens_ ? &*tokens_ : nullptr);
    } catch (const nn::SessionRefused& e) {
      log(tag + "refused: " + e.what());
      status_.session_done("refused", 0, 0, 0);
      return tell_client(*client, e.what());
    } catch (const std::exception& e) {
      return log(tag + "failed before its request: " + e.what());
    }
    if (!confirm(tag, *client, r)) return status_.session_done("refused", 0, 0, 0);
    try {
      status_.phase(PartyPhase::serving);
      const nn::SessionOutcome out = nn::run_session(*peers_.ctx, *client, model_, r, o_.timeout);
      status_.session_done("served", out.seconds, double(out.traffic.bytes), double(out.traffic.rounds));
      status_.phase(PartyPhase::ready);
      char line[256];
      std::snprintf(line, sizeof line, "%lld prompt tokens, %lld steps, %s: done in %.2f s, %.2f MB sent to the other parties, %llu rounds",
                    static_cast<long long>(r.prompt_tokens), static_cast<long long>(r.max_new_tokens),
                    r.sampling.temperature == 0 ? "greedy" : "sampling", out.seconds, double(out.traffic.bytes) / 1e6,
                    static_cast<unsigned long long>(out.traffic.rounds));
      log(tag + line + (r.kv.kind == nn::KvPolicyKind::full ? std::string() : ", KV policy " + nn::describe(r.kv)));
    } catch (const std::exception& e) {
      status_.session_done("failed", 0, 0, 0);
      tell_client(*client, std::string("party ") + std::to_string(o_.id) + " failed: " + e.what());
      reconnect(tag + "failed: " + e.what());
    }
  }

  // True when the three parties hold the same request. A link that broke while this party was
  // idle is rebuilt once and the confirmation retried, with the client still waiting.
  bool confirm(const std::string& tag, net::MessageConn& client, const nn::SessionRequest& r) {
    for (int attempt = 0;; ++attempt) {
      try {
        nn::confirm_session(*peers_.ctx, r);
        return true;
      } catch (const nn::SessionRefused& e) {
        log(tag + "refused: " + e.what());
        tell_client(client, e.what());
        return false;
      } catch (const net::LinkError& e) {
        if (attempt > 0) {
          tell_client(client, "the serving parties could not confirm the session: " + std::string(e.what()));
          reconnect(tag + "failed: " + e.what());
          return false;
        }
        reconnect(tag + "link to the other parties lost (" + e.what() + ")");
      }
    }
  }

  const ServeOptions& o_;
  net::TlsContext tls_;
  nn::ServedModel model_;
  net::Fd listener_;
  PeerLink peers_;
  PartyStatus status_;
  std::optional<nn::SessionTokenVerifier> tokens_;  // with --session-key
};

}  // namespace

void serve_party(const ServeOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that vanished is an I/O error, not a signal
  Server(o).run();
}

}  // namespace veil::app
