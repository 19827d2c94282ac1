// Conntrack state and mark at XDP and TC, where conntrack has not run for this packet (ingress) or has
// run but left nothing a SCHED_CLS program may read through __sk_buff (egress). The kfuncs
// bpf_xdp_ct_lookup / bpf_skb_ct_lookup find the connection of a tuple (either direction) and
// bpf_ct_release drops the reference. The lookup runs once per packet, in parse, for tables with a ct
// match; its result sits in the descriptor:
//   kOffCtResult: state bit (ir::kCtEstablished / kCtNew / kCtInvalid), 0 = unknown (the match is then
//                 absent: false whether inverted or not), plus kCtMarkValid when kOffCtMark holds a mark.
//   kOffCtMark:   ct->mark, written over the last opts word after the call (still 0 when the lookup
//                 found nothing: the mark of the connection conntrack is about to create).
//
// Classification (as xt_conntrack / nft ct state would see it at the first netfilter hook):
//  - tuple found in the reply direction -> ESTABLISHED (IP_CT_ESTABLISHED_REPLY);
//  - found in the original direction: IPS_SEEN_REPLY in ct->status -> ESTABLISHED, else NEW (conntrack
//    gives IP_CT_NEW to every packet of a connection that has not seen a reply);
//  - not found, ingress: what conntrack would do with a first packet: UDP -> NEW; TCP -> NEW for SYN
//    without ACK, and for a bare ACK (nf_conntrack_tcp_loose=1, the default, picks up mid-stream
//    connections); RST, SYN|ACK, FIN or no flag -> INVALID (tcp_conntracks[][][TCP_CONNTRACK_NONE] = sIV);
//  - not found, TC egress: conntrack already ran at OUTPUT/FORWARD and confirmed every connection it
//    tracks at POSTROUTING, so no entry means the packet was INVALID (or UNTRACKED);
//  - TCP/UDP header too short for the ports -> INVALID (tcp_error / udp_error);
//  - a non-first fragment -> unknown (conntrack sees the reassembled datagram).
// The kfuncs only accept TCP and UDP tuples (bpf_ct_opts.l4proto, -EPROTO otherwise), so a rule with a
// ct match must be restricted to TCP/UDP here (check_ct_rule); INVALID and UNTRACKED cannot be computed
// exactly before conntrack runs (window tracking, checksums, tcp_loose, NOTRACK) and are refused.
// docs/codegen.md "Conntrack at XDP/TC" lists where this differs from conntrack.
#include <linux/netfilter/nf_conntrack_common.h>

#include "codegen/hook_ct.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

// struct bpf_ct_opts as vmlinux BTF declares it on 6.18 (NF_BPF_CT_OPTS_SZ = 16):
// { s32 netns_id; s32 error; u8 l4proto; u8 dir; u16 ct_zone_id; u8 ct_zone_dir; u8 reserved[3]; }
constexpr int16_t kOffTuple = kOffCt;            // struct bpf_sock_tuple (12 or 36 bytes)
constexpr int16_t kOffOpts = kOffCt + 40;        // struct bpf_ct_opts (16 bytes, ends at kOffOnes)
constexpr int32_t kOptsSize = 16;

Result<uint32_t> opts_size(const Gen& g) {
  // opts__sz must equal the kernel's NF_BPF_CT_OPTS_SZ: check the running kernel's layout.
  auto mi = g.btf.member("bpf_ct_opts", "reserved");
  if (!mi) return mi.error();
  if (mi->bit_offset / 8 + mi->byte_size != kOptsSize)
    return make_error(EOPNOTSUPP, "kernel's struct bpf_ct_opts is not the 16-byte layout nfjit emits");
  return static_cast<uint32_t>(kOptsSize);
}

void store_state(Gen& g, uint32_t bits) { g.e.emit(st_imm(BPF_W, R7, kOffCtResult, static_cast<int32_t>(bits))); }

}  // namespace

bool is_ct_field(ir::Field f) { return f == ir::Field::CtState || f == ir::Field::CtMark; }

Result<void> check_ct_rule(const Gen& g, const ir::Rule& r) {
  if (g.at.kind == AttachKind::Netfilter) return {};
  bool has_ct = false, tcp_udp_only = false;
  for (const auto& m : r.matches) {
    const auto* im = std::get_if<ir::IntMatch>(&m.m);
    if (!im) continue;
    if (im->field == ir::Field::L4Proto && !m.invert && im->op == ir::IntOp::InRanges && im->mask == 0xffffffffu &&
        !im->ranges.empty()) {
      bool ok = true;
      for (const auto& rg : im->ranges)
        for (uint64_t v = rg.lo; v <= rg.hi && ok; ++v) ok = v == 6 || v == 17;
      tcp_udp_only |= ok;
    }
    if (!is_ct_field(im->field)) continue;
    has_ct = true;
    if (im->field == ir::Field::CtState && (im->mask & (ir::kCtInvalid | ir::kCtUntracked)))
      return unsupported(g, r,
                         "ct state INVALID/UNTRACKED is conntrack's own verdict (TCP window and flag checks, "
                         "checksums, NOTRACK) and is not known before conntrack runs");
  }
  if (has_ct && !tcp_udp_only)
    return unsupported(g, r,
                       "the conntrack lookup kfuncs only take TCP and UDP tuples; a ct match here needs the rule "
                       "restricted to tcp/udp (other protocols' state is only known at a netfilter hook)");
  return {};
}

Result<void> emit_ct_lookup(Gen& g, const std::string& kfunc, bool egress) {
  auto& e = g.e;
  auto sz = opts_size(g);
  if (!sz) return sz.error();
  auto status = g.btf.member_offset("nf_conn", "status");
  auto mark = g.btf.member_offset("nf_conn", "mark");
  if (!status || !mark) return make_error(EOPNOTSUPP, "kernel BTF lacks nf_conn::status / nf_conn::mark");

  Label done = e.new_label(), invalid = e.new_label(), not_found = e.new_label(), fresh = e.new_label();
  Label v6 = e.new_label(), tuple_done = e.new_label(), established = e.new_label(), found_done = e.new_label();
  store_state(g, 0);
  e.emit(ldx(BPF_W, R1, R7, kOffValid));
  e.jmp_imm(BPF_JSET, R1, kValidL4Hdr, fresh);
  e.ja(done);  // non-first fragment: unknown
  e.bind(fresh);
  e.emit(ldx(BPF_W, R9, R7, kOffL4Proto));
  Label tcpudp = e.new_label();
  e.jmp_imm(BPF_JEQ, R9, 6, tcpudp);
  e.jmp_imm(BPF_JEQ, R9, 17, tcpudp);
  e.ja(done);  // no TCP/UDP: unknown (rules with ct matches are restricted to tcp/udp, check_ct_rule)
  e.bind(tcpudp);
  e.jmp_imm(BPF_JSET, R1, kValidPorts, tuple_done);
  e.ja(invalid);  // header too short for the ports
  e.bind(tuple_done);

  // struct bpf_sock_tuple: addresses and ports as they sit in the packet.
  e.emit(ldx(BPF_W, R1, R7, kOffNfProto));
  e.jmp_imm(BPF_JEQ, R1, 6, v6);
  for (int w = 0; w < 2; ++w) {
    e.emit(ldx(BPF_W, R1, R7, static_cast<int16_t>((w ? kOffDaddr : kOffSaddr))));
    e.emit(stx(BPF_W, R7, R1, static_cast<int16_t>(kOffTuple + 4 * w)));
  }
  for (int p = 0; p < 2; ++p) {
    e.emit(ldx(BPF_W, R1, R7, p ? kOffDport : kOffSport));
    e.emit(to_be(R1, 16));
    e.emit(stx(BPF_H, R7, R1, static_cast<int16_t>(kOffTuple + 8 + 2 * p)));
  }
  e.emit(mov64_imm(R8, 12));
  Label call = e.new_label();
  e.ja(call);
  e.bind(v6);
  for (int w = 0; w < 8; ++w) {
    e.emit(ldx(BPF_W, R1, R7, static_cast<int16_t>((w < 4 ? kOffSaddr : kOffDaddr) + 4 * (w % 4))));
    e.emit(stx(BPF_W, R7, R1, static_cast<int16_t>(kOffTuple + 4 * w)));
  }
  for (int p = 0; p < 2; ++p) {
    e.emit(ldx(BPF_W, R1, R7, p ? kOffDport : kOffSport));
    e.emit(to_be(R1, 16));
    e.emit(stx(BPF_H, R7, R1, static_cast<int16_t>(kOffTuple + 32 + 2 * p)));
  }
  e.emit(mov64_imm(R8, 36));
  e.bind(call);
  // struct bpf_ct_opts: current netns, default zone, l4proto; dir is written back by the kernel.
  e.emit(st_imm(BPF_W, R7, kOffOpts + 0, -1));
  e.emit(st_imm(BPF_W, R7, kOffOpts + 4, 0));
  e.emit(st_imm(BPF_W, R7, kOffOpts + 8, 0));
  e.emit(st_imm(BPF_W, R7, kOffOpts + 12, 0));
  e.emit(stx(BPF_B, R7, R9, kOffOpts + 8));
  // kfunc(ctx, &tuple, tuple__sz, &opts, opts__sz)
  e.emit(mov64_reg(R1, R6));
  e.emit(mov64_reg(R2, R7));
  e.emit(alu64_imm(BPF_ADD, R2, kOffTuple));
  e.emit(mov64_reg(R3, R8));
  e.emit(mov64_reg(R4, R7));
  e.emit(alu64_imm(BPF_ADD, R4, kOffOpts));
  e.emit(mov64_imm(R5, static_cast<int32_t>(*sz)));
  if (auto res = g.call_kfunc(kfunc); !res) return res;
  e.jmp_imm(BPF_JEQ, R0, 0, not_found);
  e.emit(mov64_reg(R8, R0));  // the referenced nf_conn, released below on the one path out
  e.emit(ldx(BPF_W, R1, R8, static_cast<int16_t>(*mark)));
  e.emit(stx(BPF_W, R7, R1, kOffCtMark));
  e.emit(ldx(BPF_B, R1, R7, kOffOpts + 9));  // opts.dir: direction of the tuple that matched
  e.jmp_imm(BPF_JNE, R1, 0 /* IP_CT_DIR_ORIGINAL */, established);
  e.emit(ldx(BPF_DW, R1, R8, static_cast<int16_t>(*status)));
  e.jmp_imm(BPF_JSET, R1, IPS_SEEN_REPLY, established);
  store_state(g, ir::kCtNew | kCtMarkValid);
  e.ja(found_done);
  e.bind(established);
  store_state(g, ir::kCtEstablished | kCtMarkValid);
  e.bind(found_done);
  e.emit(mov64_reg(R1, R8));
  if (auto res = g.call_kfunc("bpf_ct_release"); !res) return res;
  e.ja(done);

  e.bind(not_found);
  if (egress) {
    e.ja(invalid);
  } else {
    Label is_new = e.new_label(), tcp = e.new_label(), flags = e.new_label(), syn = e.new_label();
    e.jmp_imm(BPF_JEQ, R9, 6, tcp);
    e.ja(is_new);  // UDP: conntrack starts a connection for any packet
    e.bind(tcp);
    // tcp_new(): the state for TCP_CONNTRACK_NONE by get_conntrack_index(flags).
    e.emit(ldx(BPF_W, R1, R7, kOffValid));
    e.jmp_imm(BPF_JSET, R1, kValidTcpFlags, flags);
    e.ja(invalid);
    e.bind(flags);
    e.emit(ldx(BPF_W, R1, R7, kOffTcpFlags));
    e.jmp_imm(BPF_JSET, R1, 0x04, invalid);  // RST
    e.jmp_imm(BPF_JSET, R1, 0x02, syn);
    e.jmp_imm(BPF_JSET, R1, 0x01, invalid);  // FIN
    e.jmp_imm(BPF_JSET, R1, 0x10, is_new);   // ACK: picked up (nf_conntrack_tcp_loose)
    e.ja(invalid);                           // no flag
    e.bind(syn);                             // SYN: new unless SYN|ACK
    e.jmp_imm(BPF_JSET, R1, 0x10, invalid);
    e.bind(is_new);
    store_state(g, ir::kCtNew | kCtMarkValid);  // the new connection's mark: kOffCtMark is still 0 (opts)
    e.ja(done);
  }
  e.bind(invalid);
  store_state(g, ir::kCtInvalid);
  e.bind(done);
  return {};
}

Result<void> load_ct_meta(Gen& g, ir::Field f, Label absent) {
  auto& e = g.e;
  e.emit(ldx(BPF_W, R1, R7, kOffCtResult));
  if (f == ir::Field::CtState) {
    e.jmp_imm(BPF_JEQ, R1, 0, absent);
    e.emit(alu32_imm(BPF_AND, R1, 0xff));
    return {};
  }
  Label present = e.new_label();
  e.jmp_imm(BPF_JSET, R1, kCtMarkValid, present);
  e.ja(absent);
  e.bind(present);
  e.emit(ldx(BPF_W, R1, R7, kOffCtMark));
  return {};
}

}  // namespace nfjit::codegen
