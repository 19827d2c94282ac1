// nfjitd enforcing nf_tables rulesets: the real `nft` and `iptables-nft` through the real shim and a real
// nfjitd in namespace N, the plain binaries against the kernel's own nf_tables in namespace K, and
// byte-identical frames sent to both (from a sender namespace S over two veth pairs).
//
// - tables that lower run as BPF: the kernel's nf_tables in N stays empty, status names the attachment
//   points, and the per-rule counters listed through the shim equal the kernel's after every frame;
// - a table that does not lower (a nat chain) is enforced by the kernel's nf_tables in N: listings equal,
//   the kernel in N holds exactly that table, same verdicts and counters; it moves to BPF and back when
//   a change makes it lowerable or not, counters carried over;
// - --strict refuses such a batch (EOPNOTSUPP, nothing committed);
// - iptables-nft listings and saves equal the kernel's;
// - an element added to a set of a BPF table is a map update: the program in the slot stays the same.
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
#include "oracle.h"
#include "packet.h"
#include "privileged.h"

namespace nfjit::test {
namespace {

constexpr const char* kHostMac = "02:00:00:00:01:01";
constexpr const char* kSenderMac = "02:00:00:00:02:02";

// Counts what the tables under test let through to input priority 300 (loaded the same way in K and N;
// not 100: the kernel refuses a BPF hook at a priority another hook holds, and NAT's input hook is 100).
constexpr const char* kObserver = R"(table inet obs {
  chain observe {
    type filter hook input priority 300; policy accept;
    counter
  }
}
)";

std::string data(const std::string& f) { return std::string(NFT_TEST_DATA) + "/" + f; }

std::string write_tmp(const std::string& text) {
  char path[] = "/tmp/nfjit-nftd-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

// S sends to K (veth vk) and N (veth vn); K and N are hosts 198.18.0.1 / 2001:db8::1.
struct Topology {
  Netns s{"nds"}, k{"ndk"}, n{"ndn"};
  Topology() {
    s.run_ok("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    for (auto [host, sdev] : {std::pair{&k, "vk"}, std::pair{&n, "vn"}}) {
      s.run_ok(std::string("ip link add ") + sdev + " address " + kSenderMac + " type veth peer name p" + sdev +
               " address " + kHostMac);
      s.run_ok(std::string("ip link set p") + sdev + " netns " + host->name());
      host->run_ok(std::string("ip link set p") + sdev + " name veth0");
      host->run_ok("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 "
                   "net.ipv6.conf.veth0.accept_dad=0 net.ipv4.conf.all.rp_filter=0 "
                   "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.veth0.rp_filter=0");
      host->run_ok("ip addr add 198.18.0.1/24 dev veth0");
      host->run_ok("ip -6 addr add 2001:db8::1/64 dev veth0 nodad");
      host->run_ok("ip link set veth0 up");
      host->run_ok("ip link set lo up");
      host->run_ok(std::string("ip neigh replace 198.18.0.2 lladdr ") + kSenderMac + " dev veth0 nud permanent");
      host->run_ok(std::string("ip -6 neigh replace 2001:db8::2 lladdr ") + kSenderMac + " dev veth0 nud permanent");
      s.run_ok(std::string("ip link set ") + sdev + " up");
    }
    EnterNetns in(s);
    to_k = std::make_unique<Injector>("vk");
    to_n = std::make_unique<Injector>("vn");
  }
  // The same frame to both hosts.
  void send(const PacketSpec& spec) {
    auto frame = build_frame(spec, parse_mac(kHostMac), parse_mac(kSenderMac));
    ASSERT_TRUE(to_k->send(frame));
    ASSERT_TRUE(to_n->send(frame));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  std::unique_ptr<Injector> to_k, to_n;
};

// nfjitd serving N on a private socket; SIGTERM at the end.
struct Daemon {
  Daemon(const Netns& ns, bool strict = false) : ns(ns) {
    char t[] = "/tmp/nfjit-nftd-d-XXXXXX";
    dir = mkdtemp(t);
    chmod(dir.c_str(), 0755);
    sock = dir + "/nfjitd.sock";
    ns.run_ok(std::string(NFJITD_PATH) + " --socket " + sock + " --state-dir " + dir + "/state --bpffs " + dir +
              "/bpf" + (strict ? " --strict" : ""));
    std::ifstream(dir + "/state/nfjitd.pid") >> pid;
  }
  ~Daemon() {
    if (pid > 0 && kill(pid, SIGTERM) == 0)
      for (int i = 0; i < 300 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string shim() const { return std::string("env LD_PRELOAD=") + NFJIT_PRELOAD_PATH + " NFJIT_SOCKET=" + sock + " "; }
  std::string run_ok(const std::string& cmd) const { return ns.run_ok(shim() + cmd); }
  int run(const std::string& cmd, std::string* out) const { return ns.run(shim() + cmd + " 2>&1", out); }
  std::string status() const { return ns.run_ok(std::string(NFJIT_CLI_PATH) + " status --socket " + sock); }
  const Netns& ns;
  std::string dir, sock;
  pid_t pid = 0;
};

PacketSpec v4(uint8_t proto, uint16_t dport) {
  PacketSpec p;
  p.family = 4;
  p.proto = proto;
  p.dport = dport;
  return p;
}
PacketSpec v6(uint8_t proto, uint16_t dport) {
  auto p = v4(proto, dport);
  p.family = 6;
  p.src = "2001:db8::2";
  p.dst = "2001:db8::1";
  return p;
}

std::vector<std::pair<std::string, PacketSpec>> corpus() {
  std::vector<std::pair<std::string, PacketSpec>> c;
  c.push_back({"udp -> 9", v4(17, 9)});
  c.push_back({"tcp syn -> 22", v4(6, 22)});
  c.push_back({"tcp syn -> 80", v4(6, 80)});
  auto echo = v4(1, 0);
  echo.icmp_type = 8;
  c.push_back({"icmp echo-request", echo});
  c.push_back({"udp6 -> 53", v6(17, 53)});
  c.push_back({"tcp6 syn -> 22", v6(6, 22)});
  auto echo6 = v6(58, 0);
  echo6.icmp_type = 128;
  c.push_back({"icmpv6 echo-request", echo6});
  auto ns6 = v6(58, 0);
  ns6.icmp_type = 135;
  c.push_back({"icmpv6 nd-neighbor-solicit", ns6});
  uint16_t sport = 42000;
  for (auto& [_, p] : c)
    if (p.proto == 6 || p.proto == 17) p.sport = sport++;
  return c;
}

// The kernel's nf_tables in N without the runtime's own `inet nfjit_conntrack` table (it keeps
// conntrack running while a BPF program reads ct state).
std::string kernel_tables(const Netns& n) {
  std::string out = n.run_ok("nft list ruleset"), drop = "table inet nfjit_conntrack {";
  auto at = out.find(drop);
  if (at == std::string::npos) return out;
  auto end = out.find("\n}\n", at);
  return out.erase(at, end == std::string::npos ? std::string::npos : end + 3 - at);
}

// `nft list ruleset` through the shim in N and plain in K, compared after every frame of the corpus.
void compare_under_traffic(Topology& topo, const Daemon& d) {
  int moved = 0;
  std::string k0 = to_string(parse_nft_counters(topo.k.run_ok("nft list ruleset")));
  for (const auto& [what, spec] : corpus()) {
    topo.send(spec);
    std::string kl = topo.k.run_ok("nft list ruleset"), nl = d.run_ok("nft list ruleset");
    std::string kc = to_string(parse_nft_counters(kl));
    EXPECT_EQ(kc, to_string(parse_nft_counters(nl))) << "counters after " << what << " (" << describe(spec)
                                                     << "): kernel (left) vs nfjit (right)";
    if (kc != k0) ++moved;
    k0 = kc;
  }
  EXPECT_GT(moved, 2) << "the corpus does not exercise this ruleset";
}

class NftDaemonLowered : public ::testing::TestWithParam<std::string> {};

TEST_P(NftDaemonLowered, RunsAsBpfWithTheKernelsCounters) {
  NFJIT_REQUIRE_ROOT();
  Topology topo;
  Daemon d(topo.n);
  std::string file = data(GetParam()), obs = write_tmp(kObserver);
  topo.k.run_ok("nft -f " + file);
  topo.k.run_ok("nft -f " + obs);
  d.run_ok("nft -f " + file);
  d.run_ok("nft -f " + obs);
  unlink(obs.c_str());
  EXPECT_EQ(d.run_ok("nft list ruleset"), topo.k.run_ok("nft list ruleset"));
  // Nothing in the kernel's nf_tables of N: every table runs as BPF, at netfilter hooks.
  EXPECT_EQ(kernel_tables(topo.n), "");
  std::string status = d.status();
  EXPECT_NE(status.find("nf_tables inet obs: BPF (nf-"), std::string::npos) << status;
  EXPECT_EQ(status.find(": kernel nf_tables ("), std::string::npos) << status;
  compare_under_traffic(topo, d);
}

INSTANTIATE_TEST_SUITE_P(Corpus, NftDaemonLowered,
                         ::testing::Values("nft_debian_old_default_ip_ip6_tables.nft",
                                           "nft_debian_example_workstation.nft"),
                         [](const auto& info) {
                           std::string n = info.param.substr(4, info.param.find('.') - 4);
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

constexpr const char* kNatRuleset = R"(table ip t {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "veth0" masquerade
  }
  chain in {
    type filter hook input priority 0; policy accept;
    udp dport 9 counter drop
    tcp dport 22 counter accept
    ip protocol icmp counter
  }
}
)";

TEST(NftDaemon, UnlowerableTableRunsInTheKernelAndMoves) {
  NFJIT_REQUIRE_ROOT();
  Topology topo;
  Daemon d(topo.n);
  std::string file = write_tmp(kNatRuleset), obs = write_tmp(kObserver);
  topo.k.run_ok("nft -f " + file);
  topo.k.run_ok("nft -f " + obs);
  d.run_ok("nft -f " + file);
  d.run_ok("nft -f " + obs);
  unlink(file.c_str());
  unlink(obs.c_str());
  // The kernel's nf_tables in N holds exactly the table nfjit cannot lower, as K's kernel holds it.
  EXPECT_EQ(kernel_tables(topo.n), topo.k.run_ok("nft list table ip t"));
  std::string status = d.status();
  EXPECT_NE(status.find("nf_tables ip t: kernel nf_tables ("), std::string::npos) << status;
  EXPECT_NE(status.find("nat"), std::string::npos) << status;
  EXPECT_NE(status.find("nf_tables inet obs: BPF (nf-"), std::string::npos) << status;
  compare_under_traffic(topo, d);
  EXPECT_EQ(d.run_ok("nft -a list ruleset"), topo.k.run_ok("nft -a list ruleset"));

  // A change to the kernel-held table (one kernel batch), then one that makes it lowerable (to BPF,
  // counters carried over), then one that does not (back to the kernel).
  const char* steps[] = {"nft add rule ip t in udp dport 53 counter accept", "nft delete chain ip t post",
                         "nft add chain ip t post '{ type nat hook postrouting priority srcnat; }'"};
  const char* where[] = {": kernel nf_tables (", ": BPF (nf-", ": kernel nf_tables ("};
  for (int i = 0; i < 3; ++i) {
    topo.k.run_ok(steps[i]);
    d.run_ok(steps[i]);
    status = d.status();
    EXPECT_NE(status.find(std::string("nf_tables ip t") + where[i]), std::string::npos) << steps[i] << "\n" << status;
    EXPECT_EQ(kernel_tables(topo.n), i == 1 ? "" : topo.k.run_ok("nft list table ip t")) << steps[i];
    EXPECT_EQ(d.run_ok("nft list ruleset"), topo.k.run_ok("nft list ruleset")) << steps[i];
    compare_under_traffic(topo, d);
  }
  d.run_ok("nft delete table ip t");
  EXPECT_EQ(kernel_tables(topo.n), "");
}

TEST(NftDaemon, StrictRefusesAnUnlowerableBatch) {
  NFJIT_REQUIRE_ROOT();
  Netns n("ndn");
  Daemon d(n, /*strict=*/true);
  std::string file = write_tmp(kNatRuleset);
  std::string out;
  EXPECT_NE(d.run("nft -f " + file, &out), 0);
  unlink(file.c_str());
  EXPECT_NE(out.find("Operation not supported"), std::string::npos) << out;
  // Nothing committed, nothing in the kernel.
  EXPECT_EQ(d.run_ok("nft list ruleset"), "");
  EXPECT_EQ(kernel_tables(n), "");
  // A lowerable table is accepted.
  d.run_ok("nft add table ip ok");
  d.run_ok("nft add chain ip ok c '{ type filter hook input priority 0; }'");
  d.run_ok("nft add rule ip ok c udp dport 9 counter drop");
  EXPECT_NE(d.status().find("nf_tables ip ok: BPF (nf-"), std::string::npos) << d.status();
}

std::string no_comments(const std::string& s) {
  std::string out, line;
  std::istringstream in(s);
  while (std::getline(in, line))
    if (line.rfind("#", 0) != 0) out += line + "\n";
  return out;
}

TEST(NftDaemon, IptablesNftCountersLikeTheKernel) {
  NFJIT_REQUIRE_ROOT();
  Topology topo;
  Daemon d(topo.n);
  for (const char* c : {"iptables-nft -A INPUT -p udp --dport 9 -j DROP", "iptables-nft -A INPUT -p tcp --dport 22 -j ACCEPT",
                        "iptables-nft -N mine", "iptables-nft -A mine -p icmp -j ACCEPT", "iptables-nft -A INPUT -j mine"}) {
    topo.k.run_ok(c);
    std::string out;
    EXPECT_EQ(d.run(c, &out), 0) << c;
    EXPECT_EQ(out, "") << c;  // no "Warning: Extension ... revision 0 not supported"
  }
  for (const auto& [what, spec] : corpus()) topo.send(spec);
  for (const char* c : {"iptables-nft -L -v -x -n", "iptables-nft -S", "nft list ruleset"})
    EXPECT_EQ(d.run_ok(c), topo.k.run_ok(c)) << c;
  EXPECT_EQ(no_comments(d.run_ok("iptables-nft-save -c")), no_comments(topo.k.run_ok("iptables-nft-save -c")));
  std::string status = d.status();
  EXPECT_NE(status.find("nf_tables ip filter: "), std::string::npos) << status;
}

// The programs in the dispatcher slots of every attachment point of `key` (bpftool through the daemon's
// mount namespace, where its private bpffs is).
std::string slot_programs(const Daemon& d, const std::string& key) {
  std::string root = "/proc/" + std::to_string(d.pid) + "/root" + d.dir + "/bpf/" + key;
  std::string out;
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    std::string dump;
    EXPECT_EQ(d.ns.run("bpftool map dump pinned " + e.path().string() + "/progs", &dump), 0);
    out += e.path().filename().string() + ": " + dump;
  }
  return out;
}

TEST(NftDaemon, SetElementsUpdateLiveMaps) {
  NFJIT_REQUIRE_ROOT();
  Topology topo;
  Daemon d(topo.n);
  const char* cmds[] = {
      "nft add table ip t",
      "nft add set ip t blocked '{ type ipv4_addr; }'",
      "nft add chain ip t in '{ type filter hook input priority 0; }'",
      "nft add rule ip t in ip saddr @blocked counter drop",
      "nft add rule ip t in counter",
  };
  for (const char* c : cmds) {
    topo.k.run_ok(c);
    d.run_ok(c);
  }
  std::string progs = slot_programs(d, "nft-ip-t");
  ASSERT_NE(progs.find("value"), std::string::npos) << progs;
  compare_under_traffic(topo, d);
  for (const char* c : {"nft add element ip t blocked '{ 198.18.0.2, 198.18.0.77 }'",
                        "nft delete element ip t blocked '{ 198.18.0.77 }'"}) {
    topo.k.run_ok(c);
    d.run_ok(c);
    EXPECT_EQ(d.run_ok("nft list ruleset"), topo.k.run_ok("nft list ruleset")) << c;
    compare_under_traffic(topo, d);
    EXPECT_EQ(slot_programs(d, "nft-ip-t"), progs) << c << ": the table was reloaded";
  }
  topo.k.run_ok("nft delete element ip t blocked '{ 198.18.0.2 }'");
  d.run_ok("nft delete element ip t blocked '{ 198.18.0.2 }'");
  compare_under_traffic(topo, d);
  // A rule change is a reload: the slot gets another program.
  d.run_ok("nft add rule ip t in udp dport 7 drop");
  EXPECT_NE(slot_programs(d, "nft-ip-t"), progs);
}

}  // namespace
}  // namespace nfjit::test
