#include "veil/net/tcp_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "veil/net/socket.h"
#include "veil/net/stream.h"
#include "veil/net/tcp_setup.h"
#include "veil/net/wire.h"

namespace veil::net {

namespace {

constexpr size_t kCoalesceBytes = 64 * 1024;  // smaller payloads are copied behind their header
constexpr size_t kReadChunk = 256 * 1024;
constexpr int kReadsPerPass = 64;  // then let the other connection have a turn

std::string party(int j) { return "party " + std::to_string(j); }

struct Queues {  // one peer's frames in each direction; guarded by TcpTransport::mu_
  std::deque<Frame> outbox;
  std::deque<Frame> inbox;
  std::string error;  // set once, when the connection fails
};

struct Conn {  // one peer's connection; touched only by the I/O thread
  std::unique_ptr<Stream> stream;  // null once closed or failed
  std::deque<Frame> out;           // byte segments still to write
  size_t out_off = 0;              // bytes of out.front() already written
  wire::FrameHeader hdr{};
  size_t hdr_got = 0;
  Frame body;
  size_t body_got = 0;
  bool in_body = false;
  bool need_pollout = false;  // a TLS read or a write waits for the socket to be writable
  bool read_more = false;     // stopped reading with bytes possibly left (in TLS buffers too)
};

class TcpTransport final : public Transport {
 public:
  TcpTransport(int self, const std::array<Endpoint, 3>& peers, const TcpOptions& opt);
  ~TcpTransport() override;
  void send_frame(int to, Frame&& frame) override;
  Frame recv_frame(int from, std::chrono::milliseconds timeout) override;
  void close() override;
  std::string failure(int peer) const override;

 private:
  void run(const std::array<Endpoint, 3>& peers, std::promise<void>& ready);  // the I/O thread
  void io_loop();
  void take_outboxes(bool& closing, Clock::time_point& flush_deadline);
  void pump_write(int j);
  void pump_read(int j, std::vector<uint8_t>& scratch);
  void consume(int j, const uint8_t* p, size_t n);
  void end_of_stream(int j, const std::string& reason);
  void deliver(int j, Frame&& frame);
  void fail(int j, const std::string& message);
  void wait_for_io(bool closing, Clock::time_point flush_deadline);
  void wake();
  std::string who() const { return party(self_) + ": "; }
  void check_peer(int j, const char* op) const;

  const int self_;
  const TcpOptions opt_;
  std::unique_ptr<TlsContext> tls_;
  std::array<Conn, 3> conn_;
  Fd wake_rd_, wake_wr_;  // self-pipe: wakes the I/O thread's poll()

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::array<Queues, 3> q_;
  bool closing_ = false;
  Clock::time_point flush_deadline_;

  std::thread io_;
};

TcpTransport::TcpTransport(int self, const std::array<Endpoint, 3>& peers, const TcpOptions& opt)
    : self_(self), opt_(opt) {
  if (self < 0 || self > 2) throw std::invalid_argument("connect_tcp: party id must be 0, 1 or 2");
  if (opt.tls) {
    try {
      tls_ = std::make_unique<TlsContext>(opt.tls_files);
    } catch (const LinkError& e) {
      throw LinkError(who() + e.what());
    }
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    throw LinkError(who() + "cannot create wake pipe: " + std::strerror(errno));
  wake_rd_ = Fd(fds[0]);
  wake_wr_ = Fd(fds[1]);
  std::promise<void> ready;
  std::future<void> setup = ready.get_future();
  io_ = std::thread([this, peers, ready = std::move(ready)]() mutable { run(peers, ready); });
  try {
    setup.get();
  } catch (...) {
    io_.join();
    throw;
  }
}

TcpTransport::~TcpTransport() {
  close();
  if (io_.joinable()) io_.join();
}

void TcpTransport::run(const std::array<Endpoint, 3>& peers, std::promise<void>& ready) {
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  try {
    auto streams = establish_streams(self_, peers, tls_.get(), opt_.setup_timeout);
    for (int j = 0; j < 3; ++j) conn_[size_t(j)].stream = std::move(streams[size_t(j)]);
  } catch (...) {
    ready.set_exception(std::current_exception());
    return;
  }
  ready.set_value();
  try {
    io_loop();
  } catch (const std::exception& e) {  // e.g. out of memory for a frame
    for (int j = 0; j < 3; ++j)
      if (conn_[size_t(j)].stream) fail(j, who() + "I/O thread failed: " + e.what());
  }
  for (Conn& c : conn_)
    if (c.stream) {
      c.stream->shutdown();
      c.stream.reset();
    }
}

void TcpTransport::io_loop() {
  std::vector<uint8_t> scratch(kReadChunk);
  for (;;) {
    bool closing = false;
    Clock::time_point flush_deadline;
    take_outboxes(closing, flush_deadline);
    bool unsent = false;
    for (int j = 0; j < 3; ++j) {
      if (conn_[size_t(j)].stream) pump_write(j);
      if (conn_[size_t(j)].stream) pump_read(j, scratch);
      unsent |= conn_[size_t(j)].stream && !conn_[size_t(j)].out.empty();
    }
    if (closing && (!unsent || Clock::now() >= flush_deadline)) return;
    wait_for_io(closing, flush_deadline);
  }
}

void TcpTransport::take_outboxes(bool& closing, Clock::time_point& flush_deadline) {
  std::lock_guard<std::mutex> g(mu_);
  closing = closing_;
  flush_deadline = flush_deadline_;
  for (int j = 0; j < 3; ++j) {
    Conn& c = conn_[size_t(j)];
    for (Frame& f : q_[size_t(j)].outbox) {
      if (!c.stream) continue;
      wire::FrameHeader h = wire::make_frame_header(f.size());
      const auto* hp = reinterpret_cast<const uint8_t*>(&h);
      if (f.size() <= kCoalesceBytes) {
        Frame seg(sizeof h + f.size());
        std::memcpy(seg.data(), hp, sizeof h);
        if (!f.empty()) std::memcpy(seg.data() + sizeof h, f.data(), f.size());
        c.out.push_back(std::move(seg));
      } else {
        c.out.emplace_back(hp, hp + sizeof h);
        c.out.push_back(std::move(f));
      }
    }
    q_[size_t(j)].outbox.clear();
  }
}

void TcpTransport::pump_write(int j) {
  Conn& c = conn_[size_t(j)];
  c.need_pollout = false;
  while (!c.out.empty()) {
    Frame& seg = c.out.front();
    IoResult r = c.stream->write(seg.data() + c.out_off, seg.size() - c.out_off);
    switch (r.status) {
      case Io::done:
        c.out_off += r.bytes;
        if (c.out_off == seg.size()) {
          c.out.pop_front();
          c.out_off = 0;
        }
        break;
      case Io::want_write: c.need_pollout = true; return;
      case Io::want_read: return;  // POLLIN is always watched
      case Io::eof: fail(j, who() + party(j) + " disconnected (while sending to it)"); return;
      case Io::error: fail(j, who() + party(j) + " disconnected (while sending to it: " + r.error + ")"); return;
    }
  }
}

void TcpTransport::pump_read(int j, std::vector<uint8_t>& scratch) {
  Conn& c = conn_[size_t(j)];
  c.read_more = false;
  for (int pass = 0; pass < kReadsPerPass; ++pass) {
    IoResult r = c.stream->read(scratch.data(), scratch.size());
    switch (r.status) {
      case Io::done:
        consume(j, scratch.data(), r.bytes);
        if (!c.stream) return;
        break;
      case Io::want_read: return;
      case Io::want_write: c.need_pollout = true; return;
      case Io::eof: end_of_stream(j, "connection closed"); return;
      case Io::error: end_of_stream(j, r.error); return;
    }
  }
  c.read_more = true;
}

void TcpTransport::consume(int j, const uint8_t* p, size_t n) {
  Conn& c = conn_[size_t(j)];
  while (n > 0) {
    if (!c.in_body) {
      size_t take = std::min(n, sizeof c.hdr - c.hdr_got);
      std::memcpy(reinterpret_cast<uint8_t*>(&c.hdr) + c.hdr_got, p, take);
      c.hdr_got += take, p += take, n -= take;
      if (c.hdr_got < sizeof c.hdr) return;
      c.hdr_got = 0;
      auto length = wire::read_frame_header(c.hdr);
      if (!length)
        return fail(j, who() + "corrupt frame header from " + party(j) +
                           " (bad magic): the peer is out of step or not a veil party");
      if (*length > opt_.max_frame_bytes)
        return fail(j, who() + "oversized frame from " + party(j) + ": header announces " +
                           std::to_string(*length) + " bytes, the limit is " +
                           std::to_string(opt_.max_frame_bytes));
      c.body = Frame(size_t(*length));
      c.body_got = 0;
      c.in_body = true;
    }
    size_t take = std::min(n, c.body.size() - c.body_got);
    if (take) std::memcpy(c.body.data() + c.body_got, p, take);
    c.body_got += take, p += take, n -= take;
    if (c.body_got == c.body.size()) {
      c.in_body = false;
      deliver(j, std::move(c.body));
    }
  }
}

void TcpTransport::end_of_stream(int j, const std::string& reason) {
  const Conn& c = conn_[size_t(j)];
  if (c.in_body)
    fail(j, who() + "truncated frame from " + party(j) + ": " + reason + " after " + std::to_string(c.body_got) +
                " of " + std::to_string(c.body.size()) + " payload bytes");
  else if (c.hdr_got > 0)
    fail(j, who() + "truncated frame from " + party(j) + ": " + reason + " after " + std::to_string(c.hdr_got) +
                " of " + std::to_string(sizeof c.hdr) + " header bytes");
  else if (reason == "connection closed")
    fail(j, who() + party(j) + " disconnected");
  else
    fail(j, who() + party(j) + " disconnected (" + reason + ")");
}

void TcpTransport::deliver(int j, Frame&& frame) {
  {
    std::lock_guard<std::mutex> g(mu_);
    q_[size_t(j)].inbox.push_back(std::move(frame));
  }
  cv_.notify_all();
}

void TcpTransport::fail(int j, const std::string& message) {
  Conn& c = conn_[size_t(j)];
  c.stream.reset();
  c.out.clear();
  {
    std::lock_guard<std::mutex> g(mu_);
    if (q_[size_t(j)].error.empty()) q_[size_t(j)].error = message;
    q_[size_t(j)].outbox.clear();
  }
  cv_.notify_all();
}

void TcpTransport::wait_for_io(bool closing, Clock::time_point flush_deadline) {
  std::vector<pollfd> fds{{wake_rd_.get(), POLLIN, 0}};
  bool busy = false;
  for (const Conn& c : conn_) {
    if (!c.stream) continue;
    short events = POLLIN;
    if (!c.out.empty() || c.need_pollout) events |= POLLOUT;
    fds.push_back({c.stream->fd(), events, 0});
    busy |= c.read_more;
  }
  int timeout = busy ? 0 : closing ? ms_until(flush_deadline) : -1;
  ::poll(fds.data(), fds.size(), timeout);  // EINTR: just go round again
  char drain[256];
  while (::read(wake_rd_.get(), drain, sizeof drain) > 0) {
  }
}

void TcpTransport::wake() {
  char b = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_wr_.get(), &b, 1);  // a full pipe already wakes
}

void TcpTransport::check_peer(int j, const char* op) const {
  if (j < 0 || j > 2 || j == self_)
    throw std::invalid_argument(std::string("TcpTransport::") + op + ": bad peer id " + std::to_string(j));
}

void TcpTransport::send_frame(int to, Frame&& frame) {
  check_peer(to, "send_frame");
  {
    std::lock_guard<std::mutex> g(mu_);
    if (closing_) throw LinkError(who() + "link closed locally");
    if (!q_[size_t(to)].error.empty()) throw LinkError(q_[size_t(to)].error);
    q_[size_t(to)].outbox.push_back(std::move(frame));
  }
  wake();
}

Frame TcpTransport::recv_frame(int from, std::chrono::milliseconds timeout) {
  check_peer(from, "recv_frame");
  std::unique_lock<std::mutex> g(mu_);
  Queues& q = q_[size_t(from)];
  cv_.wait_for(g, timeout, [&] { return !q.inbox.empty() || !q.error.empty() || closing_; });
  if (!q.inbox.empty()) {
    Frame f = std::move(q.inbox.front());
    q.inbox.pop_front();
    return f;
  }
  if (closing_) throw LinkError(who() + "link closed locally");
  if (!q.error.empty()) throw LinkError(q.error);
  throw LinkError(who() + "timed out after " + std::to_string(timeout.count()) + " ms waiting for " + party(from));
}

std::string TcpTransport::failure(int peer) const {
  check_peer(peer, "failure");
  std::lock_guard<std::mutex> g(mu_);
  return q_[size_t(peer)].error;
}

void TcpTransport::close() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (closing_) return;
    closing_ = true;
    flush_deadline_ = Clock::now() + opt_.close_timeout;
  }
  cv_.notify_all();
  wake();
}

}  // namespace

std::unique_ptr<Transport> connect_tcp(int self, const std::array<Endpoint, 3>& peers, const TcpOptions& opt) {
  return std::make_unique<TcpTransport>(self, peers, opt);
}

}  // namespace veil::net
