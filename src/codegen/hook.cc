#include "codegen/hook.h"

namespace nfjit::codegen {

bool iface_name_matches(const ir::IfaceMatch& m, const std::string& ifname) {
  if (m.wildcard) return ifname.compare(0, m.name.size(), m.name) == 0;
  return ifname == m.name;
}

Result<void> HookOps::load_iface_name(Gen& g, bool, int16_t, const ir::Rule& r) const {
  return unsupported(g, r, "interface names are not read at run time here");
}

}  // namespace nfjit::codegen

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {
// r<reg> = 1 if r<reg> == 0 else 0 (r<reg> below 2^63).
void is_zero(Gen& g, uint8_t reg) {
  g.e.emit(alu64_imm(BPF_SUB, reg, 1));
  g.e.emit(alu64_imm(BPF_RSH, reg, 63));
}
}  // namespace

// xt_pkttype's pkttype_mt() and nft_meta's nft_meta_get_eval_pkttype_lo(): a packet looped back by
// dev_loopback_xmit (multicast / broadcast sent with loopback on) carries PACKET_LOOPBACK, which both
// report as MULTICAST (IPv4 destination in 224.0.0.0/4, or any IPv6) or BROADCAST (other IPv4).
void emit_pkttype_loopback(Gen& g, PkttypeFamily fam) {
  auto& e = g.e;
  e.emit(mov64_reg(R2, R1));
  e.emit(alu64_imm(BPF_XOR, R2, 5));  // PACKET_LOOPBACK
  is_zero(g, R2);                     // r2 = looped back
  if (fam == PkttypeFamily::Runtime) {
    // Only IP packets are remapped: r2 &= (nfproto != 0).
    e.emit(ldx(BPF_W, R4, R7, kOffNfProto));
    e.emit(alu64_imm(BPF_NEG, R4, 0));
    e.emit(alu64_imm(BPF_RSH, R4, 63));
    e.emit(alu64_reg(BPF_AND, R2, R4));
  }
  if (fam == PkttypeFamily::Ipv6) {
    e.emit(mov64_imm(R3, 2));  // PACKET_MULTICAST
  } else {
    // r3 = 1 (BROADCAST) + (first address byte in 224..239, or IPv6).
    e.emit(ldx(BPF_W, R3, R7, kOffDaddr));  // the first address byte lands in the low 8 bits
    e.emit(alu64_imm(BPF_AND, R3, 0xf0));
    e.emit(alu64_imm(BPF_XOR, R3, 0xe0));
    is_zero(g, R3);
    if (fam == PkttypeFamily::Runtime) {
      e.emit(ldx(BPF_W, R4, R7, kOffNfProto));
      e.emit(alu64_imm(BPF_XOR, R4, 6));
      is_zero(g, R4);
      e.emit(alu64_reg(BPF_OR, R3, R4));
    }
    e.emit(alu64_imm(BPF_ADD, R3, 1));
  }
  // r1 = looped back ? r3 : r1, without a branch.
  e.emit(alu64_reg(BPF_XOR, R3, R1));
  e.emit(alu64_imm(BPF_NEG, R2, 0));
  e.emit(alu64_reg(BPF_AND, R3, R2));
  e.emit(alu64_reg(BPF_XOR, R1, R3));
}

}  // namespace nfjit::codegen
