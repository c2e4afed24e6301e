#include "veil/net/link.h"

#include <algorithm>
#include <cstring>

namespace veil::net {

namespace {
constexpr size_t kStampBytes = 4;  // little-endian uint32 depth prefix of every frame
}

Link::Link(int self, std::unique_ptr<Transport> transport, LinkOptions opt)
    : self_(self), transport_(std::move(transport)), opt_(opt) {
  if (self < 0 || self > 2) throw std::invalid_argument("Link: party id must be 0, 1 or 2");
}

void Link::touch_depth(uint64_t stamp) {
  total_.rounds = std::max(total_.rounds, stamp);
  for (Open& o : stack_) o.rounds = std::max(o.rounds, stamp - std::min(stamp, o.start_depth));
}

void Link::send(int to, const void* data, size_t bytes) {
  if (to == self_ || to < 0 || to > 2) throw std::invalid_argument("Link::send: bad peer id");
  uint32_t stamp = uint32_t(depth_ + 1);
  total_.bytes += bytes, total_.messages += 1;
  for (Open& o : stack_) o.tag->bytes += bytes, o.tag->messages += 1;
  touch_depth(stamp);
  Frame f(kStampBytes + bytes);
  for (size_t i = 0; i < kStampBytes; ++i) f[i] = uint8_t(stamp >> (8 * i));
  if (bytes) std::memcpy(f.data() + kStampBytes, data, bytes);
  transport_->send_frame(to, std::move(f));
}

void Link::recv(int from, void* data, size_t bytes) {
  if (from == self_ || from < 0 || from > 2) throw std::invalid_argument("Link::recv: bad peer id");
  Frame f = transport_->recv_frame(from, opt_.timeout);
  if (f.size() != bytes + kStampBytes) {
    std::string op = stack_.empty() ? "untagged" : stack_.back().name;
    size_t got = f.size() < kStampBytes ? 0 : f.size() - kStampBytes;
    throw LinkError("party " + std::to_string(self_) + ": frame from party " + std::to_string(from) +
                    " has " + std::to_string(got) + " payload bytes, expected " + std::to_string(bytes) +
                    " (op " + op + "): peers are out of step or the frame was truncated");
  }
  uint32_t stamp = 0;
  for (size_t i = 0; i < kStampBytes; ++i) stamp |= uint32_t(f[i]) << (8 * i);
  depth_ = std::max<uint64_t>(depth_, stamp);
  touch_depth(depth_);
  if (bytes) std::memcpy(data, f.data() + kStampBytes, bytes);
}

Link::Scope::Scope(Link& link, const std::string& tag) : link_(link) {
  link_.stack_.push_back(Open{&link_.by_tag_[tag], link_.depth_, 0, tag});
}
Link::Scope::~Scope() {
  Open& o = link_.stack_.back();
  o.tag->rounds += o.rounds;
  link_.stack_.pop_back();
}

void Link::close() { transport_->close(); }

std::string Link::failure() const {
  for (int peer : {next(), prev()})
    if (std::string why = transport_->failure(peer); !why.empty()) return why;
  return {};
}

}  // namespace veil::net
