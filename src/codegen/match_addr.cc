// Address matches: masked prefix compare (AddrMatch) and big-endian range compare (AddrRangeMatch).
#include <cstring>

#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

int16_t addr_off(ir::Field f) { return f == ir::Field::Saddr ? kOffSaddr : kOffDaddr; }

// The packet must be of the address's family; an IPv4 address match on an IPv6 packet is absent.
Result<void> check_family(Gen& g, ir::Field f, uint8_t len, Label absent, const ir::Rule& r) {
  if (f != ir::Field::Saddr && f != ir::Field::Daddr)
    return make_error(EINVAL, "rule '" + r.origin + "': address match on a non-address field");
  if (len != 4 && len != 16) return make_error(EINVAL, "rule '" + r.origin + "': address length must be 4 or 16");
  // Netfilter: the family is fixed at compile time, and a match of that family needs no check. A match of
  // the other family (an inet table's "ip saddr" in the IPv6 program) is always absent; it still gets the
  // runtime test below rather than an unconditional jump, because the rest of the rule would follow that
  // jump as unreachable code, which the verifier's CFG check refuses. The verifier prunes the dead side.
  if (g.pf == (len == 4 ? 4 : 6)) return {};
  g.e.emit(ldx(BPF_W, R1, R7, kOffNfProto));
  g.e.jmp_imm(BPF_JNE, R1, len == 4 ? 4 : 6, absent);
  return {};
}

uint32_t le_word(const ir::Addr& a, int w) {
  uint32_t v;
  std::memcpy(&v, a.data() + 4 * w, 4);  // the value a 32-bit load of these packet bytes yields
  return v;
}

uint64_t be_dword(const ir::Addr& a, int w) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | a[8 * w + i];
  return v;
}

}  // namespace

Result<void> emit_addr_match(Gen& g, const ir::AddrMatch& m, const ir::Rule& r, Label if_false, Label absent) {
  if (auto res = check_family(g, m.field, m.len, absent, r); !res) return res;
  auto& e = g.e;
  for (int w = 0; w < m.len / 4; ++w) {
    uint32_t mask = le_word(m.mask, w), want = le_word(m.value, w) & mask;
    if (!mask) continue;
    e.emit(ldx(BPF_W, R1, R7, static_cast<int16_t>(addr_off(m.field) + 4 * w)));
    // AND (or OR 0) unlinks r1 from the stack slot (see packet_desc.h).
    if (mask != 0xffffffffu) e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(mask)));
    else e.emit(alu32_imm(BPF_OR, R1, 0));
    e.jmp_imm(BPF_JNE, R1, static_cast<int32_t>(want), if_false, true);
  }
  return {};
}

Result<void> emit_addr_range_match(Gen& g, const ir::AddrRangeMatch& m, const ir::Rule& r, Label if_false,
                                   Label absent) {
  if (auto res = check_family(g, m.field, m.len, absent, r); !res) return res;
  auto& e = g.e;
  int16_t off = addr_off(m.field);
  if (m.len == 4) {
    uint32_t lo = static_cast<uint32_t>(be_dword(m.lo, 0) >> 32), hi = static_cast<uint32_t>(be_dword(m.hi, 0) >> 32);
    e.emit(ldx(BPF_W, R1, R7, off));
    e.emit(to_be(R1, 32));
    e.jmp_imm(BPF_JLT, R1, static_cast<int32_t>(lo), if_false, true);
    e.jmp_imm(BPF_JGT, R1, static_cast<int32_t>(hi), if_false, true);
    return {};
  }
  // 128-bit compare as two big-endian 64-bit words: x0:x1 in r1:r2, bounds in r3.
  e.emit(ldx(BPF_DW, R1, R7, off));
  e.emit(to_be(R1, 64));
  e.emit(ldx(BPF_DW, R2, R7, static_cast<int16_t>(off + 8)));
  e.emit(to_be(R2, 64));
  Label lo_ok = e.new_label(), in = e.new_label();
  e.emit(ld_imm64(R3, be_dword(m.lo, 0)));
  e.jmp_reg(BPF_JGT, R1, R3, lo_ok);
  e.jmp_reg(BPF_JLT, R1, R3, if_false);
  e.emit(ld_imm64(R3, be_dword(m.lo, 1)));
  e.jmp_reg(BPF_JLT, R2, R3, if_false);
  e.bind(lo_ok);
  e.emit(ld_imm64(R3, be_dword(m.hi, 0)));
  e.jmp_reg(BPF_JLT, R1, R3, in);
  e.jmp_reg(BPF_JGT, R1, R3, if_false);
  e.emit(ld_imm64(R3, be_dword(m.hi, 1)));
  e.jmp_reg(BPF_JGT, R2, R3, if_false);
  e.bind(in);
  return {};
}

}  // namespace nfjit::codegen
