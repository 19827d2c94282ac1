// One-rule changes through the real nfjitd and the unmodified iptables-legacy (through `nfjit exec`):
// a change in INPUT leaves the programs of FORWARD and OUTPUT in force (`nfjit status` shows their
// program ids unchanged), and after -A, -I, -R and -D every rule that stayed shows exactly the packets
// it counted before, the new rule 0, and counting goes on.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "../e2e/iptables_support.h"
#include "oracle.h"
#include "privileged.h"

namespace nfjit::e2e {
namespace {

// "nf-ipv4-input-p0" -> program id, from `nfjit status` ("... BPF at nf-ipv4-input-p0 (prog 42) ...").
std::map<std::string, uint32_t> program_ids(const Nfjitd& d) {
  std::map<std::string, uint32_t> out;
  std::string st = d.status();
  std::regex re("(nf-ipv4-[a-z]+-p-?[0-9]+) \\(prog ([0-9]+)\\)");
  for (std::sregex_iterator it(st.begin(), st.end(), re), end; it != end; ++it)
    out[(*it)[1]] = static_cast<uint32_t>(std::stoul((*it)[2]));
  return out;
}

// Packets per rule of INPUT, in order, then the policy.
std::vector<uint64_t> input_packets(const test::Netns& ns, const Nfjitd& d) {
  auto t = test::parse_iptables_save_counters(ns.run_ok(d.shim() + "iptables-legacy-save -c -t filter"), "filter");
  std::vector<uint64_t> out;
  for (const auto& r : t["INPUT"].rules) out.push_back(r.packets);
  return out;
}

void send_udp(const test::Netns& from, int port, int count) {
  from.run_ok("python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
              "[s.sendto(b'x'*32, ('198.18.0.1', " + std::to_string(port) + ")) for _ in range(" +
              std::to_string(count) + ")]\"");
}

TEST(XtUpdate, OneRuleChangesKeepOtherProgramsAndExactCounters) {
  NFJIT_REQUIRE_ROOT();
  test::VethPair p("xtupd");
  Nfjitd d(p.a);
  d.start();
  const std::string ipt = d.shim() + "iptables-legacy ";
  p.a.run_ok(ipt + "-A INPUT -p udp --dport 7001 -j ACCEPT");
  p.a.run_ok(ipt + "-A INPUT -p udp --dport 7002 -j DROP");
  p.a.run_ok(ipt + "-A FORWARD -p udp --dport 7003 -j DROP");
  p.a.run_ok(ipt + "-A OUTPUT -p udp --dport 7004 -j DROP");
  send_udp(p.b, 7001, 3);
  send_udp(p.b, 7002, 5);
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{3, 5}));
  auto ids = program_ids(d);
  ASSERT_EQ(ids.size(), 3u) << d.status();

  // -A in INPUT: only INPUT's program is replaced; every old counter stays, the new rule starts at 0.
  p.a.run_ok(ipt + "-A INPUT -p udp --dport 7005 -j DROP");
  auto after_a = program_ids(d);
  EXPECT_NE(after_a["nf-ipv4-input-p0"], ids["nf-ipv4-input-p0"]);
  EXPECT_EQ(after_a["nf-ipv4-forward-p0"], ids["nf-ipv4-forward-p0"]) << d.status();
  EXPECT_EQ(after_a["nf-ipv4-output-p0"], ids["nf-ipv4-output-p0"]) << d.status();
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{3, 5, 0}));
  send_udp(p.b, 7005, 2);
  send_udp(p.b, 7001, 1);
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{4, 5, 2}));

  // A change in OUTPUT leaves INPUT's program, and its counters go on from where they were.
  p.a.run_ok(ipt + "-A OUTPUT -p udp --dport 7006 -j DROP");
  auto after_out = program_ids(d);
  EXPECT_EQ(after_out["nf-ipv4-input-p0"], after_a["nf-ipv4-input-p0"]) << d.status();
  EXPECT_NE(after_out["nf-ipv4-output-p0"], after_a["nf-ipv4-output-p0"]);
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{4, 5, 2}));
  send_udp(p.b, 7002, 1);
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{4, 6, 2}));

  // -I, -R, -D in INPUT: the rules that stay keep exactly their counts.
  p.a.run_ok(ipt + "-I INPUT 2 -p udp --dport 7007 -j DROP");
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{4, 0, 6, 2}));
  p.a.run_ok(ipt + "-R INPUT 4 -p udp --dport 7008 -j DROP");
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{4, 0, 6, 0}));
  p.a.run_ok(ipt + "-D INPUT -p udp --dport 7007 -j DROP");
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{4, 6, 0}));
  send_udp(p.b, 7001, 2);
  send_udp(p.b, 7008, 3);
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{6, 6, 3}));
  EXPECT_EQ(program_ids(d)["nf-ipv4-forward-p0"], ids["nf-ipv4-forward-p0"]) << "FORWARD never changed";

  // A restarted daemon adopts the pins and shows the same counters.
  d.stop(SIGTERM);
  d.start();
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{6, 6, 3})) << d.log();
  p.a.run_ok(ipt + "-A INPUT -p udp --dport 7009 -j DROP");
  EXPECT_EQ(input_packets(p.a, d), (std::vector<uint64_t>{6, 6, 3, 0})) << d.log();
}

}  // namespace
}  // namespace nfjit::e2e
