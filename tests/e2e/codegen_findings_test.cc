// Minimal reproductions of code generator bugs the end-to-end tests ran into. Each test states what a
// user does, what the kernel's netfilter does with it, and (in its comment) the exact failure seen when
// it was written. They fail until codegen is fixed; nothing here works around the bug.
#include <gtest/gtest.h>

#include "e2e_support.h"
#include "privileged.h"
#include "runtime/loader.h"

namespace nfjit::e2e {
namespace {

codegen::AttachPoint nf_input(uint8_t pf) {
  codegen::AttachPoint at;
  at.kind = codegen::AttachKind::Netfilter;
  at.pf = pf;
  at.hook = Hook::Input;
  return at;
}

// FINDING (codegen, match_addr.cc check_family): in an inet table, a rule matching an IPv4 address
// (`ip saddr 198.18.0.0/24 drop`, nft's most common rule shape) makes the IPv6 program unloadable. At a
// netfilter hook whose family is known, check_family() emits an unconditional `goto absent` and then
// still emits the address comparison behind it; the verifier refuses the dead code:
//   table 't' chain 'input' at nf-ipv6-input-p0: the kernel refused program 'nfjit_input' (...
//   instructions): Invalid argument / unreachable insn N
// The kernel loads `table inet t { chain input { type filter hook input priority 0; ip saddr
// 198.18.0.0/24 drop } }` fine. Same for AddrRangeMatch, and for IPv6 addresses in the IPv4 program.
TEST(CodegenFindings, InetTableWithAnIpv4AddressRuleLoadsForBothFamilies) {
  NFJIT_REQUIRE_ROOT();
  Table t;
  t.name = "t";
  t.family = Family::Inet;
  Chain c;
  c.name = "input";
  c.base = BaseChain{Hook::Input, 0, Policy::Accept, {}};
  c.rules = {rule("ip saddr 198.18.0.0/24 drop", {m_prefix(Field::Saddr, "198.18.0.0", 24)}, ActionKind::Drop),
             rule("ip6 saddr 2001:db8::/64 drop", {m_prefix(Field::Saddr, "2001:db8::", 64)}, ActionKind::Drop)};
  t.chains = {c};
  auto compile = real_compiler();
  for (uint8_t pf : {2, 10}) {
    auto p = compile(t, "input", nf_input(pf));
    ASSERT_TRUE(p.ok()) << p.error().message;
    auto lp = runtime::load_program(*p);
    EXPECT_TRUE(lp.ok()) << "pf " << int(pf) << ": " << (lp.ok() ? "" : lp.error().message);
  }
}

// FINDING (codegen, emitter far-jump widening): 1,000 iptables rules `-p udp --dport N -j DROP` (27,153
// instructions) compile, but the kernel refuses the program:
//   the kernel refused program 'nfjit_INPUT' (27153 instructions): Cannot allocate memory
//   insn 19138 cannot be patched due to 16-bit range
// The verifier's rewrites after verification (inlined map_lookup_elem of the per-CPU counters array,
// ctx access conversion, ...) grow the program; a jump the emitter left as a plain 16-bit jump because
// its offset was just under 32,767 no longer fits. 500 and 1,500 rules load; roughly 900-1,100 do not.
// The emitter must leave headroom for the kernel's own expansion (or avoid long forward jumps).
TEST(CodegenFindings, ThousandProtoPortRulesLoad) {
  NFJIT_REQUIRE_ROOT();
  Table t;
  t.name = "filter";
  t.family = Family::Ipv4;
  Chain c;
  c.name = "INPUT";
  c.base = BaseChain{Hook::Input, 0, Policy::Accept, {}};
  for (int i = 0; i < 1000; ++i)
    c.rules.push_back(rule("-A INPUT -p udp --dport " + std::to_string(1000 + i) + " -j DROP",
                           {m_eq(Field::L4Proto, 17), m_eq(Field::Dport, static_cast<uint32_t>(1000 + i))},
                           ActionKind::Drop));
  t.chains = {c};
  auto p = real_compiler()(t, "INPUT", nf_input(2));
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto lp = runtime::load_program(*p);
  EXPECT_TRUE(lp.ok()) << (lp.ok() ? "" : lp.error().message.substr(lp.error().message.size() > 600 ? lp.error().message.size() - 600 : 0));
}

// FINDING (codegen, match_int.cc emit_int_match): an equality test is emitted as `if r1 == V goto in;
// goto next_rule`, so along the all-rules-miss path the verifier pushes one pending branch per rule and
// gives up after 8,192: 10,000 rules `-p udp --dport N -j DROP` (or `--dport N` alone, or `-s A --dport
// N` as prog_feature_test's TenThousandRuleChainLoadsAndRuns) are refused with
//   the kernel refused program 'nfjit_INPUT' (...): Bad address / The sequence of 8193 jumps is too complex.
// (large_chain_test.cc shows it through the Engine.) Emitting the single-value / last-range test as
// `if r1 != V goto next_rule` (fall-through = match) keeps the verifier's stack flat.
TEST(CodegenFindings, TenThousandPortRulesLoad) {
  NFJIT_REQUIRE_ROOT();
  Table t;
  t.name = "filter";
  t.family = Family::Ipv4;
  Chain c;
  c.name = "INPUT";
  c.base = BaseChain{Hook::Input, 0, Policy::Accept, {}};
  for (int i = 0; i < 10000; ++i)
    c.rules.push_back(rule("-A INPUT --dport " + std::to_string(1000 + i) + " -j DROP",
                           {m_eq(Field::Dport, static_cast<uint32_t>(1000 + i))}, ActionKind::Drop));
  t.chains = {c};
  auto p = real_compiler()(t, "INPUT", nf_input(2));
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto lp = runtime::load_program(*p);
  EXPECT_TRUE(lp.ok()) << (lp.ok() ? "" : lp.error().message.substr(lp.error().message.size() > 600 ? lp.error().message.size() - 600 : 0));
}

}  // namespace
}  // namespace nfjit::e2e
