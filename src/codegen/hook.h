// Per-hook operations: everything that differs between XDP (xdp_md), TC/TCX (__sk_buff) and
// BPF_NETFILTER (bpf_nf_ctx {state, skb}) sits behind this interface, one implementation per file.
// The parser, matches and chain layout are written once against it.
#pragma once

#include <memory>

#include "codegen/gen.h"

namespace nfjit::codegen {

class HookOps {
 public:
  virtual ~HookOps() = default;
  virtual uint32_t prog_type() const = 0;
  virtual uint32_t expected_attach_type() const = 0;
  // True when the packet starts with an Ethernet header (XDP, TC); false at netfilter (network header).
  virtual bool link_layer() const = 0;
  // The value the program returns for accept/drop.
  virtual int32_t verdict(bool accept) const = 0;

  // Runs after r6 = ctx and r7 = descriptor: makes load_bytes() usable. May jump to g.exit_accept.
  virtual Result<void> prologue(Gen& g) const = 0;
  // r<dst> = packet length from packet offset 0 (for the L3 length). May clobber r0-r5.
  virtual void total_len(Gen& g, uint8_t dst) const = 0;
  // Copies `len` packet bytes at the offset held in `off_reg` to r7 + dst; jumps to `fail` when the
  // packet is shorter. Clobbers r0-r5 (off_reg may be any register; it is read first).
  virtual void load_bytes(Gen& g, uint8_t off_reg, int16_t dst, uint32_t len, Label fail) const = 0;
  // Same with a destination pointer already in r<dst_reg> (for example ring buffer memory); len in r<len_reg>.
  virtual void load_bytes_to(Gen& g, uint8_t off_reg, uint8_t dst_reg, uint8_t len_reg) const = 0;

  // r1 = 32-bit metadata field (Mark, PktType, IifIndex, OifIndex, CtState, CtMark); jumps to `absent`
  // where the packet has no value. EOPNOTSUPP (naming the rule) where the hook cannot read it.
  virtual Result<void> load_meta(Gen& g, ir::Field f, Label absent, const ir::Rule& r) const = 0;
  // Whether load_meta(f) is a plain load that never jumps to `absent` (then matches on f can be
  // evaluated branch-free, match_branch_free.cc).
  virtual bool meta_branch_free(ir::Field) const { return false; }
  // Conntrack state once per packet after parsing, for tables with a ct match, into kOffCtResult: the
  // XDP/TC lookup (hook_ct.cc), or at netfilter the state bit from skb->_nfct.
  virtual Result<void> conntrack(Gen&) const { return {}; }
  // Interface name match; falls through when the name matches, else jumps to if_false.
  virtual Result<void> iface(Gen& g, const ir::IfaceMatch& m, Label if_false, Label absent,
                             const ir::Rule& r) const = 0;
  // The 16 bytes of the input (out = false) or output interface's name into r7 + dst, all zeros where
  // the hook has no such device (as the kernel's nulldevname). Only where names are read at run time
  // (netfilter); XDP/TC decide interface matches at compile time. Clobbers r0-r5.
  virtual Result<void> load_iface_name(Gen& g, bool out, int16_t dst, const ir::Rule& r) const;
  // Source MAC into r7 + kOffMac (6 bytes), or jump to absent.
  virtual Result<void> load_mac(Gen& g, Label absent, const ir::Rule& r) const = 0;
  // LOG at a hook without the frame in its packet bytes (netfilter): copy the link-layer header into the
  // LogRecord at r8 (mac[], mac_len) where the kernel's LOG would print one. Default: nothing to copy.
  virtual Result<void> log_mac_header(Gen&) const { return {}; }
  // skb->mark = (mark & ~mask) ^ value.
  virtual Result<void> set_mark(Gen& g, const ir::Action& a, const ir::Rule& r) const = 0;
};

std::unique_ptr<HookOps> make_netfilter_ops();
std::unique_ptr<HookOps> make_xdp_ops();
std::unique_ptr<HookOps> make_tc_ops(bool ingress);

// Interface-name matching decided at compile time (XDP/TC know their one device).
bool iface_name_matches(const ir::IfaceMatch& m, const std::string& ifname);

// r1 holds skb->pkt_type; maps PACKET_LOOPBACK (5) to what xt_pkttype / nft `meta pkttype` report:
// MULTICAST for IPv6 and for IPv4 to 224.0.0.0/4, else BROADCAST. Branch-free; clobbers r2-r4 (r0 is
// kept: branch-free matches accumulate in it). `Runtime` reads the family from the descriptor and leaves
// 5 for a frame that is neither (no L3: only netdev tables run rules on those).
enum class PkttypeFamily { Ipv4, Ipv6, Runtime };
void emit_pkttype_loopback(Gen& g, PkttypeFamily fam);

}  // namespace nfjit::codegen
