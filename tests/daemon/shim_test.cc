// The preload shim in front of the REAL iptables-legacy / ip6tables-legacy / -save / -restore, inside
// fresh network namespaces: which calls reach the daemon, how its answers surface to the user, the
// SET_REPLACE old-counters copy-back, and fall-through to the kernel when no daemon serves.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
// after netinet/in.h
#include <linux/netfilter_ipv4/ip_tables.h>

#include <cstring>

#include <algorithm>
#include <memory>

#include "daemon/kernel_passthrough_handler.h"
#include "daemon_harness.h"
#include "netns.h"
#include "privileged.h"

namespace nfjit::test {
namespace {

using Names = std::vector<std::string>;

std::string shim_env(const std::string& socket) {
  return std::string("env LD_PRELOAD=") + NFJIT_PRELOAD_PATH + " NFJIT_SOCKET=" + socket + " ";
}

// iptables gives up after GET_INFO fails; it may retry once after running modprobe (iptables.c calls
// xtables_load_ko and iptc_init again), exactly as it would against the kernel.
bool only_get_info(const std::vector<SockoptRequest>& rs) {
  Names names = call_names(rs);
  return (names.size() == 1 || names.size() == 2) &&
         std::ranges::all_of(names, [](const std::string& n) { return n == "SOL_IP GET_INFO"; });
}

// Records every call, then lets the kernel of the namespace it was created in answer it.
struct RecordingPassthrough {
  daemon::KernelPassthroughHandler kernel;
  RecordingHandler rec{[this](const SockoptRequest& r) { return kernel.sockopt(r); }};
};

TEST(Shim, DaemonErrnoReachesTheUserAsIptablesWouldPrintIt) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-errno");
  std::unique_ptr<DaemonHarness> d;
  RecordingHandler eperm(answer_errno(EPERM));
  {
    EnterNetns in(ns);
    d = std::make_unique<DaemonHarness>(eperm);
  }
  std::string out;
  EXPECT_NE(ns.run(shim_env(d->socket()) + "iptables-legacy -L -n", &out), 0);
  EXPECT_NE(out.find("Permission denied (you must be root)"), std::string::npos) << out;
  EXPECT_TRUE(only_get_info(eperm.requests())) << testing::PrintToString(call_names(eperm.requests()));
  d.reset();

  RecordingHandler noproto(answer_errno(ENOPROTOOPT));
  {
    EnterNetns in(ns);
    d = std::make_unique<DaemonHarness>(noproto);
  }
  EXPECT_NE(ns.run(shim_env(d->socket()) + "iptables-legacy -A INPUT -j ACCEPT", &out), 0);
  EXPECT_NE(out.find("iptables who? (do you need to insmod?)"), std::string::npos) << out;
  EXPECT_TRUE(only_get_info(noproto.requests())) << testing::PrintToString(call_names(noproto.requests()));
  // Nothing reached the namespace's kernel.
  EXPECT_EQ(ns.run_ok("cat /proc/net/ip_tables_names"), "");
}

TEST(Shim, ExactlyTheXtablesCallsReachTheDaemonAndTheResultIsTheKernels) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-calls");
  std::unique_ptr<RecordingPassthrough> h;
  std::unique_ptr<DaemonHarness> d;
  {
    EnterNetns in(ns);
    h = std::make_unique<RecordingPassthrough>();
    d = std::make_unique<DaemonHarness>(h->rec);
  }
  std::string env = shim_env(d->socket());
  ns.run_ok(env + "iptables-legacy -A INPUT -m comment --comment via-nfjitd -j ACCEPT");
  EXPECT_EQ(call_names(h->rec.requests()),
            (Names{"SOL_IP GET_REVISION_MATCH", "SOL_IP GET_INFO", "SOL_IP GET_ENTRIES", "SOL_IP SET_REPLACE",
                   "SOL_IP SET_ADD_COUNTERS"}));
  // Seen from the namespace without the shim: the rule is there.
  EXPECT_NE(ns.run_ok("iptables-legacy -S INPUT").find("-A INPUT -m comment --comment via-nfjitd -j ACCEPT"),
            std::string::npos);

  size_t before = h->rec.requests().size();
  ns.run_ok(env + "ip6tables-legacy -A INPUT -s 2001:db8::1 -j DROP");
  auto v6 = h->rec.requests();
  v6.erase(v6.begin(), v6.begin() + static_cast<long>(before));
  EXPECT_EQ(call_names(v6), (Names{"SOL_IPV6 GET_INFO", "SOL_IPV6 GET_ENTRIES", "SOL_IPV6 SET_REPLACE",
                                   "SOL_IPV6 SET_ADD_COUNTERS"}));
  EXPECT_NE(ns.run_ok("ip6tables-legacy -S INPUT").find("-A INPUT -s 2001:db8::1/128 -j DROP"), std::string::npos);

  // -save lists through the daemon what plain -save lists from the kernel; -restore goes through too.
  EXPECT_EQ(ns.run_ok(env + "iptables-legacy-save | grep -v '^#'"), ns.run_ok("iptables-legacy-save | grep -v '^#'"));
  before = h->rec.requests().size();
  ns.run_ok("sh -c \"printf '*filter\\n-A FORWARD -j DROP\\nCOMMIT\\n' | " + env + "iptables-legacy-restore -n\"");
  EXPECT_GT(h->rec.requests().size(), before);
  EXPECT_NE(ns.run_ok("iptables-legacy -S FORWARD").find("-A FORWARD -j DROP"), std::string::npos);
}

TEST(Shim, OldCountersSurviveRewritesThroughTheDaemon) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-counters");
  std::unique_ptr<RecordingPassthrough> h;
  std::unique_ptr<DaemonHarness> d;
  {
    EnterNetns in(ns);
    h = std::make_unique<RecordingPassthrough>();
    d = std::make_unique<DaemonHarness>(h->rec);
  }
  std::string env = shim_env(d->socket());
  ns.run_ok(env + "iptables-legacy -A INPUT -c 5 500 -j ACCEPT");
  // libiptc re-adds the counters the kernel returned from SET_REPLACE: if the shim did not copy them
  // into iptables' buffer, this append would zero the first rule's counters.
  ns.run_ok(env + "iptables-legacy -A INPUT -j DROP");
  std::string listing = ns.run_ok("iptables-legacy -L INPUT -v -x -n");
  EXPECT_NE(listing.find("       5      500 ACCEPT"), std::string::npos) << listing;
}

TEST(Shim, SetReplaceCopiesOldCountersToTheCallersPointer) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-copyback");
  std::vector<uint8_t> old(3 * 16);
  for (size_t i = 0; i < old.size(); ++i) old[i] = static_cast<uint8_t>(i * 7 + 1);
  RecordingHandler h([&](const SockoptRequest&) {
    SockoptReply r;
    r.old_counters = old;
    return r;
  });
  std::unique_ptr<DaemonHarness> d;
  {
    EnterNetns in(ns);
    d = std::make_unique<DaemonHarness>(h);
  }
  std::string expect_hex;
  char buf[3];
  for (uint8_t b : old) snprintf(buf, sizeof(buf), "%02x", b), expect_hex += buf;
  std::string env = shim_env(d->socket());
  EXPECT_EQ(ns.run_ok(env + SOCKOPT_PROBE_PATH + " replace 3"), "rc=0 errno=0 counters=" + expect_hex + "\n");
  // num_counters bounds the copy: a caller announcing 2 gets 2 and its buffer is not overrun.
  EXPECT_EQ(ns.run_ok(env + SOCKOPT_PROBE_PATH + " replace 2"),
            "rc=0 errno=0 counters=" + expect_hex.substr(0, 64) + "\n");
  // An unmapped counters pointer: EFAULT, as from the kernel, and no crash.
  EXPECT_EQ(ns.run_ok(env + SOCKOPT_PROBE_PATH + " replace-badptr 3"),
            "rc=-1 errno=" + std::to_string(EFAULT) + " counters=" + std::string(96, 'e') + "\n");
  EXPECT_EQ(h.requests().size(), 3u);
}

TEST(Shim, OtherCallsNeverReachTheDaemon) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-others");
  RecordingHandler h(answer_errno(EPERM));
  std::unique_ptr<DaemonHarness> d;
  {
    EnterNetns in(ns);
    d = std::make_unique<DaemonHarness>(h);
  }
  std::string with = ns.run_ok(shim_env(d->socket()) + SOCKOPT_PROBE_PATH + " others");
  std::string without = ns.run_ok(std::string(SOCKOPT_PROBE_PATH) + " others");
  EXPECT_EQ(with, without);  // the kernel's answers, untouched
  EXPECT_NE(with.find("raw SO_RCVBUF rc=0"), std::string::npos) << with;
  EXPECT_NE(with.find("bad fd get 64 rc=-1 errno=" + std::to_string(EBADF)), std::string::npos) << with;
  EXPECT_TRUE(h.requests().empty());
}

TEST(Shim, WithoutADaemonCallsFallThroughToTheKernel) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-nodaemon");
  ns.run_ok(shim_env("/nonexistent/nfjitd.sock") + "iptables-legacy -A INPUT -s 192.0.2.1 -j DROP");
  EXPECT_NE(ns.run_ok("iptables-legacy -S INPUT").find("-A INPUT -s 192.0.2.1/32 -j DROP"), std::string::npos);
  // A socket file nobody listens on (a crashed daemon) is no daemon either.
  std::string stale = "/tmp/nfjit-stale-" + std::to_string(getpid()) + ".sock";
  sh_ok("python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.bind('" + stale + "')\"");
  ns.run_ok(shim_env(stale) + "iptables-legacy -A INPUT -s 192.0.2.2 -j DROP");
  EXPECT_NE(ns.run_ok("iptables-legacy -S INPUT").find("-A INPUT -s 192.0.2.2/32 -j DROP"), std::string::npos);
  unlink(stale.c_str());
}

TEST(Shim, PeerInAnotherNamespaceIsSentToItsOwnKernel) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-otherns");
  RecordingHandler h(answer_errno(EPERM));
  DaemonHarness d(h);  // serves the test's own namespace, not ns
  ns.run_ok(shim_env(d.socket()) + "iptables-legacy -A INPUT -s 192.0.2.3 -j DROP");
  EXPECT_NE(ns.run_ok("iptables-legacy -S INPUT").find("-A INPUT -s 192.0.2.3/32 -j DROP"), std::string::npos);
  EXPECT_TRUE(h.requests().empty());
}

TEST(Shim, TheDaemonsOwnProcessIsNeverForwardedToItself) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("shim-self");
  ns.run_ok("iptables-legacy -A INPUT -j ACCEPT");  // the kernel's filter table: 5 entries
  RecordingHandler h(answer_errno(EPERM));
  // Serves the namespace this process lives in, so only the self-check can keep the call from it.
  auto d = std::make_unique<DaemonHarness>(h);
  // The shim loaded into the daemon's own process (as /etc/ld.so.preload would do).
  void* lib = dlopen(NFJIT_PRELOAD_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto shim_getsockopt = reinterpret_cast<int (*)(int, int, int, void*, socklen_t*)>(dlsym(lib, "getsockopt"));
  ASSERT_NE(shim_getsockopt, nullptr);
  setenv("NFJIT_SOCKET", d->socket().c_str(), 1);
  int fd;
  {
    EnterNetns in(ns);
    fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  }
  ASSERT_GE(fd, 0);
  ipt_getinfo info{};
  std::strcpy(info.name, "filter");
  socklen_t len = sizeof(info);
  EXPECT_EQ(shim_getsockopt(fd, SOL_IP, IPT_SO_GET_INFO, &info, &len), 0) << strerror(errno);
  EXPECT_EQ(info.num_entries, 5u);
  EXPECT_TRUE(h.requests().empty());
  close(fd);
  unsetenv("NFJIT_SOCKET");
  dlclose(lib);
}

}  // namespace
}  // namespace nfjit::test
