// LOG end to end: a rule with a LOG action in a namespace, a real datagram, and the line LogReader hands
// to syslog, in the kernel's LOG format (nf_log_syslog.c), read from the program's live ring buffer.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "codegen_rules.h"
#include "privileged.h"
#include "runtime/engine.h"
#include "runtime/log_reader.h"
#include "udp_flow.h"

namespace nfjit::runtime {
namespace {

TEST(LogRing, LogRuleWritesAKernelFormatLineAndTheNextRuleStillDecides) {
  NFJIT_REQUIRE_ROOT();
  test::VethPair v("log");
  test::UdpFlow flow(v.a, v.b, v.b_ip4, 5010);
  const size_t payload = 77;

  ir::Rule log = test::length_rule(flow.l3_len(payload), ir::ActionKind::Log);
  log.action.log.prefix = "nfjit-in: ";
  log.action.log.level = 4;
  ir::Rule drop = test::length_rule(flow.l3_len(payload), ir::ActionKind::Drop);
  ir::Table t = test::length_table("logt", ir::Family::Ipv4, ir::Hook::Input, 0, ir::Policy::Accept, {log, drop});

  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, ""});
  std::vector<std::pair<int, std::string>> lines;
  LogReader reader([&](int level, const std::string& line) { lines.emplace_back(level, line); });
  {
    test::EnterNetns in(v.b);
    auto r = engine.install("logt", t);
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto rings = engine.log_rings();
    ASSERT_EQ(rings.size(), 1u);
    ASSERT_TRUE(reader.add(rings[0].map_fd, rings[0].logs).ok());
  }

  // LOG is not a verdict: the datagram is logged, then dropped by the next rule.
  EXPECT_FALSE(flow.round_trip(payload, 300));
  EXPECT_TRUE(flow.round_trip(payload + 1, 1000));  // another length: neither logged nor dropped

  for (int i = 0; i < 10 && lines.empty(); ++i) ASSERT_TRUE(reader.poll(100).ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, 4);
  const std::string& l = lines[0].second;
  // nf_log_syslog.c: prefix, IN= OUT= MAC=, then the IPv4 and UDP fields of the logged datagram.
  std::regex want("^nfjit-in: IN=veth0 OUT= MAC=([0-9a-f]{2}:){13}[0-9a-f]{2} SRC=198\\.18\\.0\\.1 DST=198\\.18\\.0\\.2 "
                  "LEN=" + std::to_string(flow.l3_len(payload)) +
                  " TOS=0x00 PREC=0x00 TTL=64 ID=[0-9]+ (DF )?PROTO=UDP SPT=[0-9]+ DPT=5010 LEN=" +
                  std::to_string(payload + 8) + " ?$");
  EXPECT_TRUE(std::regex_match(l, want)) << l;

  test::EnterNetns in(v.b);
  EXPECT_TRUE(engine.remove("logt").ok());
}

}  // namespace
}  // namespace nfjit::runtime
