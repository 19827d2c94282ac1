// nfjitd's transport: framing of big requests, many concurrent clients, credentials, and resilience
// to malformed or abandoned connections. The server is the real one; only the handler is a double.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "daemon/client.h"
#include "daemon_harness.h"
#include "privileged.h"

namespace nfjit::test {
namespace {

using daemon::ServerOptions;
using wire::Client;

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return v;
}

// getsockopt: answers `optlen` bytes derived from the request; setsockopt: old counters derived from
// its size. Lets each test check exactly what went through.
SockoptReply echo_answer(const SockoptRequest& r) {
  SockoptReply rep;
  if (r.set) rep.old_counters = pattern(r.data.size() / 3, static_cast<uint32_t>(r.data.size()));
  else rep.data = pattern(r.optlen, r.data.empty() ? 0 : r.data[0]);
  return rep;
}

SockoptRequest get_request(uint32_t optlen, uint8_t tag) {
  SockoptRequest r;
  r.level = SOL_IP;
  r.optname = 65;  // GET_ENTRIES
  r.optlen = optlen;
  r.data.assign(std::min<uint32_t>(optlen, 40), tag);
  return r;
}

TEST(Transport, BigSetsockoptRoundTripsWithOldCounters) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  SockoptRequest req;
  req.set = true;
  req.level = SOL_IP;
  req.optname = 64;
  req.data = pattern(48u << 20, 7);  // a 48 MiB ipt_replace, far beyond any seqpacket message
  req.optlen = static_cast<uint32_t>(req.data.size());
  auto c = Client::connect(d.socket());
  ASSERT_TRUE(c) << c.error().message;
  auto rep = c->sockopt(req);
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_EQ(rep->reply.err, 0);
  EXPECT_EQ(rep->reply.old_counters, pattern(req.data.size() / 3, static_cast<uint32_t>(req.data.size())));
  auto seen = h.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].set);
  EXPECT_EQ(seen[0].data, req.data);
  EXPECT_EQ(seen[0].peer.pid, getpid());
  EXPECT_EQ(seen[0].peer.uid, getuid());
}

TEST(Transport, BigGetsockoptReplyRoundTrips) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  auto c = Client::connect(d.socket());
  ASSERT_TRUE(c);
  auto rep = c->sockopt(get_request(40u << 20, 9));
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_EQ(rep->reply.data, pattern(40u << 20, 9));
}

TEST(Transport, HandlerAnswerLongerThanOptlenIsNeverPassedOn) {
  RecordingHandler h([](const SockoptRequest& r) {
    SockoptReply rep;
    rep.data.assign(r.optlen + 1, 0);
    return rep;
  });
  DaemonHarness d(h);
  auto c = Client::connect(d.socket());
  ASSERT_TRUE(c);
  auto rep = c->sockopt(get_request(84, 1));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->reply.err, EIO);
  EXPECT_TRUE(rep->reply.data.empty());
}

TEST(Transport, ManyClientsConcurrently) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  constexpr int kThreads = 24, kEach = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto c = Client::connect(d.socket());
        if (!c) continue;
        uint8_t tag = static_cast<uint8_t>(t * kEach + i);
        uint32_t len = 1000 + static_cast<uint32_t>(t * 977 + i * 131);
        auto rep = c->sockopt(get_request(len, tag));
        if (rep && rep->reply.data == pattern(len, tag)) ++ok;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(h.requests().size(), static_cast<size_t>(kThreads * kEach));
}

TEST(Transport, OneConnectionMayCarrySeveralRequests) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  auto c = Client::connect(d.socket());
  ASSERT_TRUE(c);
  for (uint8_t tag = 1; tag <= 3; ++tag) {
    auto rep = c->sockopt(get_request(100, tag));
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->reply.data, pattern(100, tag));
  }
  auto st = c->status();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, h.status_text);
}

TEST(Transport, StalledClientDoesNotBlockOthers) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  auto slow = Client::connect(d.socket());
  ASSERT_TRUE(slow);
  // Announce 1 MiB and send 10 bytes of it, then stall.
  auto frame = wire::encode_sockopt_request(get_request(1u << 20, 1));
  std::vector<uint8_t> partial(frame.begin(), frame.begin() + 16 + 10);
  wire::FrameHeader* hdr = reinterpret_cast<wire::FrameHeader*>(partial.data());
  hdr->length = 1u << 20;
  ASSERT_TRUE(slow->send_raw(partial));
  auto start = std::chrono::steady_clock::now();
  auto fast = Client::connect(d.socket());
  ASSERT_TRUE(fast);
  auto rep = fast->sockopt(get_request(84, 2));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->reply.data, pattern(84, 2));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

TEST(Transport, SurvivesGarbageFrames) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  {
    auto c = Client::connect(d.socket());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send_raw(pattern(64, 3)));
    // The daemon explains, then hangs up.
    auto f = c->read_frame();
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(f->first.type, wire::kProtocolError);
    EXPECT_NE(std::string(f->second.begin(), f->second.end()).find("magic"), std::string::npos);
    char byte;
    ssize_t r = recv(c->fd(), &byte, 1, 0);
    // Closed with our unread garbage still queued: an orderly EOF or a reset, never more data.
    EXPECT_TRUE(r == 0 || (r < 0 && errno == ECONNRESET)) << r;
  }
  {  // right magic, wrong version
    auto c = Client::connect(d.socket());
    wire::FrameHeader hdr{wire::kMagic, 99, wire::kStatusRequest, 0};
    std::vector<uint8_t> bytes(reinterpret_cast<uint8_t*>(&hdr), reinterpret_cast<uint8_t*>(&hdr) + sizeof(hdr));
    ASSERT_TRUE(c->send_raw(bytes));
    auto f = c->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->first.type, wire::kProtocolError);
    EXPECT_NE(std::string(f->second.begin(), f->second.end()).find("version 99"), std::string::npos);
  }
  {  // a sockopt request too short to decode, and one for an option the daemon does not serve
    auto c = Client::connect(d.socket());
    ASSERT_TRUE(c->send_raw(wire::encode_frame(wire::kSockoptRequest, std::vector<uint8_t>(5, 0))));
    auto f = c->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->first.type, wire::kProtocolError);
    auto c2 = Client::connect(d.socket());
    SockoptRequest r = get_request(4, 0);
    r.optname = 2;  // IP_TTL
    auto rep = c2->sockopt(r);
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->reply.err, ENOPROTOOPT);
  }
  EXPECT_TRUE(h.requests().empty());
  auto c = Client::connect(d.socket());
  auto rep = c->sockopt(get_request(84, 4));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->reply.data, pattern(84, 4));
}

TEST(Transport, SurvivesClientThatDisconnectsMidMessage) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  for (int i = 0; i < 20; ++i) {
    auto c = Client::connect(d.socket());
    ASSERT_TRUE(c);
    auto frame = wire::encode_sockopt_request(get_request(2000, 5));
    frame.resize(i % 2 ? 8 : frame.size() - 3);  // inside the header, then inside the payload
    ASSERT_TRUE(c->send_raw(frame));
  }  // each closes here
  auto c = Client::connect(d.socket());
  auto rep = c->sockopt(get_request(84, 6));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->reply.data, pattern(84, 6));
  EXPECT_TRUE(std::ranges::all_of(h.requests(), [](const auto& r) { return r.data[0] == 6; }));
  // The abandoned connections are gone, not lingering.
  for (int i = 0; i < 100 && d.server().client_count() > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_LE(d.server().client_count(), 1u);
}

TEST(Transport, IdleClientsAreDropped) {
  RecordingHandler h(echo_answer);
  DaemonHarness d(h, ServerOptions{.idle_timeout = std::chrono::milliseconds(200)});
  auto c = Client::connect(d.socket());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send_raw({0x4e, 0x46}));  // two bytes of a header, then silence
  char byte;
  timeval tv{5, 0};
  setsockopt(c->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(recv(c->fd(), &byte, 1, 0), 0);  // closed by the daemon, well before 5 s
}

// Drops every capability of the calling (forked) process.
bool drop_all_caps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return syscall(SYS_capset, &hdr, data) == 0;
}

// In a forked child: connects and sends one GET_INFO (or status); exits with the reply's errno.
int child_request_errno(const std::string& socket, bool drop_caps, bool status) {
  pid_t pid = fork();
  if (pid == 0) {
    if (drop_caps && !drop_all_caps()) _exit(100);
    auto c = Client::connect(socket);
    if (!c) _exit(101);
    if (status) {
      auto st = c->status();
      _exit(st ? 0 : st.error().err);
    }
    auto rep = c->sockopt(get_request(84, 1));
    _exit(rep ? rep->reply.err : 102);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(Transport, PeerWithoutCapNetAdminGetsEperm) {
  NFJIT_REQUIRE_ROOT();
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  EXPECT_EQ(child_request_errno(d.socket(), /*drop_caps=*/false, false), 0);
  EXPECT_EQ(child_request_errno(d.socket(), /*drop_caps=*/true, false), EPERM);
  EXPECT_EQ(child_request_errno(d.socket(), /*drop_caps=*/true, /*status=*/true), EPERM);
  EXPECT_EQ(h.requests().size(), 1u);  // only the privileged peer's request reached the handler
}

TEST(Transport, PeerAsNobodyGetsEperm) {
  NFJIT_REQUIRE_ROOT();
  RecordingHandler h(echo_answer);
  DaemonHarness d(h);
  chmod(d.dir().c_str(), 0755);  // mkdtemp's 0700 would stop nobody before the daemon could
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(100);
    auto c = Client::connect(d.socket());
    if (!c) _exit(101);
    auto rep = c->sockopt(get_request(84, 1));
    _exit(rep ? rep->reply.err : 102);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), EPERM);
  EXPECT_TRUE(h.requests().empty());
}

}  // namespace
}  // namespace nfjit::test
