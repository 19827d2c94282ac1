// Integer field matches: (field & mask) in ranges, or (field & mask) != 0.
#include "codegen/hook.h"
#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

std::optional<DescField> desc_field(ir::Field f) {
  switch (f) {
    case ir::Field::NfProto: return DescField{kOffNfProto, kValidL3};
    case ir::Field::L4Proto: return DescField{kOffL4Proto, kValidL4Proto};
    case ir::Field::Fragment: return DescField{kOffFragment, kValidL3};
    case ir::Field::Sport: return DescField{kOffSport, kValidPorts};
    case ir::Field::Dport: return DescField{kOffDport, kValidPorts};
    case ir::Field::TcpFlags: return DescField{kOffTcpFlags, kValidTcpFlags};
    case ir::Field::IcmpType: return DescField{kOffIcmpType, kValidIcmp};
    case ir::Field::IcmpCode: return DescField{kOffIcmpCode, kValidIcmp};
    case ir::Field::Length: return DescField{kOffLength, kValidL3};
    case ir::Field::Ttl: return DescField{kOffTtl, kValidL3};
    case ir::Field::Tos: return DescField{kOffTos, kValidL3};
    case ir::Field::Dscp: return DescField{kOffTos, kValidL3, 2};
    default: return std::nullopt;
  }
}

bool field_needs_l4(ir::Field f) {
  auto d = desc_field(f);
  return d && (d->valid & (kValidPorts | kValidTcpFlags | kValidIcmp));
}

Result<void> load_field(Gen& g, ir::Field f, Label absent, const ir::Rule& r) {
  auto& e = g.e;
  if (auto d = desc_field(f)) {
    e.emit(ldx(BPF_W, R1, R7, kOffValid));
    e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(d->valid)));
    e.jmp_imm(BPF_JEQ, R1, 0, absent);
    e.emit(ldx(BPF_W, R1, R7, d->off));
    // The ALU op unlinks r1 from the stack slot (see packet_desc.h).
    if (d->shift) e.emit(alu32_imm(BPF_RSH, R1, static_cast<int32_t>(d->shift)));
    else e.emit(alu32_imm(BPF_OR, R1, 0));
    return {};
  }
  if (f == ir::Field::Saddr || f == ir::Field::Daddr)
    return make_error(EINVAL, "rule '" + r.origin + "': addresses are AddrMatch, not IntMatch");
  return g.hook.load_meta(g, f, absent, r);
}

Result<void> emit_int_match(Gen& g, const ir::IntMatch& m, const ir::Rule& r, Label if_false, Label absent) {
  auto& e = g.e;
  if (m.op == ir::IntOp::InRanges && m.ranges.empty())
    return make_error(EINVAL, "rule '" + r.origin + "': integer match with no values");
  if (auto res = load_field(g, m.field, absent, r); !res) return res;
  if (m.mask != 0xffffffffu) e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(m.mask)));
  if (m.op == ir::IntOp::AnyBit) {
    e.jmp_imm(BPF_JEQ, R1, 0, if_false, true);
    return {};
  }
  Label in = e.new_label();
  for (const auto& rg : m.ranges) {
    if (rg.lo > rg.hi) return make_error(EINVAL, "rule '" + r.origin + "': empty range");
    auto imm = [](uint32_t v) { return static_cast<int32_t>(v); };
    if (rg.lo == rg.hi) {
      e.jmp_imm(BPF_JEQ, R1, imm(rg.lo), in, true);
      continue;
    }
    Label skip = e.new_label();
    if (rg.lo != 0) e.jmp_imm(BPF_JLT, R1, imm(rg.lo), skip, true);
    if (rg.hi == 0xffffffffu) e.ja(in);
    else e.jmp_imm(BPF_JLE, R1, imm(rg.hi), in, true);
    e.bind(skip);
  }
  e.ja(if_false);
  e.bind(in);
  return {};
}

}  // namespace nfjit::codegen
