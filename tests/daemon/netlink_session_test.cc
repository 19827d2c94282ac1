// The real `nft`, `iptables-nft`, `iptables-nft-save/-restore` talking to a real nfjitd through the real
// shim, each run in fresh namespaces and compared with what the same commands print against the kernel's
// own nf_tables in another namespace.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "netns.h"
#include "privileged.h"

namespace nfjit::test {
namespace {

// nfjitd serving namespace `ns` on a private socket; stopped (SIGTERM) at the end of the test.
struct Daemon {
  explicit Daemon(const std::string& tag) : ns(tag) {
    char t[] = "/tmp/nfjit-nl-XXXXXX";
    dir = mkdtemp(t);
    chmod(dir.c_str(), 0755);  // as /run/nfjit: unprivileged callers reach the daemon and get its EPERM
    sock = dir + "/nfjitd.sock";
    ns.run_ok(std::string(NFJITD_PATH) + " --socket " + sock + " --state-dir " + dir + "/state --bpffs " + dir + "/bpf");
    std::ifstream pf(dir + "/state/nfjitd.pid");
    pf >> pid;
  }
  ~Daemon() {
    if (pid > 0 && kill(pid, SIGTERM) == 0) {
      for (int i = 0; i < 300 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  bool alive() const { return pid > 0 && kill(pid, 0) == 0; }
  // "env LD_PRELOAD=... NFJIT_SOCKET=... " for a command line.
  std::string shim() const {
    return std::string("env LD_PRELOAD=") + NFJIT_PRELOAD_PATH + " NFJIT_SOCKET=" + sock + " ";
  }
  // Runs `cmd` in the namespace through the shim; stdout only (stderr goes to *err when given).
  int run(const std::string& cmd, std::string* out, std::string* err = nullptr) const {
    std::string errfile = dir + "/stderr";
    int rc = ns.run(shim() + cmd + " 2>" + errfile, out);
    if (err) {
      std::ifstream in(errfile);
      std::stringstream ss;
      ss << in.rdbuf();
      *err = ss.str();
    }
    return rc;
  }
  std::string run_ok(const std::string& cmd) const {
    std::string out, err;
    EXPECT_EQ(run(cmd, &out, &err), 0) << cmd << ": " << err;
    return out;
  }
  Netns ns;
  std::string dir, sock;
  pid_t pid = 0;
};

std::string data(const std::string& name) { return std::string(NFT_TEST_DATA) + "/" + name; }

class NetlinkRuleset : public ::testing::TestWithParam<const char*> {};

// nft -f FILE then every listing form, against the kernel's listing of the same file.
TEST_P(NetlinkRuleset, ListingsMatchTheKernel) {
  NFJIT_REQUIRE_ROOT();
  Netns k("nlk");
  Daemon d("nln");
  std::string file = data(GetParam());
  k.run_ok("nft -f " + file);
  d.run_ok("nft -f " + file);
  for (const char* cmd : {"nft list ruleset", "nft -a list ruleset", "nft -j list ruleset"}) {
    std::string theirs = k.run_ok(cmd);
    std::string ours = d.run_ok(cmd);
    EXPECT_FALSE(ours.empty()) << cmd;
    EXPECT_EQ(ours, theirs) << cmd;
  }
  // Every table is enforced, as BPF or by the kernel's own nf_tables in nfjit's namespace, which holds
  // exactly the tables status calls kernel-held, each as the kernel in K lists it.
  std::string status = d.ns.run_ok(std::string(NFJIT_CLI_PATH) + " status --socket " + d.sock);
  std::string kernel_tables;
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("nf_tables ", 0) != 0) continue;
    std::string table = line.substr(10, line.find(':') - 10);  // "inet fw4"
    bool bpf = line.find(": BPF (") != std::string::npos, kernel = line.find(": kernel nf_tables (") != std::string::npos;
    EXPECT_TRUE(bpf != kernel) << line;
    if (kernel) {
      kernel_tables += "table " + table + "\n";
      EXPECT_EQ(d.ns.run_ok("nft list table " + table), k.run_ok("nft list table " + table)) << table;
    }
  }
  EXPECT_EQ(d.ns.run_ok("nft list tables"), kernel_tables) << status;
  EXPECT_NE(status.find("nf_tables "), std::string::npos) << status;
}

INSTANTIATE_TEST_SUITE_P(Files, NetlinkRuleset,
                         ::testing::Values("debian-default.nft", "fw4-like.nft", "firewalld-like.nft"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// Single commands, handles and errors, as the kernel answers them.
TEST(NetlinkSession, AddAndDeleteRulesLikeTheKernel) {
  NFJIT_REQUIRE_ROOT();
  Netns k("nlk");
  Daemon d("nln");
  const char* cmds[] = {
      "nft add table ip t",
      "nft add chain ip t c '{ type filter hook input priority 0; policy accept; }'",
      "nft add rule ip t c tcp dport 80 counter accept",
      "nft add rule ip t c ip saddr 198.18.0.0/15 drop",
      "nft insert rule ip t c udp dport 53 accept",
      "nft delete rule ip t c handle 3",
  };
  for (const char* c : cmds) {
    k.run_ok(c);
    d.run_ok(c);
  }
  EXPECT_EQ(d.run_ok("nft -a list ruleset"), k.run_ok("nft -a list ruleset"));
  // Errors: the same exit status and message (extended ack: the caret under the bad name).
  for (const char* bad : {"nft add rule ip t nochain accept", "nft delete rule ip t c handle 99",
                          "nft add chain ip nosuchtable c"}) {
    std::string kout, dout;
    int krc = k.run(std::string(bad) + " 2>&1", &kout);
    int drc = d.ns.run(d.shim() + bad + " 2>&1", &dout);
    EXPECT_EQ(drc, krc) << bad;
    EXPECT_EQ(dout, kout) << bad;
  }
  EXPECT_EQ(d.ns.run_ok("nft list ruleset"), "");
}

TEST(NetlinkSession, MonitorReceivesEvents) {
  NFJIT_REQUIRE_ROOT();
  Daemon d("nln");
  std::string events = d.dir + "/monitor.txt";
  // Bounded: the monitor ends by itself after 3 s.
  d.ns.run_ok("sh -c '" + d.shim() + "timeout 3 nft monitor > " + events + " 2>&1 &'");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  d.run_ok("nft add table inet mon");
  d.run_ok("nft add chain inet mon c");
  std::this_thread::sleep_for(std::chrono::milliseconds(2800));
  std::ifstream in(events);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("add table inet mon"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("add chain inet mon c"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("# new generation 3 by process"), std::string::npos) << ss.str();
}

TEST(NetlinkSession, IptablesNftLikeTheKernel) {
  NFJIT_REQUIRE_ROOT();
  Netns k("nlk");
  Daemon d("nln");
  const char* cmds[] = {
      "iptables-nft -A INPUT -s 198.18.0.1 -p tcp --dport 22 -j ACCEPT",
      "iptables-nft -A INPUT -i lo -j ACCEPT",
      "iptables-nft -N mychain",
      "iptables-nft -A mychain -d 198.18.0.9 -j DROP",
      "iptables-nft -I INPUT 1 -j mychain",
      "iptables-nft -P FORWARD DROP",
  };
  for (const char* c : cmds) {
    k.run_ok(c);
    // No "Extension tcp revision 0 not supported": nft_compat revision queries get the kernel's answer.
    std::string out, err;
    EXPECT_EQ(d.run(c, &out, &err), 0) << c;
    EXPECT_EQ(err, "") << c;
  }
  for (const char* c : {"iptables-nft -S", "iptables-nft -L -v -n -x", "nft list ruleset"})
    EXPECT_EQ(d.run_ok(c), k.run_ok(c)) << c;
  auto no_comments = [](std::string s) {
    std::string out, line;
    std::istringstream in(s);
    while (std::getline(in, line))
      if (line.rfind("#", 0) != 0) out += line + "\n";
    return out;
  };
  std::string saved = no_comments(d.run_ok("iptables-nft-save"));
  EXPECT_EQ(saved, no_comments(k.run_ok("iptables-nft-save")));
  EXPECT_NE(saved.find("-A mychain -d 198.18.0.9/32 -j DROP"), std::string::npos) << saved;
  // Restore (a flush and a new table in one batch) and read it back.
  std::string rules = d.dir + "/rules";
  std::ofstream(rules) << "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 198.18.0.2/32 -j DROP\nCOMMIT\n";
  d.run_ok("iptables-nft-restore " + rules);
  k.run_ok("iptables-nft-restore " + rules);
  EXPECT_EQ(d.run_ok("iptables-nft -S"), k.run_ok("iptables-nft -S"));
  EXPECT_EQ(d.ns.run_ok("nft list ruleset"), "");
}

// A batch several times larger than one seqpacket datagram (the shim sends it in fragments).
TEST(NetlinkSession, LargeBatch) {
  NFJIT_REQUIRE_ROOT();
  Netns k("nlk");
  Daemon d("nln");
  std::string file = d.dir + "/big.nft";
  {
    std::ofstream out(file);
    out << "table ip big {\n chain c {\n";
    for (int i = 0; i < 4000; ++i)
      out << "  ip saddr 198.18." << i / 250 << "." << i % 250 + 1 << " tcp dport " << 1000 + i << " accept\n";
    out << " }\n}\n";
  }
  ASSERT_GT(std::filesystem::file_size(file), 150000u);
  k.run_ok("nft -f " + file);
  d.run_ok("nft -f " + file);
  EXPECT_EQ(d.run_ok("nft -a list ruleset"), k.run_ok("nft -a list ruleset"));
}

TEST(NetlinkSession, UnprivilegedCallerGetsEperm) {
  NFJIT_REQUIRE_ROOT();
  Netns k("nlk");
  Daemon d("nln");
  std::string drop = "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all ";
  std::string kout, dout;
  int krc = k.run(drop + "nft list ruleset 2>&1", &kout);
  // setpriv runs inside env (the shim's LD_PRELOAD survives it).
  int drc = d.ns.run(d.shim() + drop + "nft list ruleset 2>&1", &dout);
  EXPECT_EQ(drc, krc);
  EXPECT_EQ(dout, kout);
  EXPECT_NE(dout.find("Operation not permitted"), std::string::npos) << dout;
}

TEST(NetlinkSession, GarbageDoesNotKillTheDaemon) {
  NFJIT_REQUIRE_ROOT();
  Daemon d("nln");
  std::string out, err;
  EXPECT_EQ(d.run(std::string(NETLINK_PROBE_PATH) + " garbage", &out, &err), 0) << out << err;
  EXPECT_EQ(d.run(std::string(NETLINK_PROBE_PATH) + " emsgsize", &out, &err), 0) << out << err;
  EXPECT_TRUE(d.alive());
  d.run_ok("nft add table ip still");
  EXPECT_EQ(d.run_ok("nft list tables"), "table ip still\n");
}

TEST(NetlinkSession, PortIdIsTheCallersPid) {
  NFJIT_REQUIRE_ROOT();
  Daemon d("nln");
  std::string out = d.run_ok(std::string(NETLINK_PROBE_PATH) + " portid");
  unsigned portid = 0;
  int pid = 0;
  auto at = out.find("portid ");
  ASSERT_NE(at, std::string::npos) << out;
  ASSERT_EQ(std::sscanf(out.c_str() + at, "portid %u pid %d", &portid, &pid), 2);
  EXPECT_EQ(portid, static_cast<unsigned>(pid));
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
}

// No daemon: the shim hands the socket to the kernel, so nobody is locked out of their firewall.
TEST(NetlinkSession, NoDaemonFallsThroughToTheKernel) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("nlnone");
  std::string shim = std::string("env LD_PRELOAD=") + NFJIT_PRELOAD_PATH + " NFJIT_SOCKET=/nonexistent/nfjitd.sock ";
  ns.run_ok(shim + "nft add table ip kern");
  EXPECT_EQ(ns.run_ok("nft list tables"), "table ip kern\n");  // the kernel has it
  EXPECT_EQ(ns.run_ok(shim + "nft list tables"), "table ip kern\n");
}

}  // namespace
}  // namespace nfjit::test
