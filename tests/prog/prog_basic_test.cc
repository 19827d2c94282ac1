// First-match semantics, verdicts and exact counters on every hook flavour.
#include "prog_harness.h"

namespace nfjit::test {
namespace {

class Basic : public ::testing::TestWithParam<Flavour> {
 protected:
  void SetUp() override { NFJIT_REQUIRE_ROOT(); }
  Netns ns{"prog"};
};

TEST_P(Basic, FirstMatchWinsAndCountsL3Bytes) {
  EnterNetns in(ns);
  const auto& f = GetParam();
  Family fam = f.at.kind == AttachKind::Netfilter ? (f.family == 6 ? Family::Ipv6 : Family::Ipv4) : Family::Inet;
  auto t = table_of(fam, {base_chain("INPUT", {
      rule("-p tcp --dport 22 -j ACCEPT", {m_eq(Field::L4Proto, 6), m_eq(Field::Dport, 22)}, ActionKind::Accept),
      rule("-p udp -j DROP", {m_eq(Field::L4Proto, 17)}, ActionKind::Drop),
      rule("-p tcp (count)", {m_eq(Field::L4Proto, 6)}, ActionKind::Continue),
  }, Policy::Drop)});
  auto l = load(t, "INPUT", f.at);
  ASSERT_TRUE(l);
  auto ssh = pkt(f.family, 6);
  ssh.dport = 22;
  auto web = pkt(f.family, 6);
  web.dport = 80;
  auto udp = pkt(f.family, 17);
  EXPECT_EQ(l->run(ssh), l->accept());
  EXPECT_EQ(l->run(ssh), l->accept());
  EXPECT_EQ(l->run(udp), l->drop());
  EXPECT_EQ(l->run(web), l->drop());  // policy drop
  EXPECT_EQ(l->counter("INPUT", 0), std::make_pair(uint64_t{2}, 2 * l3_len(ssh)));
  EXPECT_EQ(l->counter("INPUT", 1), std::make_pair(uint64_t{1}, l3_len(udp)));
  EXPECT_EQ(l->counter("INPUT", 2), std::make_pair(uint64_t{1}, l3_len(web)));
  EXPECT_EQ(l->counter("INPUT", -1), std::make_pair(uint64_t{1}, l3_len(web)));
}

INSTANTIATE_TEST_SUITE_P(Hooks, Basic, ::testing::ValuesIn(flavours()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nfjit::test
