// TC (TCX ingress/egress): ctx is struct __sk_buff, the packet starts with the Ethernet header. Packet
// bytes via bpf_skb_load_bytes (bounds-checked variable offsets, non-linear skbs). Accept returns
// TCX_NEXT so later programs on the same hook still run; drop is TCX_DROP. skb->mark is writable here,
// so MARK works. The interface is the one the program is attached to: iif at ingress, oif at egress.
#include <linux/bpf.h>

#include <cstddef>

#include "codegen/hook.h"
#include "codegen/hook_ct.h"
#include "nfjit/bpf_compat.h"

namespace nfjit::codegen {
namespace {

using namespace insn;

class TcOps : public HookOps {
 public:
  explicit TcOps(bool ingress) : ingress_(ingress) {}
  uint32_t prog_type() const override { return BPF_PROG_TYPE_SCHED_CLS; }
  uint32_t expected_attach_type() const override {
    return ingress_ ? compat::BPF_TCX_INGRESS : compat::BPF_TCX_EGRESS;
  }
  bool link_layer() const override { return true; }
  int32_t verdict(bool accept) const override { return accept ? compat::TCX_NEXT : compat::TCX_DROP; }

  Result<void> prologue(Gen&) const override { return {}; }

  void total_len(Gen& g, uint8_t dst) const override {
    g.e.emit(ldx(BPF_W, dst, R6, offsetof(struct __sk_buff, len)));
  }

  void load_bytes(Gen& g, uint8_t off_reg, int16_t dst, uint32_t len, Label fail) const override {
    // long bpf_skb_load_bytes(const void *skb, u32 offset, void *to, u32 len)
    g.e.emit(mov64_reg(R2, off_reg));
    g.e.emit(mov64_reg(R1, R6));
    g.e.emit(mov64_reg(R3, R7));
    g.e.emit(alu64_imm(BPF_ADD, R3, dst));
    g.e.emit(mov64_imm(R4, static_cast<int32_t>(len)));
    g.e.emit(call_helper(kSkbLoadBytes));
    g.e.jmp_imm(BPF_JNE, R0, 0, fail);
  }

  void load_bytes_to(Gen& g, uint8_t off_reg, uint8_t dst_reg, uint8_t len_reg) const override {
    g.e.emit(mov64_reg(R2, off_reg));
    g.e.emit(mov64_reg(R4, len_reg));
    g.e.emit(mov64_reg(R3, dst_reg));
    g.e.emit(mov64_reg(R1, R6));
    g.e.emit(call_helper(kSkbLoadBytes));
  }

  // Egress: conntrack already ran for this packet (OUTPUT/FORWARD, confirmed at POSTROUTING).
  Result<void> conntrack(Gen& g) const override { return emit_ct_lookup(g, "bpf_skb_ct_lookup", !ingress_); }

  Result<void> load_meta(Gen& g, ir::Field f, Label absent, const ir::Rule& r) const override {
    if (is_ct_field(f)) return load_ct_meta(g, f, absent);
    switch (f) {
      case ir::Field::Mark: g.e.emit(ldx(BPF_W, R1, R6, offsetof(struct __sk_buff, mark))); return {};
      case ir::Field::PktType:
        g.e.emit(ldx(BPF_W, R1, R6, offsetof(struct __sk_buff, pkt_type)));
        emit_pkttype_loopback(g, PkttypeFamily::Runtime);
        if (g.table.family == ir::Family::Netdev) {
          // nft netdev: a looped-back frame that is neither IPv4 nor IPv6 makes `meta pkttype` break.
          Label ok = g.e.new_label();
          g.e.jmp_imm(BPF_JNE, R1, 5 /* PACKET_LOOPBACK, still unmapped */, ok);
          g.e.ja(absent);
          g.e.bind(ok);
        }
        return {};
      case ir::Field::IifIndex:
        if (!ingress_) break;
        g.e.emit(ldx(BPF_W, R1, R6, offsetof(struct __sk_buff, ifindex)));
        return {};
      case ir::Field::OifIndex:
        if (ingress_) break;
        g.e.emit(ldx(BPF_W, R1, R6, offsetof(struct __sk_buff, ifindex)));
        return {};
      default: break;
    }
    return unsupported(g, r, std::string("field ") + ir::to_string(f) + " is not readable here");
  }

  bool meta_branch_free(ir::Field f) const override {
    return f == ir::Field::Mark || f == ir::Field::PktType || (f == ir::Field::IifIndex && ingress_) ||
           (f == ir::Field::OifIndex && !ingress_);
  }

  Result<void> iface(Gen& g, const ir::IfaceMatch& m, Label if_false, Label, const ir::Rule& r) const override {
    if (m.out == ingress_)
      return unsupported(g, r, std::string("the ") + (m.out ? "output" : "input") + " interface is not known here");
    if (!iface_name_matches(m, g.at.ifname)) g.e.ja(if_false);
    return {};
  }

  Result<void> load_mac(Gen& g, Label absent, const ir::Rule&) const override {
    g.e.emit(mov64_imm(R1, 6));
    load_bytes(g, R1, desc::kOffMac, 6, absent);
    return {};
  }

  Result<void> set_mark(Gen& g, const ir::Action& a, const ir::Rule&) const override {
    // xt_MARK: mark = (mark & ~mask) ^ value
    g.e.emit(ldx(BPF_W, R1, R6, offsetof(struct __sk_buff, mark)));
    g.e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(~a.mark_mask)));
    g.e.emit(alu32_imm(BPF_XOR, R1, static_cast<int32_t>(a.mark_value)));
    g.e.emit(stx(BPF_W, R6, R1, offsetof(struct __sk_buff, mark)));
    return {};
  }

 private:
  bool ingress_;
};

}  // namespace

std::unique_ptr<HookOps> make_tc_ops(bool ingress) { return std::make_unique<TcOps>(ingress); }

}  // namespace nfjit::codegen
