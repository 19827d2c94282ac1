// BPF_NETFILTER: ctx is struct bpf_nf_ctx { const struct nf_hook_state *state; struct sk_buff *skb; }.
// Both are BTF pointers: skb fields (len, mark, _nfct, pkt_type) are plain loads at offsets from the
// running kernel's BTF; the verifier refuses any store to them. Packet bytes come from a dynptr over the
// skb (kfunc bpf_dynptr_from_skb, made once in the prologue) read with the bpf_dynptr_read helper into
// the stack; offset 0 is skb->data, which at every IPv4/IPv6 netfilter hook is the network header.
#include <linux/netfilter.h>

#include "codegen/hook.h"
#include "codegen/log_record.h"
#include "nfjit/bpf_compat.h"

namespace nfjit::codegen {
namespace {

using namespace insn;

constexpr int16_t kCtxState = 0;  // offsetof(struct bpf_nf_ctx, state)
constexpr int16_t kCtxSkb = 8;    // offsetof(struct bpf_nf_ctx, skb)

class NetfilterOps : public HookOps {
 public:
  uint32_t prog_type() const override { return compat::BPF_PROG_TYPE_NETFILTER; }
  uint32_t expected_attach_type() const override { return compat::BPF_NETFILTER; }
  bool link_layer() const override { return false; }
  int32_t verdict(bool accept) const override { return accept ? NF_ACCEPT : NF_DROP; }

  Result<void> prologue(Gen& g) const override {
    if (auto o = g.btf.member_offset("sk_buff", "len"); !o) return o.error();
    // bpf_dynptr_from_skb(skb, 0, &desc.dynptr); a failure leaves nothing to parse: not our packet.
    g.e.emit(ldx(BPF_DW, R1, R6, kCtxSkb));
    g.e.emit(mov64_imm(R2, 0));
    g.e.emit(mov64_reg(R3, R7));
    g.e.emit(alu64_imm(BPF_ADD, R3, desc::kOffDynptr));
    if (auto r = g.call_kfunc("bpf_dynptr_from_skb"); !r) return r;
    g.e.jmp_imm(BPF_JNE, R0, 0, g.exit_accept);
    return {};
  }

  void total_len(Gen& g, uint8_t dst) const override {
    // skb->len: offset 0 is the network header here, so this already is the L3 length.
    g.e.emit(ldx(BPF_DW, dst, R6, kCtxSkb));
    g.e.emit(ldx(BPF_W, dst, dst, static_cast<int16_t>(off("sk_buff", "len", g))));
  }

  void load_bytes(Gen& g, uint8_t off_reg, int16_t dst, uint32_t len, Label fail) const override {
    // long bpf_dynptr_read(void *dst, u32 len, const struct bpf_dynptr *src, u32 offset, u64 flags)
    g.e.emit(mov64_reg(R4, off_reg));
    g.e.emit(mov64_reg(R1, R7));
    g.e.emit(alu64_imm(BPF_ADD, R1, dst));
    g.e.emit(mov64_imm(R2, static_cast<int32_t>(len)));
    g.e.emit(mov64_reg(R3, R7));
    g.e.emit(alu64_imm(BPF_ADD, R3, desc::kOffDynptr));
    g.e.emit(mov64_imm(R5, 0));
    g.e.emit(call_helper(kDynptrRead));
    g.e.jmp_imm(BPF_JNE, R0, 0, fail);
  }

  void load_bytes_to(Gen& g, uint8_t off_reg, uint8_t dst_reg, uint8_t len_reg) const override {
    g.e.emit(mov64_reg(R4, off_reg));
    g.e.emit(mov64_reg(R2, len_reg));
    g.e.emit(mov64_reg(R1, dst_reg));
    g.e.emit(mov64_reg(R3, R7));
    g.e.emit(alu64_imm(BPF_ADD, R3, desc::kOffDynptr));
    g.e.emit(mov64_imm(R5, 0));
    g.e.emit(call_helper(kDynptrRead));
  }

  Result<void> load_meta(Gen& g, ir::Field f, Label absent, const ir::Rule& r) const override {
    auto& e = g.e;
    switch (f) {
      case ir::Field::Mark: {
        auto o = g.btf.member_offset("sk_buff", "mark");
        if (!o) return unsupported(g, r, o.error().message);
        e.emit(ldx(BPF_DW, R1, R6, kCtxSkb));
        e.emit(ldx(BPF_W, R1, R1, static_cast<int16_t>(*o)));
        return {};
      }
      case ir::Field::PktType: {
        auto m = g.btf.member("sk_buff", "pkt_type");
        if (!m) return unsupported(g, r, m.error().message);
        e.emit(ldx(BPF_DW, R1, R6, kCtxSkb));
        e.emit(ldx(BPF_B, R1, R1, static_cast<int16_t>(m->bit_offset / 8)));
        if (m->bit_offset % 8) e.emit(alu32_imm(BPF_RSH, R1, static_cast<int32_t>(m->bit_offset % 8)));
        e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>((1u << (m->bitfield_size ? m->bitfield_size : 8)) - 1)));
        emit_pkttype_loopback(g, g.pf == 6 ? PkttypeFamily::Ipv6 : PkttypeFamily::Ipv4);
        return {};
      }
      case ir::Field::IifIndex:
      case ir::Field::OifIndex: {
        // state->in / state->out; NULL where the hook has no such device (nft: no match).
        auto dev = g.btf.member_offset("nf_hook_state", f == ir::Field::IifIndex ? "in" : "out");
        auto idx = g.btf.member_offset("net_device", "ifindex");
        if (!dev || !idx) return unsupported(g, r, "kernel BTF lacks nf_hook_state/net_device members");
        e.emit(ldx(BPF_DW, R1, R6, kCtxState));
        e.emit(ldx(BPF_DW, R1, R1, static_cast<int16_t>(*dev)));
        e.jmp_imm(BPF_JEQ, R1, 0, absent);
        e.emit(ldx(BPF_W, R1, R1, static_cast<int16_t>(*idx)));
        return {};
      }
      case ir::Field::CtState:
        // Computed once per packet by conntrack() below, without branches.
        e.emit(ldx(BPF_W, R1, R7, desc::kOffCtResult));
        e.emit(alu32_imm(BPF_OR, R1, 0));  // unlink from the stack slot (packet_desc.h)
        return {};
      case ir::Field::CtMark: {
        // The nf_conn is (_nfct & ~7), a plain number to the verifier: read its mark with
        // bpf_probe_read_kernel. No entry (or untracked) -> absent, as xt_connmark / nft ct mark.
        auto nfct = g.btf.member_offset("sk_buff", "_nfct");
        auto mark = g.btf.member_offset("nf_conn", "mark");
        if (!nfct || !mark) return unsupported(g, r, "kernel has no conntrack mark (nf_conn::mark)");
        e.emit(ldx(BPF_DW, R3, R6, kCtxSkb));
        e.emit(ldx(BPF_DW, R3, R3, static_cast<int16_t>(*nfct)));
        e.emit(mov64_reg(R1, R3));
        e.emit(alu64_imm(BPF_AND, R1, 7));
        e.jmp_imm(BPF_JEQ, R1, 7, absent);
        e.emit(alu64_imm(BPF_AND, R3, ~7));
        e.jmp_imm(BPF_JEQ, R3, 0, absent);
        e.emit(alu64_imm(BPF_ADD, R3, static_cast<int32_t>(*mark)));
        e.emit(mov64_reg(R1, R7));
        e.emit(alu64_imm(BPF_ADD, R1, desc::kOffScratch));
        e.emit(mov64_imm(R2, 4));
        e.emit(call_helper(kProbeReadKernel));
        e.jmp_imm(BPF_JNE, R0, 0, absent);
        e.emit(ldx(BPF_W, R1, R7, desc::kOffScratch));
        return {};
      }
      default:
        return unsupported(g, r, std::string("field ") + ir::to_string(f) + " is not readable here");
    }
  }

  bool meta_branch_free(ir::Field f) const override {
    return f == ir::Field::Mark || f == ir::Field::PktType || f == ir::Field::CtState;
  }

  // The ct state bit, once per packet, into kOffCtResult, from skb->_nfct: 0 = no conntrack entry
  // (INVALID); else ctinfo in the low 3 bits, 7 = UNTRACKED, otherwise 1 << (ctinfo % 3 + 1)
  // (ESTABLISHED, RELATED, NEW; the *_REPLY values are +3). Without branches: computing it per rule
  // with branches left three constant-valued paths per rule, and a 170-rule chain of `-m state` rules
  // called from two places took 700,000 verifier steps.
  Result<void> conntrack(Gen& g) const override {
    auto o = g.btf.member_offset("sk_buff", "_nfct");
    if (!o) return make_error(EOPNOTSUPP, "cannot lower at " + where(g.at) + ": " + o.error().message);
    auto& e = g.e;
    e.emit(ldx(BPF_DW, R1, R6, kCtxSkb));
    e.emit(ldx(BPF_DW, R1, R1, static_cast<int16_t>(*o)));
    e.emit(mov64_reg(R2, R1));
    e.emit(alu64_imm(BPF_AND, R2, 7));     // r2 = ctinfo
    e.emit(mov64_reg(R3, R2));
    e.emit(alu64_imm(BPF_MOD, R3, 3));
    e.emit(alu64_imm(BPF_ADD, R3, 1));
    e.emit(mov64_imm(R4, 1));
    e.emit(alu64_reg(BPF_LSH, R4, R3));    // r4 = the tracked state bit
    e.emit(alu64_imm(BPF_XOR, R2, 7));
    e.emit(alu64_imm(BPF_SUB, R2, 1));
    e.emit(alu64_imm(BPF_RSH, R2, 63));    // r2 = ctinfo == 7 (r2 < 8 before the subtraction)
    e.emit(alu64_imm(BPF_NEG, R2, 0));     // all ones when untracked
    e.emit(mov64_reg(R5, R4));
    e.emit(alu64_imm(BPF_XOR, R5, ir::kCtUntracked));
    e.emit(alu64_reg(BPF_AND, R5, R2));
    e.emit(alu64_reg(BPF_XOR, R4, R5));    // r4 = untracked ? UNTRACKED : state bit
    e.emit(mov64_reg(R2, R1));
    e.emit(alu64_imm(BPF_NEG, R2, 0));
    e.emit(alu64_reg(BPF_OR, R2, R1));
    e.emit(alu64_imm(BPF_RSH, R2, 63));    // r2 = _nfct != 0 (top bit of v | -v)
    e.emit(alu64_imm(BPF_SUB, R2, 1));     // all ones when there is no entry
    e.emit(mov64_reg(R5, R4));
    e.emit(alu64_imm(BPF_XOR, R5, ir::kCtInvalid));
    e.emit(alu64_reg(BPF_AND, R5, R2));
    e.emit(alu64_reg(BPF_XOR, R4, R5));    // r4 = no entry ? INVALID : r4
    e.emit(stx(BPF_W, R7, R4, desc::kOffCtResult));
    return {};
  }

  Result<void> iface(Gen& g, const ir::IfaceMatch& m, Label if_false, Label, const ir::Rule& r) const override {
    // xt semantics: compare the name bytes plus the terminating NUL (exact) or just the prefix (wildcard)
    // against dev->name; a hook without that device compares against an all-zero name, as the kernel's
    // nulldevname. PROBE_MEM loads through a NULL device read zeros.
    if (m.name.size() > 15) return unsupported(g, r, "interface name longer than 15 characters");
    auto dev = g.btf.member_offset("nf_hook_state", m.out ? "out" : "in");
    auto name = g.btf.member_offset("net_device", "name");
    if (!dev || !name) return unsupported(g, r, "kernel BTF lacks nf_hook_state/net_device members");
    uint8_t want[16] = {}, mask[16] = {};
    size_t n = m.wildcard ? m.name.size() : m.name.size() + 1;
    for (size_t i = 0; i < n; ++i) {
      want[i] = i < m.name.size() ? static_cast<uint8_t>(m.name[i]) : 0;
      mask[i] = 0xff;
    }
    auto& e = g.e;
    e.emit(ldx(BPF_DW, R1, R6, kCtxState));
    e.emit(ldx(BPF_DW, R1, R1, static_cast<int16_t>(*dev)));
    for (int w = 0; w < 2; ++w) {
      uint64_t wv = 0, mv = 0;
      for (int b = 7; b >= 0; --b) {
        wv = (wv << 8) | want[w * 8 + b];
        mv = (mv << 8) | mask[w * 8 + b];
      }
      if (!mv) continue;
      e.emit(ldx(BPF_DW, R2, R1, static_cast<int16_t>(*name + w * 8)));
      if (mv != ~0ull) {
        e.emit(ld_imm64(R3, mv));
        e.emit(alu64_reg(BPF_AND, R2, R3));
      }
      e.emit(ld_imm64(R3, wv));
      e.jmp_reg(BPF_JNE, R2, R3, if_false);
    }
    return {};
  }

  Result<void> load_iface_name(Gen& g, bool out, int16_t dst, const ir::Rule& r) const override {
    auto dev = g.btf.member_offset("nf_hook_state", out ? "out" : "in");
    auto name = g.btf.member_offset("net_device", "name");
    if (!dev || !name) return unsupported(g, r, "kernel BTF lacks nf_hook_state/net_device members");
    auto& e = g.e;
    e.emit(ldx(BPF_DW, R1, R6, kCtxState));
    e.emit(ldx(BPF_DW, R1, R1, static_cast<int16_t>(*dev)));
    for (int w = 0; w < 2; ++w) {  // PROBE_MEM loads through a NULL device read zeros (see iface())
      e.emit(ldx(BPF_DW, R2, R1, static_cast<int16_t>(*name + w * 8)));
      e.emit(stx(BPF_DW, R7, R2, static_cast<int16_t>(dst + w * 8)));
    }
    return {};
  }

  Result<void> load_mac(Gen& g, Label absent, const ir::Rule& r) const override {
    // xt_mac: needs an Ethernet device and a MAC header that lies wholly before the network header.
    auto head = g.btf.member_offset("sk_buff", "head");
    auto mach = g.btf.member_offset("sk_buff", "mac_header");
    auto neth = g.btf.member_offset("sk_buff", "network_header");
    auto devo = g.btf.member_offset("sk_buff", "dev");
    auto type = g.btf.member_offset("net_device", "type");
    if (!head || !mach || !neth || !devo || !type) return unsupported(g, r, "kernel BTF lacks sk_buff members");
    auto& e = g.e;
    e.emit(ldx(BPF_DW, R8, R6, kCtxSkb));
    e.emit(ldx(BPF_DW, R1, R8, static_cast<int16_t>(*devo)));
    e.jmp_imm(BPF_JEQ, R1, 0, absent);
    e.emit(ldx(BPF_H, R1, R1, static_cast<int16_t>(*type)));
    e.jmp_imm(BPF_JNE, R1, 1 /* ARPHRD_ETHER */, absent);
    e.emit(ldx(BPF_H, R3, R8, static_cast<int16_t>(*mach)));
    e.jmp_imm(BPF_JEQ, R3, 0xffff, absent);
    e.emit(ldx(BPF_H, R2, R8, static_cast<int16_t>(*neth)));
    e.emit(mov64_reg(R1, R3));
    e.emit(alu64_imm(BPF_ADD, R1, 14));
    e.jmp_reg(BPF_JGT, R1, R2, absent);
    e.emit(ldx(BPF_DW, R1, R8, static_cast<int16_t>(*head)));
    e.emit(alu64_reg(BPF_ADD, R3, R1));
    e.emit(alu64_imm(BPF_ADD, R3, 6));  // source address
    e.emit(mov64_reg(R1, R7));
    e.emit(alu64_imm(BPF_ADD, R1, desc::kOffMac));
    e.emit(mov64_imm(R2, 6));
    e.emit(call_helper(kProbeReadKernel));
    e.jmp_imm(BPF_JNE, R0, 0, absent);
    return {};
  }

  Result<void> log_mac_header(Gen& g) const override {
    // nf_log_syslog.c dump_mac_header(): with an input device whose hard_header_len is not 0 and a MAC
    // header distinct from the network header, "MAC=" prints hard_header_len bytes from skb_mac_header.
    // The record holds 14 (Ethernet, and loopback's fake Ethernet header); a longer link-layer header
    // is not copied (mac_len stays 0) — the formatter then prints "MAC= ".
    auto head = g.btf.member_offset("sk_buff", "head");
    auto mach = g.btf.member_offset("sk_buff", "mac_header");
    auto neth = g.btf.member_offset("sk_buff", "network_header");
    auto devo = g.btf.member_offset("sk_buff", "dev");
    auto hhl = g.btf.member_offset("net_device", "hard_header_len");
    auto in = g.btf.member_offset("nf_hook_state", "in");
    if (!head || !mach || !neth || !devo || !hhl || !in)
      return make_error(EOPNOTSUPP, "kernel BTF lacks the sk_buff/net_device members LOG needs");
    auto& e = g.e;
    Label done = e.new_label();
    e.emit(ldx(BPF_DW, R1, R6, kCtxState));
    e.emit(ldx(BPF_DW, R1, R1, static_cast<int16_t>(*in)));
    e.jmp_imm(BPF_JEQ, R1, 0, done);
    e.emit(ldx(BPF_DW, R9, R6, kCtxSkb));
    e.emit(ldx(BPF_DW, R1, R9, static_cast<int16_t>(*devo)));
    e.jmp_imm(BPF_JEQ, R1, 0, done);
    e.emit(ldx(BPF_H, R4, R1, static_cast<int16_t>(*hhl)));
    e.jmp_imm(BPF_JEQ, R4, 0, done);
    e.jmp_imm(BPF_JGT, R4, static_cast<int32_t>(kLogMacBytes), done);
    e.emit(ldx(BPF_H, R3, R9, static_cast<int16_t>(*mach)));
    e.jmp_imm(BPF_JEQ, R3, 0xffff, done);
    e.emit(ldx(BPF_H, R2, R9, static_cast<int16_t>(*neth)));
    e.jmp_reg(BPF_JEQ, R3, R2, done);
    e.emit(ldx(BPF_DW, R1, R9, static_cast<int16_t>(*head)));
    e.emit(alu64_reg(BPF_ADD, R3, R1));
    e.emit(stx(BPF_B, R8, R4, static_cast<int16_t>(offsetof(LogRecord, mac_len))));
    e.emit(mov64_reg(R1, R8));
    e.emit(alu64_imm(BPF_ADD, R1, static_cast<int32_t>(offsetof(LogRecord, mac))));
    e.emit(mov64_reg(R2, R4));
    e.emit(call_helper(kProbeReadKernel));
    e.jmp_imm(BPF_JEQ, R0, 0, done);
    e.emit(st_imm(BPF_B, R8, static_cast<int16_t>(offsetof(LogRecord, mac_len)), 0));  // read failed
    e.bind(done);
    return {};
  }

  Result<void> set_mark(Gen& g, const ir::Action&, const ir::Rule& r) const override {
    return unsupported(g, r, "MARK needs to write skb->mark, which netfilter programs can only read");
  }

 private:
  static uint32_t off(const char* s, const char* m, Gen& g) {
    auto o = g.btf.member_offset(s, m);
    return o ? *o : 0;
  }
};

}  // namespace

std::unique_ptr<HookOps> make_netfilter_ops() { return std::make_unique<NetfilterOps>(); }

}  // namespace nfjit::codegen
