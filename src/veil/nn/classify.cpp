#include "veil/nn/classify.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "veil/core/fixed_point.h"
#include "veil/mpc/runtime.h"
#include "veil/nn/bert.h"
#include "veil/nn/mpc_backend.h"
#include "veil/nn/plain_backend.h"

namespace veil::nn {

namespace {

// One-hot rows (T,width) of integer 0/1; the values were checked against width.
std::vector<uint64_t> onehot_rows(const std::vector<int32_t>& values, int64_t width) {
  std::vector<uint64_t> rows(values.size() * size_t(width), 0);
  for (size_t t = 0; t < values.size(); ++t) rows[t * size_t(width) + size_t(values[t])] = 1;
  return rows;
}

void check_range(const std::vector<int32_t>& values, int64_t limit, const std::string& what, const std::string& bound) {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0 || values[i] >= limit)
      throw std::invalid_argument(what + " " + std::to_string(values[i]) + " at position " + std::to_string(i) +
                                  " is outside [0, " + std::to_string(limit) + ") (the model's " + bound + ")");
}

}  // namespace

void require_classifier(const BertCheckpoint& ck, const std::string& dir) {
  if (ck.weights.count("pooler.dense.weight") && ck.weights.count("classifier.weight")) return;
  std::string arch;
  for (const std::string& a : ck.config.architectures) arch += (arch.empty() ? "" : ", ") + a;
  throw std::invalid_argument(dir + " is not a BertForSequenceClassification checkpoint (architectures: " +
                              (arch.empty() ? "none listed" : arch) +
                              "): it has no pooler.dense and classifier weights, so it gives no classification logits");
}

void check_classify_input(const model::BertConfig& config, const std::vector<int32_t>& ids,
                          const std::vector<int32_t>& token_types) {
  if (ids.empty()) throw std::invalid_argument("no tokens to classify");
  if (int64_t(ids.size()) > config.max_position_embeddings)
    throw std::invalid_argument(std::to_string(ids.size()) + " tokens are more than the model takes (max_position_embeddings = " +
                                std::to_string(config.max_position_embeddings) + ")");
  if (token_types.size() != ids.size())
    throw std::invalid_argument(std::to_string(token_types.size()) + " token types for " + std::to_string(ids.size()) +
                                " token ids: give one type per token");
  check_range(ids, config.vocab_size, "token id", "vocab_size");
  check_range(token_types, config.type_vocab_size, "token type", "type_vocab_size");
}

std::vector<float> classify_plain(const BertCheckpoint& ck, const std::vector<int32_t>& ids,
                                  const std::vector<int32_t>& token_types) {
  check_classify_input(ck.config, ids, token_types);
  PlainBackend be(ck.weights);
  Bert<PlainBackend> bert(be, ck.config);
  return bert.classify(be.input_tokens(ids), be.input_tokens(token_types)).data;
}

PrivateClassification classify_private(const BertCheckpoint& ck, const std::vector<int32_t>& ids,
                                       const std::vector<int32_t>& token_types) {
  check_classify_input(ck.config, ids, token_types);
  const mpc::Config cfg;
  const int frac = cfg.frac_bits<uint64_t>();
  Prg owner(random_seed());
  auto shares = deal_weights(ck.weights, frac, owner);  // the model owner's split

  mpc::ClientPort port;
  PrivateClassification out;
  std::exception_ptr client_error;
  std::atomic<bool> client_failed{false};
  std::thread client([&] {
    try {
      const auto t0 = std::chrono::steady_clock::now();
      port.send_input(onehot_rows(ids, ck.config.vocab_size));
      port.send_input(onehot_rows(token_types, ck.config.type_vocab_size));
      const std::vector<uint64_t> opened = port.receive_output();
      out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (uint64_t v : opened) out.logits.push_back(float(fxp_decode<uint64_t>(v, frac)));
    } catch (...) {
      client_error = std::current_exception();
      client_failed = true;
      port.close();  // wakes parties waiting for an input that will not come
    }
  });
  mpc::PartyTraffic traffic;
  try {
    traffic = mpc::run_parties([&](mpc::Context& ctx) {
      MpcBackend be(ctx, std::move(shares[size_t(ctx.id())]), port, TokenInput::client_onehot);
      Bert<MpcBackend> bert(be, ck.config);
      const std::vector<int32_t> public_length(ids.size(), 0);  // the party knows only T
      const auto sid = be.input_tokens(public_length);
      const auto stype = be.input_tokens(public_length);
      be.reveal_to_client(bert.classify(sid, stype));  // REVEAL to the client only
    }, cfg);
  } catch (...) {
    const bool client_first = client_failed;  // else the client fails only because the parties did
    port.close();
    client.join();
    if (client_first) std::rethrow_exception(client_error);
    throw;
  }
  client.join();
  if (client_error) std::rethrow_exception(client_error);
  out.bytes_total = int64_t(traffic.sum_bytes());
  out.bytes_max = int64_t(traffic.max_bytes());
  out.rounds = int64_t(traffic.max_rounds());
  const mpc::ClientTraffic client_traffic = port.traffic();
  out.client_bytes_sent = int64_t(client_traffic.bytes_sent);
  out.client_bytes_received = int64_t(client_traffic.bytes_received);
  return out;
}

}  // namespace veil::nn
