#include "veil/party_health.h"

#include <httplib.h>

#include <csignal>
#include <stdexcept>
#include <unistd.h>

#include "veil/net/endpoint.h"

namespace veil::app {

namespace {

volatile std::sig_atomic_t g_drain = 0;
// Set while the party may block for long outside a session (linking to its peers): SIGTERM then
// exits at once, as there is nothing to finish.
volatile std::sig_atomic_t g_exit_now = 0;

extern "C" void on_sigterm(int) {
  g_drain = 1;
  if (g_exit_now) ::_exit(0);
}

const char* phase_name(PartyPhase p) {
  switch (p) {
    case PartyPhase::loading: return "loading";
    case PartyPhase::linking: return "linking";
    case PartyPhase::ready: return "ready";
    case PartyPhase::serving: return "serving";
    case PartyPhase::draining: return "draining";
  }
  return "?";
}

}  // namespace

bool PartyStatus::draining() { return g_drain != 0; }

PartyStatus::PartyStatus(int id, const std::string& listen, std::string role) : id_(id), role_(std::move(role)) {
  struct sigaction sa {};
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
  metrics_.counter(metric("sessions_total"), "Sessions by outcome (served, refused, failed)");
  metrics_.histogram(metric("session_seconds"), "Wall time of served sessions", {0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120});
  if (role_ == "party") {
    metrics_.counter(metric("bytes_sent_total"), "Bytes this party sent to the other two in served sessions");
    metrics_.counter(metric("rounds_total"), "Communication rounds of served sessions");
  }
  metrics_.gauge(metric("phase"), "1 for the current phase (loading, linking, ready, serving, draining)");
  metrics_.gauge(metric("ready"), "1 when it takes sessions");
  phase(PartyPhase::loading);
  if (listen.empty()) return;
  const net::Endpoint at = net::parse_endpoint(listen);
  http_ = std::make_unique<httplib::Server>();
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const PartyPhase p = phase_.load();
    const bool ready = (p == PartyPhase::ready || p == PartyPhase::serving) && !draining();
    res.status = ready ? 200 : 503;
    res.set_content(std::string(draining() ? "draining" : phase_name(p)) + "\n", "text/plain");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });
  if (!http_->bind_to_port(at.host.c_str(), at.port))
    throw std::runtime_error(role_ + " " + std::to_string(id) + ": cannot listen on " + listen + " (--health-listen)");
  thread_ = std::thread([this] { http_->listen_after_bind(); });
}

PartyStatus::~PartyStatus() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void PartyStatus::phase(PartyPhase p) {
  if (draining() && p != PartyPhase::serving) p = PartyPhase::draining;
  phase_ = p;
  g_exit_now = p == PartyPhase::linking || p == PartyPhase::loading;
  if (g_exit_now && g_drain) ::_exit(0);  // SIGTERM came before this blocking phase
  for (PartyPhase q : {PartyPhase::loading, PartyPhase::linking, PartyPhase::ready, PartyPhase::serving, PartyPhase::draining})
    metrics_.set(metric("phase"), {{role_, std::to_string(id_)}, {"phase", phase_name(q)}}, q == p ? 1 : 0);
  metrics_.set(metric("ready"), labels(), (p == PartyPhase::ready || p == PartyPhase::serving) ? 1 : 0);
}

void PartyStatus::session_done(const std::string& outcome, double seconds, double bytes, double rounds) {
  metrics_.add(metric("sessions_total"), {{role_, std::to_string(id_)}, {"outcome", outcome}});
  if (outcome != "served") return;
  metrics_.observe(metric("session_seconds"), labels(), seconds);
  if (role_ != "party") return;
  metrics_.add(metric("bytes_sent_total"), labels(), bytes);
  metrics_.add(metric("rounds_total"), labels(), rounds);
}

}  // namespace veil::app
