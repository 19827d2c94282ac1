// User chains: jump / goto / return with the kernel's semantics, counters of rules, chain ends and
// policies; nesting beyond BPF's call-frame limit is a compile error naming the chain path.
#include "prog_harness.h"

namespace nfjit::test {
namespace {

class Chains : public ::testing::TestWithParam<Flavour> {
 protected:
  void SetUp() override { NFJIT_REQUIRE_ROOT(); }
  Family fam() const {
    const auto& f = GetParam();
    if (f.at.kind != AttachKind::Netfilter) return Family::Inet;
    return f.family == 6 ? Family::Ipv6 : Family::Ipv4;
  }
  int v() const { return GetParam().family; }
  Netns ns{"chain"};
};

PacketSpec port(int v, uint16_t p) {
  auto s = pkt(v, 17);
  s.dport = p;
  return s;
}

// INPUT: jump A (count); dport 1 -> DROP; policy ACCEPT
// A:     dport 2 -> RETURN; dport 3 -> goto B; jump B; dport 4 -> ACCEPT   (end: implicit return)
// B:     dport 5 -> DROP; dport 3 -> ACCEPT; dport 6 -> RETURN             (end: implicit return)
// Run twice: chains inline, and every chain split into one-rule blocks (compile.cc), where RETURN and
// goto cross a block subprogram before reaching the chain's frame.
TEST_P(Chains, JumpGotoReturn) {
  EnterNetns in(ns);
  for (uint32_t per_block : {128u, 1u}) {
  SCOPED_TRACE("rules_per_block " + std::to_string(per_block));
  auto t = table_of(fam(), {
      base_chain("INPUT", {rule("-j A", {}, ActionKind::Jump, "A"),
                           rule("--dport 1 -j DROP", {m_eq(Field::Dport, 1)}, ActionKind::Drop)},
                 Policy::Accept),
      user_chain("A", {rule("--dport 2 -j RETURN", {m_eq(Field::Dport, 2)}, ActionKind::Return),
                       rule("--dport 3 -g B", {m_eq(Field::Dport, 3)}, ActionKind::Goto, "B"),
                       rule("-j B", {}, ActionKind::Jump, "B"),
                       rule("--dport 4 -j ACCEPT", {m_eq(Field::Dport, 4)}, ActionKind::Accept)}),
      user_chain("B", {rule("--dport 5 -j DROP", {m_eq(Field::Dport, 5)}, ActionKind::Drop),
                       rule("--dport 3 -j ACCEPT", {m_eq(Field::Dport, 3)}, ActionKind::Accept),
                       rule("--dport 6 -j RETURN", {m_eq(Field::Dport, 6)}, ActionKind::Return)}),
  });
  auto l = load(t, "INPUT", GetParam().at, nullptr, opts(per_block));
  ASSERT_TRUE(l);
  const uint64_t len = l3_len(port(v(), 1));
  EXPECT_EQ(l->run(port(v(), 1)), l->drop());    // A: jump B (end), A end, INPUT rule 1 drop
  EXPECT_EQ(l->run(port(v(), 2)), l->accept());  // A returns early; INPUT policy
  EXPECT_EQ(l->run(port(v(), 3)), l->accept());  // goto B, B accepts
  EXPECT_EQ(l->run(port(v(), 4)), l->accept());  // jump B ends, back in A: accept
  EXPECT_EQ(l->run(port(v(), 5)), l->drop());    // B drops inside a jump from A
  EXPECT_EQ(l->run(port(v(), 6)), l->accept());  // B returns to A, A ends, INPUT ends: policy
  auto c = [&](const char* ch, int r) { return l->counter(ch, r).first; };
  EXPECT_EQ(c("INPUT", 0), 6u);
  EXPECT_EQ(l->counter("INPUT", 0).second, 6 * len);
  EXPECT_EQ(c("INPUT", 1), 1u);
  EXPECT_EQ(c("INPUT", -1), 2u);  // ports 2 and 6
  EXPECT_EQ(c("A", 0), 1u);
  EXPECT_EQ(c("A", 1), 1u);
  EXPECT_EQ(c("A", 2), 4u);       // ports 1, 4, 5, 6
  EXPECT_EQ(c("A", 3), 1u);
  EXPECT_EQ(c("A", -1), 2u);      // ports 1, 6 reach A's end
  EXPECT_EQ(c("B", 0), 1u);
  EXPECT_EQ(c("B", 1), 1u);
  EXPECT_EQ(c("B", 2), 1u);
  EXPECT_EQ(c("B", -1), 2u);      // ports 1, 4
  }
}

// A goto from the base chain whose target returns: the base chain's policy applies (iptables underflow).
TEST_P(Chains, GotoFromBaseChainThenReturnAppliesPolicy) {
  EnterNetns in(ns);
  for (uint32_t per_block : {128u, 1u}) {
  SCOPED_TRACE("rules_per_block " + std::to_string(per_block));
  auto t = table_of(fam(), {
      base_chain("INPUT", {rule("-g A", {}, ActionKind::Goto, "A"),
                           rule("-j ACCEPT (never reached)", {}, ActionKind::Accept)},
                 Policy::Drop),
      user_chain("A", {rule("--dport 7 -j ACCEPT", {m_eq(Field::Dport, 7)}, ActionKind::Accept)}),
  });
  auto l = load(t, "INPUT", GetParam().at, nullptr, opts(per_block));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->run(port(v(), 7)), l->accept());
  EXPECT_EQ(l->run(port(v(), 8)), l->drop());
  EXPECT_EQ(l->counter("INPUT", 1).first, 0u);
  EXPECT_EQ(l->counter("INPUT", -1).first, 1u);
  EXPECT_EQ(l->counter("A", -1).first, 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Hooks, Chains, ::testing::ValuesIn(flavours()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ChainDepth, TooDeepIsAnErrorNamingThePath) {
  std::vector<Chain> chains{base_chain("INPUT", {rule("-j c1", {}, ActionKind::Jump, "c1")})};
  for (int i = 1; i <= 8; ++i) {
    std::vector<Rule> rs;
    if (i < 8) rs.push_back(rule("-j c" + std::to_string(i + 1), {}, ActionKind::Jump, "c" + std::to_string(i + 1)));
    chains.push_back(user_chain("c" + std::to_string(i), rs));
  }
  auto t = table_of(Family::Ipv4, chains);
  auto p = codegen::compile(t, "INPUT", nf_at(4), kernel_btf());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().err, EOPNOTSUPP);
  EXPECT_NE(p.error().message.find("INPUT -> c1 -> c2 -> c3 -> c4 -> c5 -> c6 -> c7 -> c8"), std::string::npos)
      << p.error().message;
}

TEST(ChainDepth, SevenLevelsLoad) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("depth");
  EnterNetns in(ns);
  std::vector<Chain> chains{base_chain("INPUT", {rule("-j c1", {}, ActionKind::Jump, "c1")}, Policy::Drop)};
  for (int i = 1; i <= 7; ++i) {
    std::vector<Rule> rs;
    if (i < 7) rs.push_back(rule("-j c" + std::to_string(i + 1), {}, ActionKind::Jump, "c" + std::to_string(i + 1)));
    else rs.push_back(rule("--dport 9 -j ACCEPT", {m_eq(Field::Dport, 9)}, ActionKind::Accept));
    chains.push_back(user_chain("c" + std::to_string(i), rs));
  }
  auto l = load(table_of(Family::Ipv4, chains), "INPUT", nf_at(4));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->run(port(4, 9)), l->accept());
  EXPECT_EQ(l->run(port(4, 10)), l->drop());
}

}  // namespace
}  // namespace nfjit::test
