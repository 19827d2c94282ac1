// Emitter: labels, forward/backward fixups, far-jump widening (inverted branch over gotol, JSET's
// three-instruction form, gotol for ja), subprogram calls.
#include <gtest/gtest.h>

#include "codegen/emitter.h"

namespace nfjit::codegen {
namespace {

using namespace insn;

TEST(Emitter, ShortForwardAndBackwardJumps) {
  Emitter e;
  Label top = e.new_label(), out = e.new_label();
  e.bind(top);
  e.emit(mov64_imm(R0, 1));
  e.jmp_imm(BPF_JEQ, R1, 5, out);
  e.ja(top);
  e.bind(out);
  e.emit(exit_insn());
  auto v = e.finish();
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 4u);
  EXPECT_EQ((*v)[1].code, BPF_JMP | BPF_JEQ | BPF_K);
  EXPECT_EQ((*v)[1].off, 1);
  EXPECT_EQ((*v)[2].off, -3);
  EXPECT_EQ(e.position(out), 3u);
}

TEST(Emitter, UnboundLabelIsAnError) {
  Emitter e;
  Label l = e.new_label();
  e.ja(l);
  EXPECT_FALSE(e.finish().ok());
}

TEST(Emitter, FarConditionalBecomesInvertedBranchOverGotol) {
  Emitter e;
  Label far = e.new_label();
  e.jmp_imm(BPF_JGT, R1, 7, far);
  for (int i = 0; i < 40000; ++i) e.emit(mov64_imm(R0, i));
  e.bind(far);
  e.emit(exit_insn());
  auto v = e.finish();
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 40003u);
  EXPECT_EQ((*v)[0].code, BPF_JMP | BPF_JLE | BPF_K);  // inverted
  EXPECT_EQ((*v)[0].off, 1);
  EXPECT_EQ((*v)[1].code, BPF_JMP32 | BPF_JA);
  EXPECT_EQ((*v)[1].imm, 40000);  // 2 + 40000 = target
  EXPECT_EQ(e.position(far), 40002u);
}

TEST(Emitter, FarJsetUsesThreeInstructions) {
  Emitter e;
  e.set_short_limit_for_test(4);
  Label far = e.new_label();
  e.jmp_imm(BPF_JSET, R1, 2, far);
  for (int i = 0; i < 10; ++i) e.emit(mov64_imm(R0, i));
  e.bind(far);
  e.emit(exit_insn());
  auto v = e.finish();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)[0].code, BPF_JMP | BPF_JSET | BPF_K);
  EXPECT_EQ((*v)[0].off, 1);
  EXPECT_EQ((*v)[1].code, BPF_JMP | BPF_JA);
  EXPECT_EQ((*v)[1].off, 1);
  EXPECT_EQ((*v)[2].code, BPF_JMP32 | BPF_JA);
  EXPECT_EQ(3 + (*v)[2].imm, 13);
}

TEST(Emitter, WideningCascadesToAFixedPoint) {
  // Two jumps just at the limit: widening the inner one pushes the outer one past it.
  Emitter e;
  e.set_short_limit_for_test(5);
  Label a = e.new_label(), b = e.new_label();
  e.jmp_imm(BPF_JEQ, R1, 0, a);  // offset 5: fits until the next jump widens
  e.jmp_imm(BPF_JEQ, R1, 1, b);  // offset 6: wide
  for (int i = 0; i < 4; ++i) e.emit(mov64_imm(R0, i));
  e.bind(a);
  e.emit(mov64_imm(R0, 9));
  e.emit(mov64_imm(R0, 10));
  e.bind(b);
  e.emit(exit_insn());
  auto v = e.finish();
  ASSERT_TRUE(v.ok());
  // Every resulting jump lands on the right instruction.
  uint32_t pa = e.position(a), pb = e.position(b);
  EXPECT_EQ((*v)[pa].imm, 9);
  EXPECT_EQ((*v)[pb].code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(v->size(), 11u);  // both widened: 2 + 2 + 4 + 2 + 1
  EXPECT_EQ((*v)[0].code, BPF_JMP | BPF_JNE | BPF_K);
  EXPECT_EQ(2 + (*v)[1].imm, static_cast<int32_t>(pa));
}

TEST(Emitter, SubprogramCallOffset) {
  Emitter e;
  Label sub = e.new_label();
  e.call(sub);
  e.emit(exit_insn());
  e.bind(sub);
  e.emit(mov64_imm(R0, 0));
  e.emit(exit_insn());
  auto v = e.finish();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)[0].src_reg, BPF_PSEUDO_CALL);
  EXPECT_EQ((*v)[0].imm, 1);
}

TEST(Emitter, LdImm64TakesTwoSlots) {
  Emitter e;
  Label l = e.new_label();
  e.ja(l);
  e.emit(ld_map(R1, 3));
  e.bind(l);
  e.emit(exit_insn());
  auto v = e.finish();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)[0].off, 2);
  EXPECT_EQ((*v)[1].src_reg, BPF_PSEUDO_MAP_FD);
  EXPECT_EQ((*v)[1].imm, 3);
}

}  // namespace
}  // namespace nfjit::codegen
