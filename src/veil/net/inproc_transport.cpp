#include "veil/net/inproc_transport.h"

#include <condition_variable>
#include <deque>
#include <mutex>

namespace veil::net {

struct Mailbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Frame> frames;
};

struct InProcHub {
  std::array<std::array<Mailbox, 3>, 3> box;  // box[from][to]
  std::mutex closed_mu;
  std::array<bool, 3> closed{false, false, false};
  bool is_closed(int p) {
    std::lock_guard<std::mutex> g(closed_mu);
    return closed[size_t(p)];
  }
};

namespace {

class InProcTransport final : public Transport {
 public:
  InProcTransport(std::shared_ptr<InProcHub> hub, int self) : hub_(std::move(hub)), self_(self) {}
  ~InProcTransport() override { close(); }

  void send_frame(int to, Frame&& frame) override {
    if (hub_->is_closed(to))
      throw LinkError("party " + std::to_string(self_) + ": peer " + std::to_string(to) + " disconnected");
    Mailbox& m = hub_->box[size_t(self_)][size_t(to)];
    {
      std::lock_guard<std::mutex> g(m.mu);
      m.frames.push_back(std::move(frame));
    }
    m.cv.notify_one();
  }

  Frame recv_frame(int from, std::chrono::milliseconds timeout) override {
    Mailbox& m = hub_->box[size_t(from)][size_t(self_)];
    std::unique_lock<std::mutex> g(m.mu);
    bool ok = m.cv.wait_for(g, timeout, [&] {
      return !m.frames.empty() || hub_->is_closed(from) || hub_->is_closed(self_);
    });
    if (!m.frames.empty()) {
      Frame f = std::move(m.frames.front());
      m.frames.pop_front();
      return f;
    }
    std::string who = "party " + std::to_string(self_) + ": ";
    if (!ok)
      throw LinkError(who + "timed out after " + std::to_string(timeout.count()) +
                      " ms waiting for party " + std::to_string(from));
    if (hub_->is_closed(self_)) throw LinkError(who + "link closed locally");
    throw LinkError(who + "peer " + std::to_string(from) + " disconnected");
  }

  void close() override {
    {
      std::lock_guard<std::mutex> g(hub_->closed_mu);
      if (hub_->closed[size_t(self_)]) return;
      hub_->closed[size_t(self_)] = true;
    }
    for (auto& row : hub_->box)
      for (auto& m : row) {
        std::lock_guard<std::mutex> g(m.mu);
        m.cv.notify_all();
      }
  }

 private:
  std::shared_ptr<InProcHub> hub_;
  int self_;
};

}  // namespace

std::array<std::unique_ptr<Transport>, 3> make_inproc_transports() {
  auto hub = std::make_shared<InProcHub>();
  return {std::make_unique<InProcTransport>(hub, 0), std::make_unique<InProcTransport>(hub, 1),
          std::make_unique<InProcTransport>(hub, 2)};
}

}  // namespace veil::net
