// The client's end of a computation whose three parties run as threads of this process: the
// client secret-shares its inputs into per-party pairs and reconstructs outputs from the pairs
// the parties hand back. No party thread ever sees a plaintext input or output through it.
// (Over the network the same pairs travel on the client's TLS connections to the parties.)
#pragma once
#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "veil/core/prg.h"

namespace veil::mpc {

class ClientPort {
 public:
  using Pair = std::pair<std::vector<uint64_t>, std::vector<uint64_t>>;

  // Client side.
  void send_input(const std::vector<uint64_t>& x);   // split and queue one pair per party
  std::vector<uint64_t> receive_output();            // waits for all three pairs, reconstructs

  // Party side.
  Pair take_input(int party);                        // waits for the next input pair
  void give_output(int party, Pair pair);

  void close();  // wakes every waiter with an error (a party failed)

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::array<std::deque<Pair>, 3> inputs_;
  std::array<std::deque<Pair>, 3> outputs_;
  bool closed_ = false;
  Prg prg_{random_seed()};  // the client's private randomness
};

}  // namespace veil::mpc
