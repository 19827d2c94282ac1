// A 100,000-element set through the real `nft` and the preload shim into a real nfjitd (namespace a of
// a veth pair), as a user would load it: `nft list set` lists exactly the elements the kernel's
// nf_tables lists for the same file (namespace K), the table runs as BPF and its elements filter
// packets sent from namespace b, one element added later filters too (a live map update), and a batch
// that fails half-way through leaves the set, the listing and the filtering as they were.
// (How fast this is: bench/nft_scale.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "netns.h"
#include "packet.h"
#include "privileged.h"

namespace nfjit::test {
namespace {

constexpr int kElems = 100000;

// Element i of the set: 198.18.1.0 + i (198.18.0.0/15; the pair's own 198.18.0.x stay outside it).
std::string elem(int i) {
  uint32_t a = (198u << 24) | (18u << 16) | (1u << 8);
  a += static_cast<uint32_t>(i);
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
         "." + std::to_string(a & 255);
}

std::string write_tmp(const std::string& text) {
  char path[] = "/tmp/nfjit-nftscale-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

std::string ruleset() {
  std::ostringstream f;
  f << "table ip t {\n  set s {\n    type ipv4_addr; size " << kElems + 100 << ";\n    elements = { ";
  for (int i = 0; i < kElems; ++i) f << (i ? ", " : "") << elem(i);
  f << " }\n  }\n  chain in {\n    type filter hook input priority 0; policy accept;\n"
    << "    ip saddr @s counter drop\n    ip saddr 198.18.0.0/15 counter\n  }\n}\n";
  return f.str();
}

// The addresses a listing names, sorted (the kernel lists a hash set in hash order, nfjit in insertion
// order: the same elements either way).
std::vector<std::string> addresses(const std::string& listing) {
  std::vector<std::string> out;
  static const std::regex ip(R"(\b\d+\.\d+\.\d+\.\d+\b)");
  for (std::sregex_iterator it(listing.begin(), listing.end(), ip), end; it != end; ++it) out.push_back(it->str());
  std::sort(out.begin(), out.end());
  return out;
}

// The two counters of chain `in`: packets dropped by the set rule, packets counted by the second rule.
std::pair<uint64_t, uint64_t> counters(const std::string& listing) {
  static const std::regex ctr(R"(counter packets (\d+) bytes \d+)");
  std::vector<uint64_t> v;
  for (std::sregex_iterator it(listing.begin(), listing.end(), ctr), end; it != end; ++it)
    v.push_back(std::stoull((*it)[1].str()));
  EXPECT_EQ(v.size(), 2u) << listing;
  return v.size() == 2 ? std::pair{v[0], v[1]} : std::pair<uint64_t, uint64_t>{0, 0};
}

struct Daemon {
  explicit Daemon(const Netns& ns) : ns(ns) {
    char t[] = "/tmp/nfjit-nftscale-d-XXXXXX";
    dir = mkdtemp(t);
    chmod(dir.c_str(), 0755);
    sock = dir + "/nfjitd.sock";
    ns.run_ok(std::string(NFJITD_PATH) + " --socket " + sock + " --state-dir " + dir + "/state --bpffs " + dir + "/bpf");
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
  const Netns& ns;
  std::string dir, sock;
  pid_t pid = 0;
};

TEST(NftDaemonScale, HundredThousandElementSetListsAndFilters) {
  NFJIT_REQUIRE_ROOT();
  VethPair pair("nsc");
  Netns k("nsck");
  pair.a.run_ok("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.veth0.rp_filter=0");
  Daemon d(pair.a);
  std::string file = write_tmp(ruleset());
  k.run_ok("nft -f " + file);
  d.run_ok("nft -f " + file);
  std::filesystem::remove(file);

  std::string kl = k.run_ok("nft list set ip t s"), nl = d.run_ok("nft list set ip t s");
  auto ka = addresses(kl), na = addresses(nl);
  EXPECT_EQ(na.size(), static_cast<size_t>(kElems));
  EXPECT_TRUE(na == ka) << "nfjit lists other elements than the kernel";
  std::string status = pair.a.run_ok(std::string(NFJIT_CLI_PATH) + " status --socket " + d.sock);
  EXPECT_NE(status.find("nf_tables ip t: BPF"), std::string::npos) << status;

  std::string amac;
  pair.a.run("cat /sys/class/net/veth0/address", &amac);
  std::string bmac;
  pair.b.run("cat /sys/class/net/veth0/address", &bmac);
  EnterNetns in(pair.b);
  Injector inj("veth0");
  auto send_from = [&](const std::string& src) {
    PacketSpec p;
    p.src = src;
    p.dport = 9;
    p.sport = 40000;
    ASSERT_TRUE(inj.send(build_frame(p, parse_mac(amac), parse_mac(bmac))));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  auto now = [&] { return counters(d.run_ok("nft list chain ip t in")); };
  // Elements at both ends and in the middle are dropped; an address outside the set is not.
  for (int i : {0, 1, kElems / 2, kElems - 1}) send_from(elem(i));
  send_from(elem(kElems));
  send_from("198.18.0.2");
  EXPECT_EQ(now(), (std::pair<uint64_t, uint64_t>(4, 2)));

  // One element more: listed, and it filters.
  d.run_ok("nft add element ip t s '{ " + elem(kElems) + " }'");
  send_from(elem(kElems));
  EXPECT_EQ(now(), (std::pair<uint64_t, uint64_t>(5, 2)));

  // A batch that deletes 1000 elements and adds one, then fails (`create` of an element that exists:
  // EEXIST, found by the kernel / nfjitd, not by nft): nft reports the kernel's error and nothing
  // changed, neither the listing nor the filtering.
  k.run_ok("nft add element ip t s '{ " + elem(kElems) + " }'");
  std::ostringstream bad;
  bad << "delete element ip t s { ";
  for (int i = 0; i < 1000; ++i) bad << (i ? ", " : "") << elem(i);
  bad << " }\nadd element ip t s { " << elem(kElems + 1) << " }\ncreate element ip t s { " << elem(5000) << " }\n";
  std::string badfile = write_tmp(bad.str());
  std::string kerr, err;
  EXPECT_NE(k.run("nft -f " + badfile + " 2>&1", &kerr), 0);
  EXPECT_NE(d.run("nft -f " + badfile, &err), 0);
  std::filesystem::remove(badfile);
  EXPECT_NE(err.find("File exists"), std::string::npos) << err;
  EXPECT_EQ(err, kerr);
  auto after = addresses(d.run_ok("nft list set ip t s"));
  EXPECT_EQ(after.size(), static_cast<size_t>(kElems + 1));
  EXPECT_TRUE(after == addresses(k.run_ok("nft list set ip t s"))) << "the failed batch changed the set";
  send_from(elem(0));
  send_from(elem(kElems + 1));
  EXPECT_EQ(now(), (std::pair<uint64_t, uint64_t>(6, 3)));
}

}  // namespace
}  // namespace nfjit::test
