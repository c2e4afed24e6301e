#include "veil/mpc/client_port.h"

#include <limits>
#include <stdexcept>

#include "veil/mpc/client_wire.h"
#include "veil/mpc/io.h"

namespace veil::mpc {

namespace {

std::string party_name(int i) { return "party " + std::to_string(i); }

class PortChannel final : public ClientChannel {
 public:
  PortChannel(ClientPort& port, int party, const net::Link* link)
      : port_(port), party_(party), link_(link), start_(link ? link->total() : net::Traffic{}) {}
  SharePair take_input() override { return port_.take_input(party_); }
  void give_output(SharePair pair) override {
    port_.give_output(party_, std::move(pair), link_ ? link_->total() - start_ : net::Traffic{});
  }

 private:
  ClientPort& port_;
  int party_;
  const net::Link* link_;
  net::Traffic start_;
};

}  // namespace

void ClientPort::send_input(const std::vector<uint64_t>& x, int ring_bits) {
  std::lock_guard<std::mutex> g(mu_);
  auto pairs = client_split_seeded(x, prg_, ring_bits);
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> msg = encode_input(pairs[size_t(i)]);
    traffic_.bytes_sent += msg.size();
    traffic_.sent_to[size_t(i)] += msg.size();
    inputs_[size_t(i)].push_back(std::move(msg));
  }
  cv_.notify_all();
}

std::vector<uint64_t> ClientPort::receive_output() {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait(g, [&] {
    return closed_ || (!outputs_[0].empty() && !outputs_[1].empty() && !outputs_[2].empty());
  });
  if (closed_) throw std::runtime_error("client: a party stopped before sending its output");
  std::array<Pair, 3> pairs;
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> msg = std::move(outputs_[size_t(i)].front());
    outputs_[size_t(i)].pop_front();
    traffic_.bytes_received += msg.size();
    pairs[size_t(i)] = decode_output(msg, party_traffic_[size_t(i)], party_name(i));
  }
  return client_reconstruct(pairs);
}

std::array<net::Traffic, 3> ClientPort::party_traffic() const {
  std::lock_guard<std::mutex> g(mu_);
  return party_traffic_;
}

ClientTraffic ClientPort::traffic() const {
  std::lock_guard<std::mutex> g(mu_);
  return traffic_;
}

std::unique_ptr<ClientChannel> ClientPort::channel(int party, const net::Link* link) {
  if (party < 0 || party > 2) throw std::invalid_argument("ClientPort::channel: party must be 0, 1 or 2");
  return std::make_unique<PortChannel>(*this, party, link);
}

ClientPort::Pair ClientPort::take_input(int party) {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait(g, [&] { return closed_ || !inputs_[size_t(party)].empty(); });
  if (inputs_[size_t(party)].empty()) throw std::runtime_error("client port closed before an input arrived");
  std::vector<uint8_t> msg = std::move(inputs_[size_t(party)].front());
  inputs_[size_t(party)].pop_front();
  g.unlock();  // expanding seeds takes a while for long inputs
  return expand(decode_input(msg, std::numeric_limits<uint64_t>::max(), "the client"));
}

void ClientPort::give_output(int party, Pair pair, const net::Traffic& traffic) {
  std::vector<uint8_t> msg = encode_output(pair, traffic);
  std::lock_guard<std::mutex> g(mu_);
  outputs_[size_t(party)].push_back(std::move(msg));
  cv_.notify_all();
}

void ClientPort::close() {
  std::lock_guard<std::mutex> g(mu_);
  closed_ = true;
  cv_.notify_all();
}

}  // namespace veil::mpc
