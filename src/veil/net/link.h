// Link: a party's counted connection to its two peers, over any Transport.
// Every byte sent goes through Link::send, which counts bytes, messages and rounds, overall and
// per operation tag (Link::Scope). Protocol code never counts by hand.
//
// Rounds are the length of the longest chain of dependent messages (a Lamport clock): every frame
// carries the sender's depth + 1 in a 4-byte prefix that is not counted as payload; receiving a
// frame raises the receiver's depth to the frame's stamp. A kernel whose parties all send and
// then receive costs one round; a kernel whose messages wait on earlier ones costs one round per
// hop. Bytes count payload only.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "veil/net/transport.h"

namespace veil::net {

struct Traffic {
  uint64_t bytes = 0;     // bytes this party sent
  uint64_t messages = 0;  // frames this party sent
  uint64_t rounds = 0;    // longest message chain this party took part in
  Traffic operator-(const Traffic& o) const {
    return {bytes - o.bytes, messages - o.messages, rounds - o.rounds};
  }
  Traffic& operator+=(const Traffic& o) {
    bytes += o.bytes, messages += o.messages, rounds += o.rounds;
    return *this;
  }
};

struct LinkOptions {
  std::chrono::milliseconds timeout{60000};  // longest wait for one frame
};

class Link {
 public:
  Link(int self, std::unique_ptr<Transport> transport, LinkOptions opt = {});
  int self() const { return self_; }
  int next() const { return (self_ + 1) % 3; }
  int prev() const { return (self_ + 2) % 3; }

  void send(int to, const void* data, size_t bytes);
  void recv(int from, void* data, size_t bytes);  // exactly `bytes`, or LinkError
  template <class T> void send(int to, std::span<const T> v) { send(to, v.data(), v.size_bytes()); }
  template <class T> void recv(int from, std::span<T> v) { recv(from, v.data(), v.size_bytes()); }
  template <class T> void send(int to, const std::vector<T>& v) { send(to, v.data(), v.size() * sizeof(T)); }
  template <class T> void recv(int from, std::vector<T>& v) { recv(from, v.data(), v.size() * sizeof(T)); }

  // Tags traffic with an operation name for the lifetime of the scope (nestable: a send counts
  // towards every tag on the stack).
  class Scope {
   public:
    Scope(Link& link, const std::string& tag);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
   private:
    Link& link_;
  };

  Traffic total() const { return total_; }
  const std::map<std::string, Traffic>& by_tag() const { return by_tag_; }
  void close();
  // Why the connection to a peer failed ("" while both work), without waiting for traffic.
  std::string failure() const;

 private:
  struct Open {             // one live Scope
    Traffic* tag;           // where its traffic accumulates
    uint64_t start_depth;   // depth when it opened
    uint64_t rounds = 0;    // longest chain inside it so far
    std::string name;
  };
  void touch_depth(uint64_t stamp);
  int self_;
  std::unique_ptr<Transport> transport_;
  LinkOptions opt_;
  uint64_t depth_ = 0;  // longest chain of messages this party has seen or sent
  Traffic total_;
  std::map<std::string, Traffic> by_tag_;
  std::vector<Open> stack_;
};

}  // namespace veil::net
