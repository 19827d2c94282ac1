// The loader against the real kernel: maps are created and patched in, verifier refusals come back
// with the verifier's reason, and programs of each flavour run under BPF_PROG_TEST_RUN.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/netfilter.h>

#include "netns.h"
#include "nfjit/bpf_compat.h"
#include "privileged.h"
#include "runtime/loader.h"

namespace nfjit::runtime {
namespace {

bpf_insn mov_imm(uint8_t dst, int32_t imm) { return {BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm}; }
bpf_insn exit_insn() { return {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}; }

codegen::Program returning(uint32_t prog_type, uint32_t attach_type, int32_t rc) {
  codegen::Program p;
  p.name = "nfjit_test";
  p.prog_type = prog_type;
  p.expected_attach_type = attach_type;
  p.insns = {mov_imm(BPF_REG_0, rc), exit_insn()};
  return p;
}

TEST(Loader, NetfilterProgramRunsOnATestPacket) {
  NFJIT_REQUIRE_ROOT();
  test::Netns ns("ldr");
  test::EnterNetns in(ns);
  auto p = load_program(returning(compat::BPF_PROG_TYPE_NETFILTER, compat::BPF_NETFILTER, NF_ACCEPT));
  ASSERT_TRUE(p.ok()) << p.error().message;
  // bpf_prog_test_run_nf takes an nf_hook_state with only hook and pf set.
  std::vector<uint8_t> ctx(64, 0);
  ctx[0] = NF_INET_LOCAL_IN;
  ctx[1] = NFPROTO_IPV4;
  std::vector<uint8_t> pkt(14 + 20, 0);
  pkt[12] = 0x08;  // Ethernet type IPv4
  pkt[14] = 0x45;
  pkt[14 + 3] = 20;  // total length
  auto r = test_run(p->prog.get(), pkt, ctx);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->retval, static_cast<uint32_t>(NF_ACCEPT));
}

TEST(Loader, VerifierRefusalCarriesTheReason) {
  NFJIT_REQUIRE_ROOT();
  codegen::Program p = returning(BPF_PROG_TYPE_XDP, 0, 0);
  p.insns = {exit_insn()};  // R0 never written
  auto r = load_program(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EACCES);
  EXPECT_NE(r.error().message.find("R0 !read_ok"), std::string::npos) << r.error().message;
}

TEST(Loader, MapReferencesArePatchedAndInitialValuesWritten) {
  NFJIT_REQUIRE_ROOT();
  // r0 = *(u32 *)lookup(map0, key 0) ; XDP program returns the stored value.
  codegen::Program p = returning(BPF_PROG_TYPE_XDP, 0, 0);
  codegen::MapSpec m;
  m.name = "t_arr";
  m.type = BPF_MAP_TYPE_ARRAY;
  m.key_size = 4;
  m.value_size = 4;
  m.max_entries = 1;
  m.initial.push_back({{0, 0, 0, 0}, {1, 0, 0, 0}});  // XDP_DROP
  p.maps.push_back(m);
  p.insns = {
      {BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0},                 // *(u32*)(fp-4) = 0
      {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, 0},  // r1 = map[0]
      {0, 0, 0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4},
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem},
      {BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0},
      {BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_0, 0, 0},
      exit_insn(),
      mov_imm(BPF_REG_0, 2),
      exit_insn(),
  };
  auto l = load_program(p);
  ASSERT_TRUE(l.ok()) << l.error().message;
  std::vector<uint8_t> pkt(64, 0);
  auto r = test_run(l->prog.get(), pkt);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->retval, 1u);
}

}  // namespace
}  // namespace nfjit::runtime
