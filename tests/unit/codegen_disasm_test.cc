// The disassembly of a small compiled program names chains, maps, helpers and kfuncs.
#include <gtest/gtest.h>

#include "codegen/compile.h"

namespace nfjit::codegen {
namespace {

TEST(Disasm, SmallNetfilterProgram) {
  auto btf = KernelBtf::load();
  if (!btf.ok()) GTEST_SKIP() << btf.error().message;
  ir::Table t;
  t.name = "filter";
  ir::Rule r;
  r.origin = "-p tcp -j a";
  ir::IntMatch im;
  im.field = ir::Field::L4Proto;
  im.ranges = {{6, 6}};
  r.matches.push_back(ir::Match{im});
  r.action.kind = ir::ActionKind::Jump;
  r.action.target = "a";
  ir::Rule d;
  d.origin = "-j DROP";
  d.action.kind = ir::ActionKind::Drop;
  t.chains = {ir::Chain{"INPUT", ir::BaseChain{}, {r}}, ir::Chain{"a", std::nullopt, {d}}};
  AttachPoint at;
  auto p = compile(t, "INPUT", at, *btf, {.disasm = true});
  ASSERT_TRUE(p.ok()) << p.error().message;
  const std::string& s = p->disassembly;
  EXPECT_NE(s.find("<chain INPUT>:"), std::string::npos) << s;
  EXPECT_NE(s.find("<chain a>:"), std::string::npos);
  EXPECT_NE(s.find("call kfunc bpf_dynptr_from_skb#"), std::string::npos);
  EXPECT_NE(s.find("call dynptr_read#201"), std::string::npos);
  EXPECT_NE(s.find("= map[nfjit_counters]"), std::string::npos);
  EXPECT_NE(s.find("call <chain a>"), std::string::npos);
  EXPECT_NE(s.find("lock *(u64 *)(r0 +0) += r1"), std::string::npos);
  // One line per instruction (plus label lines), ld_imm64 shown once.
  size_t lines = std::count(s.begin(), s.end(), '\n');
  EXPECT_GE(lines, p->insns.size() - 20);
  EXPECT_EQ(disassemble(*p), s);
  EXPECT_EQ(p->counters.size(), 4u);  // INPUT rule, INPUT policy, a rule, a end
}

TEST(KernelBtfTest, ResolvesKfuncsAndNestedMembers) {
  auto btf = KernelBtf::load();
  if (!btf.ok()) GTEST_SKIP() << btf.error().message;
  EXPECT_TRUE(btf->func_id("bpf_dynptr_from_skb").ok());
  EXPECT_FALSE(btf->func_id("no_such_kfunc_anywhere").ok());
  auto mark = btf->member_offset("sk_buff", "mark");  // inside an anonymous union
  ASSERT_TRUE(mark.ok());
  EXPECT_GT(*mark, 0u);
  auto pt = btf->member("sk_buff", "pkt_type");
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(pt->bitfield_size, 3u);
  EXPECT_FALSE(btf->member_offset("sk_buff", "nope").ok());
}

}  // namespace
}  // namespace nfjit::codegen
