// EPC-aware placement and scaling of TEE workers: enclave sizes from a model config, the paging
// penalty, the balancer's start and placement rules, the EPC count of the autoscaler, and the
// simulated fleet (never overcommitted by the EPC-aware balancer, deterministic by seed).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nn/nn_test_util.h"
#include "veil/serve/epc_placement.h"
#include "veil/serve/tee_fleet_sim.h"

namespace veil::serve {
namespace {

constexpr int64_t kGiB = int64_t(1) << 30;

nlohmann::json gpt2_small() {
  return {{"n_layer", 12}, {"n_head", 12}, {"n_embd", 768}, {"n_positions", 1024}, {"vocab_size", 50257}};
}

TEST(EnclaveMemory, Gpt2SizesFromTheConfig) {
  const EnclaveModel m = enclave_model_from_config(gpt2_small(), "gpt2");
  EXPECT_EQ(model_bytes(m), int64_t(124439808) * 4);  // GPT-2 small's 124,439,808 parameters in float32
  EXPECT_EQ(kv_cache_bytes(m, 1024), int64_t(2) * 12 * 1024 * 768 * 4);
  EXPECT_EQ(kv_cache_bytes(m, 1), int64_t(2) * 12 * 768 * 4);
  EXPECT_EQ(enclave_bytes(m, 100), model_bytes(m) + kv_cache_bytes(m, 100));
  EXPECT_THROW(kv_cache_bytes(m, 0), std::invalid_argument);
  EXPECT_THROW(kv_cache_bytes(m, 1025), std::invalid_argument);
  nlohmann::json half = gpt2_small();
  half["torch_dtype"] = "bfloat16";
  EXPECT_EQ(model_bytes(enclave_model_from_config(half, "gpt2")) * 2, model_bytes(m));
  half["torch_dtype"] = "int8";
  EXPECT_THROW(enclave_model_from_config(half, "gpt2"), std::invalid_argument);
}

// The formula counts exactly the tensors of a real checkpoint: the data section of tiny-gpt2's
// model.safetensors (file size - 8 - header length).
TEST(EnclaveMemory, ModelBytesAreTheCheckpointsTensorBytes) {
  const std::string dir = std::string(VEIL_SOURCE_DIR) + "/models/tiny-gpt2";
  std::ifstream cfg(dir + "/config.json");
  ASSERT_TRUE(cfg) << dir;
  const EnclaveModel m = enclave_model_from_config(nlohmann::json::parse(cfg), dir);
  std::ifstream st(dir + "/model.safetensors", std::ios::binary);
  uint64_t header = 0;
  st.read(reinterpret_cast<char*>(&header), 8);
  ASSERT_TRUE(st);
  const int64_t data = int64_t(std::filesystem::file_size(dir + "/model.safetensors")) - 8 - int64_t(header);
  EXPECT_EQ(model_bytes(m), data);
}

TEST(PagingPenalty, OneWithinEpcThenMonotoneAndBounded) {
  EXPECT_EQ(paging_penalty(0), 1);
  EXPECT_EQ(paging_penalty(0.99), 1);
  EXPECT_EQ(paging_penalty(1), 1);
  EXPECT_DOUBLE_EQ(paging_penalty(2), 5);  // S = 8: half the working set paged out
  EXPECT_DOUBLE_EQ(paging_penalty(5), 7.4);
  EXPECT_DOUBLE_EQ(paging_penalty(2, 2), 2);
  double prev = 1;
  for (double r = 1.01; r < 50; r += 0.01) {
    const double p = paging_penalty(r);
    EXPECT_GT(p, prev) << r;
    EXPECT_LT(p, 9) << r;
    prev = p;
  }
}

TeeHostState host(int64_t epc, int slots, std::vector<TeeJob> running = {}, std::deque<TeeJob> waiting = {}) {
  TeeHostState h;
  h.spec = {epc, slots};
  h.running = std::move(running);
  h.waiting = std::move(waiting);
  return h;
}

TEST(EpcPlacement, EpcAwareNeverStartsBeyondEpc) {
  const TeeHostState h = host(10 * kGiB, 4, {{1, 7 * kGiB, 5}});
  const TeeJob fits{2, 3 * kGiB, 1}, too_big{3, 3 * kGiB + 1, 1};
  EXPECT_TRUE(can_start(h, fits, TeePlacer::epc_aware));
  EXPECT_FALSE(can_start(h, too_big, TeePlacer::epc_aware));
  EXPECT_TRUE(can_start(h, too_big, TeePlacer::least_loaded));  // blind: a slot is free
  EXPECT_TRUE(can_start(h, too_big, TeePlacer::round_robin));
  const TeeHostState full = host(100 * kGiB, 1, {{1, kGiB, 5}});
  EXPECT_FALSE(can_start(full, fits, TeePlacer::epc_aware));
  EXPECT_FALSE(can_start(full, fits, TeePlacer::least_loaded));
}

TEST(EpcPlacement, PredictedCompletionWaitsForEpcAndSlots) {
  // 4 GiB of EPC, 4 slots, a 3 GiB job with 5 s left: a 2 GiB job of 1 s starts when it ends.
  EXPECT_DOUBLE_EQ(predicted_completion(host(4 * kGiB, 4, {{1, 3 * kGiB, 5}}), {2, 2 * kGiB, 1}), 6);
  EXPECT_DOUBLE_EQ(predicted_completion(host(8 * kGiB, 4, {{1, 3 * kGiB, 5}}), {2, 2 * kGiB, 1}), 1);
  // One slot: behind the running job and the queued one.
  EXPECT_DOUBLE_EQ(predicted_completion(host(8 * kGiB, 1, {{1, kGiB, 5}}, {{2, kGiB, 2}}), {3, kGiB, 1}), 8);
  EXPECT_EQ(predicted_completion(host(kGiB, 4), {2, 2 * kGiB, 1}), std::numeric_limits<double>::infinity());
}

TEST(EpcPlacement, PrefersHeadroomAmongEqualCompletions) {
  // Both hosts can start a 2 GiB job at once; the one with more free EPC gets it, whichever it is.
  const TeeJob j{9, 2 * kGiB, 1};
  size_t rr = 0;
  std::vector<TeeHostState> hosts = {host(10 * kGiB, 4, {{1, 6 * kGiB, 3}}), host(10 * kGiB, 4, {{2, kGiB, 3}})};
  EXPECT_EQ(place_tee_job(TeePlacer::epc_aware, hosts, j, rr).host, 1);
  std::swap(hosts[0], hosts[1]);
  EXPECT_EQ(place_tee_job(TeePlacer::epc_aware, hosts, j, rr).host, 0);
  // Least-loaded sees only counts: a tie, the first host, full of EPC or not.
  EXPECT_EQ(place_tee_job(TeePlacer::least_loaded, hosts, j, rr).host, 0);
}

TEST(EpcPlacement, EarlierCompletionBeatsHeadroom) {
  // Host 0 has the headroom but would have to wait for its EPC; host 1 can start now.
  const TeeJob j{9, 3 * kGiB, 1};
  size_t rr = 0;
  const std::vector<TeeHostState> hosts = {host(16 * kGiB, 4, {{1, 14 * kGiB, 10}}),
                                           host(6 * kGiB, 4, {{2, 2 * kGiB, 10}})};
  EXPECT_EQ(place_tee_job(TeePlacer::epc_aware, hosts, j, rr).host, 1);
}

TEST(EpcPlacement, RefusesWhatNoHostsEpcHolds) {
  size_t rr = 0;
  const std::vector<TeeHostState> hosts = {host(2 * kGiB, 4), host(3 * kGiB, 4)};
  const TeePlacement p = place_tee_job(TeePlacer::epc_aware, hosts, {1, 4 * kGiB, 1}, rr);
  EXPECT_FALSE(p.host);
  EXPECT_EQ(p.reason, "its enclave needs 4294967296 bytes, more than any host's usable EPC");
  EXPECT_EQ(place_tee_job(TeePlacer::round_robin, hosts, {1, 4 * kGiB, 1}, rr).host, 0);
  EXPECT_EQ(place_tee_job(TeePlacer::round_robin, hosts, {1, 4 * kGiB, 1}, rr).host, 1);
}

TEST(TeeAutoscaler, CountsEpcNextToLatency) {
  AutoscalerOptions o;
  o.min_groups = 1;
  o.max_groups = 10;
  o.slo_seconds = 2;
  o.scale_up_window = 0;
  TeeAutoscaler s(o);
  AutoscalerInput in;
  in.now = 1;
  // No backlog, but 2.5 hosts' worth of enclaves: EPC decides.
  TeeScale d = s.tick(in, 25 * kGiB, 10 * kGiB);
  EXPECT_EQ(d.by_epc, 3);
  EXPECT_EQ(d.by_latency, 1);
  EXPECT_EQ(d.hosts, 3);
  // A backlog of 7 s at SLO 2 s and 0.7 utilisation needs 5 by latency: latency decides.
  in.now = 2;
  in.backlog_seconds = 7;
  d = s.tick(in, 25 * kGiB, 10 * kGiB);
  EXPECT_EQ(d.by_latency, 5);
  EXPECT_EQ(d.hosts, 5);
  // Capped at max_groups.
  in.now = 3;
  d = s.tick(in, 200 * kGiB, 10 * kGiB);
  EXPECT_EQ(d.by_epc, 20);
  EXPECT_EQ(d.hosts, 10);
}

TeeSimOptions small_fleet() {
  TeeSimOptions o;
  o.model = {24, 1024, 1024, 50257, 4096, 4};  // GPT-2 medium, float32: about 1.4 GiB of weights
  o.hosts = 3;
  o.epc_bytes = 8 * kGiB;
  o.slots = 8;
  o.rate = 8;  // near what 3 hosts serve without paging (about 5 enclaves each, 1.3 s apiece)
  o.duration = 120;
  return o;
}

TEST(TeeFleetSim, EpcAwareNeverOvercommitsWhereBlindOnesDo) {
  const TeeSimOptions o = small_fleet();
  const std::vector<TeeRequest> stream = tee_request_stream(o);
  ASSERT_GT(stream.size(), 500u);
  const TeeSimReport aware = run_tee_sim(o, TeePlacer::epc_aware, stream);
  const TeeSimReport blind = run_tee_sim(o, TeePlacer::least_loaded, stream);
  EXPECT_LE(aware.max_overcommit, 1.0);
  EXPECT_GT(aware.max_overcommit, 0.5);  // it does fill the hosts
  EXPECT_EQ(aware.overcommitted_fraction, 0);
  EXPECT_GT(blind.max_overcommit, 1.0);
  EXPECT_GT(blind.overcommitted_fraction, 0);
  EXPECT_EQ(aware.requests, stream.size());
  EXPECT_EQ(aware.completed + aware.refused, aware.requests);
  EXPECT_EQ(blind.completed + blind.refused, blind.requests);
  EXPECT_LT(aware.p99, blind.p99);
  EXPECT_GE(aware.peak_hosts_by_epc, 1);
  EXPECT_EQ(aware.hosts_used, 3);
}

TEST(TeeFleetSim, WithAmpleEpcNothingPagesAndThePlacersAgreeOnTheWork) {
  TeeSimOptions o = small_fleet();
  o.epc_bytes = 64 * kGiB;  // 8 slots of at most 1.6 GiB each always fit
  const std::vector<TeeRequest> stream = tee_request_stream(o);
  for (TeePlacer p : {TeePlacer::epc_aware, TeePlacer::least_loaded, TeePlacer::round_robin}) {
    const TeeSimReport r = run_tee_sim(o, p, stream);
    EXPECT_EQ(r.overcommitted_fraction, 0) << r.placer;
    EXPECT_EQ(r.refused, 0u) << r.placer;
    EXPECT_EQ(r.completed, stream.size()) << r.placer;
  }
}

TEST(TeeFleetSim, DeterministicBySeed) {
  TeeSimOptions o = small_fleet();
  const std::vector<TeeRequest> a = tee_request_stream(o), b = tee_request_stream(o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].arrival, b[i].arrival);
    EXPECT_EQ(a[i].context, b[i].context);
  }
  const TeeSimReport r1 = run_tee_sim(o, TeePlacer::epc_aware, a), r2 = run_tee_sim(o, TeePlacer::epc_aware, b);
  EXPECT_EQ(r1.completed, r2.completed);
  EXPECT_EQ(r1.refused, r2.refused);
  EXPECT_EQ(r1.p99, r2.p99);
  EXPECT_EQ(r1.throughput, r2.throughput);
  o.seed = 2;
  const std::vector<TeeRequest> c = tee_request_stream(o);
  EXPECT_TRUE(c.size() != a.size() || c[0].arrival != a[0].arrival);
  for (const TeeRequest& r : a) {
    EXPECT_GE(r.context, o.min_context);
    EXPECT_LE(r.context, o.max_context);
    EXPECT_LT(r.arrival, o.duration);
  }
}

// The command as a user runs it: one row per placer and rate, the same output for the same seed,
// a clear error for a context the model cannot hold.
TEST(TeeSimCli, OneRowPerPlacerAndRateDeterministically) {
  using nn::test::contains;
  using nn::test::run_command;
  const std::string cmd = std::string(VEIL_BINARY) + " tee-sim --hosts 3 --rate 5 --rate 10 --duration 60";
  const auto a = run_command(cmd), b = run_command(cmd);
  ASSERT_EQ(a.rc, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  EXPECT_TRUE(contains(a.out, "model gpt2-medium: 1353.5 MiB weights")) << a.out;
  int rows = 0;
  for (const char* rate : {"| 5 | ", "| 10 | "})
    for (const char* placer : {"epc-aware", "least-loaded", "round-robin"})
      rows += contains(a.out, std::string(rate) + placer + " |");
  EXPECT_EQ(rows, 6) << a.out;
  const auto other_seed = run_command(cmd + " --seed 7");
  ASSERT_EQ(other_seed.rc, 0);
  const auto table = [](const std::string& out) { return out.substr(out.find('|')); };  // without the header
  EXPECT_NE(table(other_seed.out), table(a.out));
  const auto bad = run_command(std::string(VEIL_BINARY) + " tee-sim --max-context 2048 2>&1");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_TRUE(contains(bad.out, "context 2048 is outside 1..1024 (the model's n_positions)")) << bad.out;
}

// Negative service times (they gave negative latencies), a --config that is not JSON and a --config
// next to --model are refused by name.
TEST(TeeSimCli, BadInputsAreClearErrors) {
  using nn::test::contains;
  using nn::test::run_command;
  const std::string veil = std::string(VEIL_BINARY) + " tee-sim --duration 10 ";
  auto r = run_command(veil + "--service-per-token -1 2>&1");
  EXPECT_EQ(r.rc, 105);
  EXPECT_TRUE(contains(r.out, "--service-per-token: must be a number >= 0, got -1")) << r.out;
  r = run_command(veil + "--service-base -0.5 2>&1");
  EXPECT_EQ(r.rc, 105);
  EXPECT_TRUE(contains(r.out, "--service-base: must be a number >= 0, got -0.5")) << r.out;
  nn::test::TempDir tmp;
  const std::string config = tmp.path() + "/config.json";
  std::ofstream(config) << "not json";
  r = run_command(veil + "--config " + config + " 2>&1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.out, "--config " + config + " is not JSON")) << r.out;
  r = run_command(veil + "--config " + config + " --model gpt2 2>&1");
  EXPECT_EQ(r.rc, 108);
  EXPECT_TRUE(contains(r.out, "excludes")) << r.out;
  r = run_command(veil + "--min-context 2000 2>&1");  // GPT-2 medium's n_positions is 1024
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.out, "--min-context 2000 is outside 1..1024")) << r.out;
  r = run_command(veil + "--min-context 600 --max-context 500 2>&1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.out, "--min-context 600 is above --max-context 500")) << r.out;
}

}  // namespace
}  // namespace veil::serve
