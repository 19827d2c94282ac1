// XDP: ctx is struct xdp_md; the packet starts with the Ethernet header. Packet bytes are copied to the
// stack with bpf_xdp_load_bytes, which bounds-checks variable offsets (IPv4 options, IPv6 extension
// headers) for us and also reads multi-buffer frames; the program is attached to one known interface,
// so input-interface matches are decided at compile time. XDP runs before an skb exists: no mark, no
// packet type, no output interface.
#include <linux/bpf.h>
#include <linux/if_link.h>

#include <cstddef>

#include "codegen/hook.h"
#include "codegen/hook_ct.h"

namespace nfjit::codegen {
namespace {

using namespace insn;

constexpr int32_t kXdpGetBuffLen = 188;

class XdpOps : public HookOps {
 public:
  uint32_t prog_type() const override { return BPF_PROG_TYPE_XDP; }
  uint32_t expected_attach_type() const override { return BPF_XDP; }
  bool link_layer() const override { return true; }
  int32_t verdict(bool accept) const override { return accept ? XDP_PASS : XDP_DROP; }

  Result<void> prologue(Gen&) const override { return {}; }

  void total_len(Gen& g, uint8_t dst) const override {
    g.e.emit(mov64_reg(R1, R6));
    g.e.emit(call_helper(kXdpGetBuffLen));
    g.e.emit(mov64_reg(dst, R0));
  }

  void load_bytes(Gen& g, uint8_t off_reg, int16_t dst, uint32_t len, Label fail) const override {
    // long bpf_xdp_load_bytes(struct xdp_buff *ctx, u32 offset, void *buf, u32 len)
    g.e.emit(mov64_reg(R2, off_reg));
    g.e.emit(mov64_reg(R1, R6));
    g.e.emit(mov64_reg(R3, R7));
    g.e.emit(alu64_imm(BPF_ADD, R3, dst));
    g.e.emit(mov64_imm(R4, static_cast<int32_t>(len)));
    g.e.emit(call_helper(kXdpLoadBytes));
    g.e.jmp_imm(BPF_JNE, R0, 0, fail);
  }

  void load_bytes_to(Gen& g, uint8_t off_reg, uint8_t dst_reg, uint8_t len_reg) const override {
    g.e.emit(mov64_reg(R2, off_reg));
    g.e.emit(mov64_reg(R4, len_reg));
    g.e.emit(mov64_reg(R3, dst_reg));
    g.e.emit(mov64_reg(R1, R6));
    g.e.emit(call_helper(kXdpLoadBytes));
  }

  Result<void> conntrack(Gen& g) const override { return emit_ct_lookup(g, "bpf_xdp_ct_lookup", false); }

  Result<void> load_meta(Gen& g, ir::Field f, Label absent, const ir::Rule& r) const override {
    if (is_ct_field(f)) return load_ct_meta(g, f, absent);
    if (f == ir::Field::IifIndex) {
      g.e.emit(ldx(BPF_W, R1, R6, offsetof(struct xdp_md, ingress_ifindex)));
      return {};
    }
    return unsupported(g, r, std::string("field ") + ir::to_string(f) + " does not exist at XDP (no skb yet)");
  }

  bool meta_branch_free(ir::Field f) const override { return f == ir::Field::IifIndex; }

  Result<void> iface(Gen& g, const ir::IfaceMatch& m, Label if_false, Label, const ir::Rule& r) const override {
    if (m.out) return unsupported(g, r, "the output interface is not known at XDP");
    if (!iface_name_matches(m, g.at.ifname)) g.e.ja(if_false);
    return {};
  }

  Result<void> load_mac(Gen& g, Label absent, const ir::Rule&) const override {
    g.e.emit(mov64_imm(R1, 6));
    load_bytes(g, R1, desc::kOffMac, 6, absent);
    return {};
  }

  Result<void> set_mark(Gen& g, const ir::Action&, const ir::Rule& r) const override {
    return unsupported(g, r, "MARK needs an skb; XDP runs before one exists");
  }
};

}  // namespace

std::unique_ptr<HookOps> make_xdp_ops() { return std::make_unique<XdpOps>(); }

}  // namespace nfjit::codegen
