#include "veil/mpc/client_port.h"

#include <stdexcept>

#include "veil/mpc/io.h"

namespace veil::mpc {

void ClientPort::send_input(const std::vector<uint64_t>& x) {
  std::lock_guard<std::mutex> g(mu_);
  auto pairs = client_split(x, prg_);
  for (int i = 0; i < 3; ++i) inputs_[size_t(i)].push_back(std::move(pairs[size_t(i)]));
  cv_.notify_all();
}

std::vector<uint64_t> ClientPort::receive_output() {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait(g, [&] {
    return closed_ || (!outputs_[0].empty() && !outputs_[1].empty() && !outputs_[2].empty());
  });
  if (closed_) throw std::runtime_error("client: a party stopped before sending its output");
  std::array<Pair, 3> pairs;
  for (int i = 0; i < 3; ++i) pairs[size_t(i)] = std::move(outputs_[size_t(i)].front()), outputs_[size_t(i)].pop_front();
  return client_reconstruct(pairs);
}

ClientPort::Pair ClientPort::take_input(int party) {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait(g, [&] { return closed_ || !inputs_[size_t(party)].empty(); });
  if (inputs_[size_t(party)].empty()) throw std::runtime_error("client port closed before an input arrived");
  Pair p = std::move(inputs_[size_t(party)].front());
  inputs_[size_t(party)].pop_front();
  return p;
}

void ClientPort::give_output(int party, Pair pair) {
  std::lock_guard<std::mutex> g(mu_);
  outputs_[size_t(party)].push_back(std::move(pair));
  cv_.notify_all();
}

void ClientPort::close() {
  std::lock_guard<std::mutex> g(mu_);
  closed_ = true;
  cv_.notify_all();
}

}  // namespace veil::mpc
