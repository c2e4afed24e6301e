// The gateway's logic in process, with simulated groups: a runner the test controls stands for
// the parties (no timing: the test waits for states, with generous limits).
#include "veil/serve/gateway.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace veil::serve {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

GroupSpec group(int id) {
  GroupSpec g;
  g.id = id;
  for (int i = 0; i < 3; ++i) g.parties[size_t(i)] = {"127.0.0.1", uint16_t(20000 + 10 * id + i)};
  return g;  // no health endpoints: healthy when added
}

GatewayOptions options(Policy p = Policy::slo, int max_queue = 8, int late_queue = 0) {
  GatewayOptions o;
  o.client_model = std::string(VEIL_SOURCE_DIR) + "/models/tiny-gpt2";
  o.balancer.policy = p;
  o.balancer.slo_seconds = 2.0;
  o.balancer.headroom = 1;
  o.balancer.max_queue = max_queue;
  o.balancer.late_queue = late_queue;
  o.profile.decode_bytes = {1e6, 0};  // 1 MB per token at 1 MB/s: 1 s per token
  o.profile.prefill_bytes = {1e6, 0, 0};
  o.profile.bytes_per_second = 1e6;
  o.profile.model = "tiny-gpt2";
  o.queue_timeout = 120s;
  return o;
}

std::vector<nn::PrivateToken> tokens(int n) {
  std::vector<nn::PrivateToken> out;
  for (int i = 0; i < n; ++i) out.push_back({int32_t(100 + i), 0.01, 1000, 0, 10, 0, 0});
  return out;
}

// A runner that holds each call until the test releases it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0, released = 0;
  void wait_entered(int n) {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, 60s, [&] { return entered >= n; }));
  }
  void release() {
    std::lock_guard l(mu);
    ++released;
    cv.notify_all();
  }
  Runner runner() {
    return [this](const GroupSpec&, const std::vector<int32_t>&, const nn::GenerateOptions& o) {
      std::unique_lock l(mu);
      const int me = entered++;
      cv.notify_all();
      cv.wait(l, [&] { return released > me; });
      return tokens(int(o.max_new_tokens));
    };
  }
};

double counter(Gateway& g, const std::string& outcome, const std::string& endpoint = "completions") {
  return g.metrics().value("veil_gateway_requests_total", {{"endpoint", endpoint}, {"outcome", outcome}});
}

TEST(Gateway, CompletesARequestOpenAIStyle) {
  Gateway gw(options(), [](const GroupSpec&, const std::vector<int32_t>& prompt, const nn::GenerateOptions& o) {
    EXPECT_FALSE(prompt.empty());
    EXPECT_EQ(o.max_new_tokens, 2);
    return tokens(2);
  });
  gw.add_group(group(0));
  const Gateway::Reply r = gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 2})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["object"], "text_completion");
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 2);
  EXPECT_EQ(r.body["veil"]["attempts"], 1);
  EXPECT_NEAR(r.body["veil"]["predicted_bytes"].get<double>(), 2e6, 1);  // 2 s: within the SLO
  EXPECT_EQ(counter(gw, "ok"), 1);
  EXPECT_EQ(gw.metrics().value("veil_gateway_accepted_total", {{"endpoint", "completions"}}), 1);
}

TEST(Gateway, BadBodiesGet400WithTheReason) {
  Gateway gw(options(), [](const GroupSpec&, const std::vector<int32_t>&, const nn::GenerateOptions&) -> std::vector<nn::PrivateToken> {
    ADD_FAILURE() << "a bad request reached a group";
    return {};
  });
  gw.add_group(group(0));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "not JSON"},
      {"[1, 2]", "JSON object"},
      {R"({"max_tokens": 3})", "'prompt'"},
      {R"({"prompt": ""})", "'prompt'"},
      {R"({"prompt": "hi", "max_tokens": 0})", "'max_tokens'"},
      {R"({"prompt": "hi", "max_tokens": 100000})", "'max_tokens'"},
      {R"({"prompt": "hi", "max_tokens": "3"})", "'max_tokens'"},
      {R"({"prompt": "hi", "temperature": -1})", "'temperature'"},
      {R"({"prompt": "hi", "stream": true})", "'stream'"},
  };
  for (const auto& [body, why] : cases) {
    const Gateway::Reply r = gw.completion(body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(why), std::string::npos) << body << " → " << r.body.dump();
  }
  EXPECT_EQ(counter(gw, "bad_request"), double(cases.size()));
  EXPECT_EQ(gw.open_session(R"({"prompt_tokens": 4})").status, 400);
  EXPECT_EQ(gw.open_session(R"({"prompt_tokens": 1000, "max_new_tokens": 60})").status, 400);
  EXPECT_EQ(gw.finish_session(R"({"ok": true})").status, 400);
}

TEST(Gateway, RefusesWith429AndRetryAfterWhenTheQueueIsFull) {
  Gate gate;
  Gateway gw(options(Policy::round_robin, 1), gate.runner());
  gw.add_group(group(0));
  const std::string body = R"({"prompt": "Once upon a time", "max_tokens": 2})";
  auto first = std::async(std::launch::async, [&] { return gw.completion(body); });
  gate.wait_entered(1);  // running
  auto second = std::async(std::launch::async, [&] { return gw.completion(body); });
  for (int i = 0; i < 6000 && gw.status()["queue_depth"] != 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(gw.status()["queue_depth"], 1);  // waiting
  const Gateway::Reply third = gw.completion(body);
  EXPECT_EQ(third.status, 429);
  EXPECT_GE(third.retry_after, 1);
  EXPECT_NE(third.body["error"]["message"].get<std::string>().find("queue is full"), std::string::npos);
  gate.release(), gate.release();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(counter(gw, "ok"), 2);
  EXPECT_EQ(counter(gw, "refused"), 1);
  EXPECT_EQ(gw.metrics().value("veil_gateway_accepted_total", {{"endpoint", "completions"}}), 2);
}

TEST(Gateway, SloPolicyRefusesWhatNoGroupCanFinishInTime) {
  Gate gate;
  Gateway gw(options(Policy::slo, 8, 0), gate.runner());
  gw.add_group(group(0));
  // 1 prefill + 1 decode step: 2 s predicted, the SLO: fits once, not twice.
  const std::string body = R"({"prompt": "Once upon a time", "max_tokens": 2})";
  auto first = std::async(std::launch::async, [&] { return gw.completion(body); });
  gate.wait_entered(1);
  const Gateway::Reply r = gw.completion(body);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("SLO"), std::string::npos) << r.body.dump();
  gate.release();
  EXPECT_EQ(first.get().status, 200);
}

TEST(Gateway, AFailedGroupIsMarkedUnhealthyAndTheRequestRetriedOnceElsewhere) {
  std::atomic<int> calls{0};
  Gateway gw(options(), [&](const GroupSpec& g, const std::vector<int32_t>&, const nn::GenerateOptions& o) {
    ++calls;
    if (g.id == 0) throw std::runtime_error("party 1 at 127.0.0.1:20001 did not answer within 30000 ms");
    return tokens(int(o.max_new_tokens));
  });
  gw.add_group(group(0)), gw.add_group(group(1));
  const Gateway::Reply r = gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 2})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["veil"]["attempts"], 2);
  EXPECT_EQ(r.body["veil"]["group"], 1);
  EXPECT_EQ(calls, 2);
  const json st = gw.status();
  EXPECT_FALSE(st["groups"][0]["healthy"].get<bool>());
  EXPECT_TRUE(st["groups"][1]["healthy"].get<bool>());
  EXPECT_EQ(gw.metrics().value("veil_gateway_retries_total"), 1);
  EXPECT_EQ(gw.metrics().value("veil_gateway_group_failures_total", {{"group", "0"}}), 1);
  EXPECT_EQ(counter(gw, "ok"), 1);
  EXPECT_EQ(counter(gw, "failed"), 0);
}

TEST(Gateway, ARequestThatFailsTwiceEndsInOneErrorNamingBothGroups) {
  std::atomic<int> calls{0};
  Gateway gw(options(), [&](const GroupSpec& g, const std::vector<int32_t>&, const nn::GenerateOptions&) -> std::vector<nn::PrivateToken> {
    ++calls;
    throw std::runtime_error("group " + std::to_string(g.id) + " broke");
  });
  gw.add_group(group(0)), gw.add_group(group(1)), gw.add_group(group(2));
  const Gateway::Reply r = gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 2})");
  EXPECT_EQ(r.status, 502);
  const std::string m = r.body["error"]["message"];
  EXPECT_NE(m.find("group 0 broke"), std::string::npos) << m;
  EXPECT_NE(m.find("group 1 broke"), std::string::npos) << m;
  EXPECT_EQ(calls, 2);  // once retried, not more
  EXPECT_EQ(gw.metrics().value("veil_gateway_accepted_total", {{"endpoint", "completions"}}), 1);
  EXPECT_EQ(counter(gw, "failed"), 1);
  EXPECT_EQ(counter(gw, "ok"), 0);
  // With no healthy group left but group 2, then none: 503.
  EXPECT_EQ(gw.completion(R"({"prompt": "x", "max_tokens": 1})").status, 502);
  EXPECT_EQ(gw.completion(R"({"prompt": "x", "max_tokens": 1})").status, 503);
}

TEST(Gateway, SessionsAreLeasedWithASignedTokenAndEndedByTheClient) {
  Gateway gw(options(), [](const GroupSpec&, const std::vector<int32_t>&, const nn::GenerateOptions&) -> std::vector<nn::PrivateToken> {
    ADD_FAILURE() << "the gateway ran a session it only placed";
    return {};
  });
  gw.add_group(group(0));
  const Gateway::Reply s = gw.open_session(R"({"prompt_tokens": 4, "max_new_tokens": 1})");
  ASSERT_EQ(s.status, 200) << s.body.dump();
  EXPECT_EQ(s.body["parties"], json({"127.0.0.1:20000", "127.0.0.1:20001", "127.0.0.1:20002"}));
  EXPECT_EQ(gw.status()["groups"][0]["running"], 1);
  std::string forged = s.body["token"];
  forged[0] = forged[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(gw.finish_session(json{{"token", forged}, {"ok", true}}.dump()).status, 403);
  EXPECT_EQ(gw.finish_session(json{{"token", s.body["token"]}, {"ok", true}}.dump()).status, 200);
  EXPECT_EQ(gw.finish_session(json{{"token", s.body["token"]}, {"ok", true}}.dump()).status, 404);
  EXPECT_EQ(gw.status()["groups"][0]["running"], 0);
  EXPECT_EQ(counter(gw, "ok", "sessions"), 1);
  // A client that reports a failure marks the group unhealthy.
  const Gateway::Reply t = gw.open_session(R"({"prompt_tokens": 4, "max_new_tokens": 1})");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(gw.finish_session(json{{"token", t.body["token"]}, {"ok", false}, {"error", "party 2 vanished"}}.dump()).status, 200);
  EXPECT_FALSE(gw.status()["groups"][0]["healthy"].get<bool>());
  EXPECT_EQ(counter(gw, "failed", "sessions"), 1);
}

// Profiles by (precision, kv_policy): a request's fields pick the one it is predicted with, an
// unknown pair is refused naming the profiles, and a completion runs with its profile's KV policy.
TEST(Gateway, PicksTheCostProfileByTheRequestsPrecisionAndKvPolicy) {
  GatewayOptions o = options();  // fm64, full: 1 MB per token
  CostProfile ditto = o.profile;
  ditto.precision = "ditto";
  ditto.prefill_bytes = {5e5, 0, 0}, ditto.decode_bytes = {5e5, 0};
  CostProfile streaming = o.profile;
  streaming.kv.kind = nn::KvPolicyKind::streaming;
  streaming.kv_policy = nn::describe(streaming.kv);
  streaming.prefill_bytes = {2.5e5, 0, 0}, streaming.decode_bytes = {2.5e5, 0};
  o.more_profiles = {ditto, streaming};
  std::vector<nn::KvPolicyKind> ran;
  Gateway gw(o, [&](const GroupSpec&, const std::vector<int32_t>&, const nn::GenerateOptions& opt) {
    ran.push_back(opt.kv.kind);
    return tokens(int(opt.max_new_tokens));
  });
  gw.add_group(group(0));
  auto predicted = [&](const std::string& extra) {
    const Gateway::Reply r = gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 2)" + extra + "}");
    EXPECT_EQ(r.status, 200) << extra << " → " << r.body.dump();
    return r.status == 200 ? r.body["veil"]["predicted_bytes"].get<double>() : -1.0;
  };
  EXPECT_NEAR(predicted(""), 2e6, 1);
  EXPECT_NEAR(predicted(R"(, "precision": "fm64", "kv_policy": "full")"), 2e6, 1);
  EXPECT_NEAR(predicted(R"(, "precision": "ditto")"), 1e6, 1);
  EXPECT_NEAR(predicted(R"(, "kv_policy": "streaming")"), 5e5, 1);
  EXPECT_NEAR(predicted(R"(, "kv_policy": ")" + streaming.kv_policy + "\""), 5e5, 1);
  EXPECT_EQ(ran, (std::vector<nn::KvPolicyKind>{nn::KvPolicyKind::full, nn::KvPolicyKind::full, nn::KvPolicyKind::full,
                                                nn::KvPolicyKind::streaming, nn::KvPolicyKind::streaming}));
  // Sessions (on a fresh gateway: the completions above taught this one its fake groups' speed):
  // the ditto profile predicts half the default's time, 1 MB per token at 1 MB/s.
  {
    Gateway fresh(o, [](const GroupSpec&, const std::vector<int32_t>&, const nn::GenerateOptions&) {
      return std::vector<nn::PrivateToken>{};
    });
    fresh.add_group(group(0));
    fresh.add_group(group(1));
    const Gateway::Reply s = fresh.open_session(R"({"prompt_tokens": 4, "max_new_tokens": 2, "precision": "ditto"})");
    ASSERT_EQ(s.status, 200) << s.body.dump();
    EXPECT_NEAR(s.body["predicted_ms"].get<double>(), 1000, 100);
    const Gateway::Reply d = fresh.open_session(R"({"prompt_tokens": 4, "max_new_tokens": 2})");
    ASSERT_EQ(d.status, 200) << d.body.dump();
    EXPECT_NE(d.body["group"], s.body["group"]);
    EXPECT_NEAR(d.body["predicted_ms"].get<double>(), 2000, 100);
  }
  // Unknown pairs and bad fields: 400, naming the profiles there are; nothing reaches a group.
  const size_t runs = ran.size();
  for (const std::string& body : {std::string(R"({"prompt": "hi", "precision": "fp32"})"),
                                  std::string(R"({"prompt": "hi", "precision": "ditto", "kv_policy": "streaming"})"),
                                  std::string(R"({"prompt": "hi", "kv_policy": "mpcache"})")}) {
    const Gateway::Reply r = gw.completion(body);
    EXPECT_EQ(r.status, 400) << body;
    const std::string m = r.body["error"]["message"];
    EXPECT_NE(m.find("(fm64, full)"), std::string::npos) << m;
    EXPECT_NE(m.find("(ditto, full)"), std::string::npos) << m;
    EXPECT_NE(m.find("(fm64, " + streaming.kv_policy + ")"), std::string::npos) << m;
  }
  const Gateway::Reply bad = gw.open_session(R"({"prompt_tokens": 4, "max_new_tokens": 2, "precision": "fp32"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"]["message"].get<std::string>().find("(ditto, full)"), std::string::npos);
  EXPECT_EQ(gw.completion(R"({"prompt": "hi", "precision": 3})").status, 400);
  EXPECT_EQ(ran.size(), runs);
  EXPECT_EQ(counter(gw, "bad_request"), 4);
  EXPECT_EQ(counter(gw, "bad_request", "sessions"), 1);
}

TEST(Gateway, ExportsItsMetrics) {
  Gateway gw(options(), [](const GroupSpec&, const std::vector<int32_t>&, const nn::GenerateOptions& o) { return tokens(int(o.max_new_tokens)); });
  gw.add_group(group(0));
  ASSERT_EQ(gw.completion(R"({"prompt": "Once upon a time", "max_tokens": 2})").status, 200);
  gw.tick();
  const std::string m = gw.metrics().render();
  for (const char* want : {"veil_gateway_requests_total{endpoint=\"completions\",outcome=\"ok\"} 1",
                           "veil_gateway_request_seconds_count{endpoint=\"completions\"} 1", "veil_groups_desired 1",
                           "veil_groups_healthy 1", "veil_gateway_queue_depth 0", "veil_gateway_slo_seconds 2",
                           "veil_gateway_party_bytes_total{kind=\"observed\"} 2000"})
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
}

}  // namespace
}  // namespace veil::serve
