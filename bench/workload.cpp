#include "workload.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include "net_model.h"
#include "veil/mpc/io.h"
#include "veil/mpc/runtime.h"

namespace veil::bench {

Share random_share(mpc::Context& ctx, const Shape& shape) {
  Share a(shape);
  a.s0 = ctx.prg_prev().draw<uint64_t>(a.size());
  a.s1 = ctx.prg_next().draw<uint64_t>(a.size());
  return a;
}

std::map<std::string, Share> random_weights(mpc::Context& ctx, const model::TensorLayout& layout) {
  std::map<std::string, Share> w;
  for (const auto& [name, t] : layout)
    if (t.required) w.emplace(name, random_share(ctx, t.shape));
  return w;
}

double WorkloadRow::lan_s() const {
  return kLan.time(wall_s, bytes_max + client_bytes_max, rounds + (client_bytes > 0));
}
double WorkloadRow::wan_s() const {
  return kWan.time(wall_s, bytes_max + client_bytes_max, rounds + (client_bytes > 0));
}

WorkloadRow run_workload(const std::string& name, const std::vector<std::string>& tags, const WorkloadSetup& setup) {
  WorkloadRow row;
  row.workload = name;
  mpc::ClientPort port;
  std::array<double, 3> wall{};
  std::array<net::Traffic, 3> traffic{};
  std::array<std::map<std::string, net::Traffic>, 3> tags_before, tags_after;
  mpc::run_parties([&](mpc::Context& ctx) {
    std::function<void()> body = setup(ctx, port);
    mpc::sync_parties(ctx);
    tags_before[size_t(ctx.id())] = ctx.link().by_tag();
    net::Traffic before = ctx.link().total();
    auto t0 = std::chrono::steady_clock::now();
    body();
    wall[size_t(ctx.id())] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    traffic[size_t(ctx.id())] = ctx.link().total() - before;
    tags_after[size_t(ctx.id())] = ctx.link().by_tag();
  });
  row.wall_s = *std::max_element(wall.begin(), wall.end());
  for (int p = 0; p < 3; ++p) {
    row.bytes_max = std::max<int64_t>(row.bytes_max, int64_t(traffic[size_t(p)].bytes));
    row.bytes_total += int64_t(traffic[size_t(p)].bytes);
    row.rounds = std::max<int64_t>(row.rounds, int64_t(traffic[size_t(p)].rounds));
    for (const auto& tag : tags) {
      net::Traffic a = tags_after[size_t(p)][tag], b = tags_before[size_t(p)][tag];
      auto& [bytes, rounds] = row.parts[tag];
      bytes += int64_t(a.bytes - b.bytes);
      rounds = std::max<int64_t>(rounds, int64_t(a.rounds - b.rounds));
    }
    for (const auto& [tag, a] : tags_after[size_t(p)]) {
      const net::Traffic b = tags_before[size_t(p)][tag];
      auto& [bytes, rounds] = row.every_tag[tag];
      bytes += int64_t(a.bytes - b.bytes);
      rounds = std::max<int64_t>(rounds, int64_t(a.rounds - b.rounds));
    }
  }
  // The client's inputs (token ids or one-hot rows) feed only the embeddings.
  const mpc::ClientTraffic client = port.traffic();
  row.client_bytes = int64_t(client.bytes_sent);
  row.client_bytes_max = int64_t(*std::max_element(client.sent_to.begin(), client.sent_to.end()));
  row.bytes_total += row.client_bytes;
  row.parts["embedding"].first += row.client_bytes;
  return row;
}

model::Gpt2Config gpt2_base(bool quick) {
  model::Gpt2Config c{};
  c.n_layer = quick ? 2 : 12, c.n_head = 12, c.n_embd = 768, c.n_positions = 1024, c.vocab_size = 50257;
  c.n_inner = 3072;
  return c;
}

std::vector<uint64_t> client_tokens(nn::TokenInput input, int64_t t, int64_t v) {
  if (input == nn::TokenInput::secret_ids) return std::vector<uint64_t>(static_cast<size_t>(t), 0);
  std::vector<uint64_t> rows(static_cast<size_t>(t * v), 0);
  for (int64_t i = 0; i < t; ++i) rows[size_t(i * v)] = 1;
  return rows;
}

std::string gb(int64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f GB", double(b) / 1e9);
  return buf;
}

}  // namespace veil::bench
