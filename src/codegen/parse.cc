#include "codegen/parse.h"

#include "codegen/hook.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

void set_valid(Gen& g, uint32_t bit) {
  g.e.emit(ldx(BPF_W, R1, R7, kOffValid));
  g.e.emit(alu32_imm(BPF_OR, R1, static_cast<int32_t>(bit)));
  g.e.emit(stx(BPF_W, R7, R1, kOffValid));
}
void clear_valid(Gen& g, uint32_t bit) {
  g.e.emit(ldx(BPF_W, R1, R7, kOffValid));
  g.e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(~bit)));
  g.e.emit(stx(BPF_W, R7, R1, kOffValid));
}

// r<dst> = big-endian u16 at r7 + off.
void load_be16(Gen& g, uint8_t dst, int16_t off) {
  g.e.emit(ldx(BPF_H, dst, R7, off));
  g.e.emit(to_be(dst, 16));
}

void copy_words(Gen& g, int16_t from, int16_t to, int n_words) {
  for (int i = 0; i < n_words; ++i) {
    g.e.emit(ldx(BPF_W, R1, R7, static_cast<int16_t>(from + 4 * i)));
    g.e.emit(stx(BPF_W, R7, R1, static_cast<int16_t>(to + 4 * i)));
  }
}

// Like hook.load_bytes for headers after the fixed IP header, but at XDP/TC the bytes must also lie
// within the IP packet (kOffL3End): the stack trims the skb to the IP length before netfilter, so a
// netfilter hook never reads link-layer padding, and neither may a rule here (a TCP header cut short
// inside a padded minimum-size frame is truncated for xt tcp and nft alike).
void load_l3_bytes(Gen& g, uint8_t off_reg, int16_t dst, uint32_t len, Label fail) {
  if (g.hook.link_layer()) {
    g.e.emit(mov64_reg(R1, off_reg));
    g.e.emit(alu64_imm(BPF_ADD, R1, static_cast<int32_t>(len)));
    g.e.emit(ldx(BPF_W, R2, R7, kOffL3End));
    g.e.jmp_reg(BPF_JGT, R1, R2, fail);
  }
  g.hook.load_bytes(g, off_reg, dst, len, fail);
}

// XDP/TC: kOffL3End = r8 (l3off) + the IP length in r1, or the frame length when the length field is 0
// (`zero_field`: the value r1 holds then). Clobbers r0-r5.
void store_l3_end(Gen& g, int32_t zero_field) {
  if (!g.hook.link_layer()) return;
  auto& e = g.e;
  Label frame = e.new_label(), done = e.new_label();
  e.jmp_imm(BPF_JEQ, R1, zero_field, frame);
  e.emit(alu64_reg(BPF_ADD, R1, R8));
  e.ja(done);
  e.bind(frame);
  g.hook.total_len(g, R1);
  e.bind(done);
  e.emit(stx(BPF_W, R7, R1, kOffL3End));
}

// IPv4 header at packet offset r8. On success l4off, fields and nfproto are stored.
void parse_ipv4(Gen& g, Label bad) {
  auto& e = g.e;
  g.hook.load_bytes(g, R8, kOffBuf, 20, bad);
  e.emit(ldx(BPF_B, R1, R7, kOffBuf));
  e.emit(mov64_reg(R2, R1));
  e.emit(alu64_imm(BPF_RSH, R2, 4));
  e.jmp_imm(BPF_JNE, R2, 4, bad);
  e.emit(alu64_imm(BPF_AND, R1, 0xf));
  e.jmp_imm(BPF_JLT, R1, 5, bad);
  e.emit(alu64_imm(BPF_LSH, R1, 2));
  e.emit(alu64_reg(BPF_ADD, R1, R8));
  e.emit(stx(BPF_W, R7, R1, kOffL4Off));
  e.emit(ldx(BPF_B, R1, R7, kOffBuf + 1));
  e.emit(stx(BPF_W, R7, R1, kOffTos));
  load_be16(g, R1, kOffBuf + 2);
  e.emit(stx(BPF_W, R7, R1, kOffLength));
  store_l3_end(g, 0);  // tot_len 0: a BIG TCP GSO packet
  set_valid(g, kValidL4Proto);
  load_be16(g, R1, kOffBuf + 6);
  e.emit(alu32_imm(BPF_AND, R1, 0x1fff));
  Label first = e.new_label(), frag_done = e.new_label();
  e.jmp_imm(BPF_JEQ, R1, 0, first);
  e.emit(st_imm(BPF_W, R7, kOffFragment, 1));
  e.jmp_imm(BPF_JNE, R1, 1, frag_done);
  clear_valid(g, kNoFragOne);  // xt tcp hotdrops these (ir::Hotdrop::frag_offset_one)
  e.ja(frag_done);
  e.bind(first);
  set_valid(g, kValidL4Hdr);
  e.bind(frag_done);
  e.emit(ldx(BPF_B, R1, R7, kOffBuf + 8));
  e.emit(stx(BPF_W, R7, R1, kOffTtl));
  e.emit(ldx(BPF_B, R1, R7, kOffBuf + 9));
  e.emit(stx(BPF_W, R7, R1, kOffL4Proto));
  copy_words(g, kOffBuf + 12, kOffSaddr, 1);
  copy_words(g, kOffBuf + 16, kOffDaddr, 1);
  e.emit(st_imm(BPF_W, R7, kOffNfProto, 4));
}

// IPv6 header at packet offset r8, then its extension headers as ipv6_find_hdr(target -1) walks them:
// each header's first 2 bytes (a routing header's first 4, a fragment header's first 4) must be
// readable, else the walk fails (-EBADMSG); a non-first fragment ends it with the fragment header's next
// header as the protocol, unless that is another extension header (-ENOENT). A failed walk leaves
// L4Proto absent (nft's pktinfo is "unspec" then; ip6tables hotdrops rules with -p, ir::Hotdrop).
void parse_ipv6(Gen& g, Label bad) {
  auto& e = g.e;
  g.hook.load_bytes(g, R8, kOffBuf, 40, bad);
  e.emit(ldx(BPF_B, R1, R7, kOffBuf));
  e.emit(alu64_imm(BPF_RSH, R1, 4));
  e.jmp_imm(BPF_JNE, R1, 6, bad);
  load_be16(g, R1, kOffBuf);
  e.emit(alu32_imm(BPF_RSH, R1, 4));
  e.emit(alu32_imm(BPF_AND, R1, 0xff));
  e.emit(stx(BPF_W, R7, R1, kOffTos));
  load_be16(g, R1, kOffBuf + 4);
  e.emit(alu32_imm(BPF_ADD, R1, 40));
  e.emit(stx(BPF_W, R7, R1, kOffLength));
  store_l3_end(g, 40);  // payload length 0: a jumbogram or BIG TCP packet
  e.emit(ldx(BPF_B, R1, R7, kOffBuf + 7));
  e.emit(stx(BPF_W, R7, R1, kOffTtl));
  copy_words(g, kOffBuf + 8, kOffSaddr, 4);
  copy_words(g, kOffBuf + 24, kOffDaddr, 4);
  e.emit(st_imm(BPF_W, R7, kOffNfProto, 6));

  // r8 = offset of the next header, r9 = its type.
  e.emit(ldx(BPF_B, R9, R7, kOffBuf + 6));
  e.emit(alu64_imm(BPF_ADD, R8, 40));
  Label done = e.new_label(), no_l4 = e.new_label(), failed = e.new_label(), stored = e.new_label();
  for (int i = 0; i < kMaxIpv6ExtHeaders; ++i) {
    Label opt = e.new_label(), rt = e.new_label(), ah = e.new_label(), frag = e.new_label(), next = e.new_label();
    e.jmp_imm(BPF_JEQ, R9, 0, opt);    // hop-by-hop
    e.jmp_imm(BPF_JEQ, R9, 43, rt);    // routing
    e.jmp_imm(BPF_JEQ, R9, 60, opt);   // destination options
    e.jmp_imm(BPF_JEQ, R9, 51, ah);    // authentication header
    e.jmp_imm(BPF_JEQ, R9, 44, frag);  // fragment
    e.ja(done);                        // upper-layer header (or 59, no next header)
    e.bind(rt);
    load_l3_bytes(g, R8, kOffBuf, 4, failed);  // struct ipv6_rt_hdr
    e.bind(opt);
    load_l3_bytes(g, R8, kOffBuf, 2, failed);
    e.emit(ldx(BPF_B, R9, R7, kOffBuf));
    e.emit(ldx(BPF_B, R1, R7, kOffBuf + 1));
    e.emit(alu64_imm(BPF_ADD, R1, 1));
    e.emit(alu64_imm(BPF_LSH, R1, 3));
    e.emit(alu64_reg(BPF_ADD, R8, R1));
    e.ja(next);
    e.bind(ah);
    load_l3_bytes(g, R8, kOffBuf, 2, failed);
    e.emit(ldx(BPF_B, R9, R7, kOffBuf));
    e.emit(ldx(BPF_B, R1, R7, kOffBuf + 1));
    e.emit(alu64_imm(BPF_ADD, R1, 2));
    e.emit(alu64_imm(BPF_LSH, R1, 2));
    e.emit(alu64_reg(BPF_ADD, R8, R1));
    e.ja(next);
    e.bind(frag);
    load_l3_bytes(g, R8, kOffBuf, 4, failed);
    e.emit(ldx(BPF_B, R9, R7, kOffBuf));
    e.emit(alu64_imm(BPF_ADD, R8, 8));
    load_be16(g, R1, kOffBuf + 2);
    e.emit(alu32_imm(BPF_AND, R1, 0xfff8));
    e.jmp_imm(BPF_JEQ, R1, 0, next);
    // Non-first fragment: the protocol is the fragment header's next header; no transport header. When
    // that is itself an extension header (not 59) ipv6_find_hdr returns -ENOENT.
    e.emit(st_imm(BPF_W, R7, kOffFragment, 1));
    for (int x : {0, 43, 44, 51, 60}) e.jmp_imm(BPF_JEQ, R9, x, failed);
    e.ja(no_l4);
    e.bind(next);
  }
  // Still inside extension headers after kMaxIpv6ExtHeaders: no transport header found, the protocol
  // reads as the next extension header (the kernel would walk on: docs/codegen.md).
  e.bind(no_l4);
  set_valid(g, kValidL4Proto);
  e.ja(stored);
  e.bind(failed);
  clear_valid(g, kNoWalkFail);
  e.ja(stored);
  e.bind(done);
  set_valid(g, kValidL4Hdr | kValidL4Proto);
  e.bind(stored);
  e.emit(stx(BPF_W, R7, R9, kOffL4Proto));
  e.emit(stx(BPF_W, R7, R8, kOffL4Off));
}

// Transport fields, for a packet whose transport header was located (kValidL4Hdr): kOffL4Avail, then
// ports, TCP flags or ICMP type/code when the header holds them.
void parse_l4(Gen& g) {
  auto& e = g.e;
  Label done = e.new_label(), ports = e.new_label(), icmp = e.new_label(), avail_ok = e.new_label();
  e.emit(ldx(BPF_W, R1, R7, kOffValid));
  e.emit(alu32_imm(BPF_AND, R1, kValidL4Hdr));
  e.jmp_imm(BPF_JEQ, R1, 0, done);
  e.emit(ldx(BPF_W, R8, R7, kOffL4Off));
  // Bytes from the transport header to the end of the packet (0 when extension headers claim more).
  if (g.hook.link_layer()) e.emit(ldx(BPF_W, R1, R7, kOffL3End));
  else g.hook.total_len(g, R1);
  e.emit(alu64_reg(BPF_SUB, R1, R8));
  e.jmp_imm(BPF_JSGE, R1, 0, avail_ok);
  e.emit(mov64_imm(R1, 0));
  e.bind(avail_ok);
  e.emit(stx(BPF_W, R7, R1, kOffL4Avail));
  // Hotdrop conditions "located but shorter than N" (ir::Hotdrop::short_l4), one bit per length.
  for (size_t i = 0; i < g.short_l4.size(); ++i) {
    Label enough = e.new_label();
    e.emit(ldx(BPF_W, R1, R7, kOffL4Avail));
    e.jmp_imm(BPF_JGE, R1, g.short_l4[i], enough);
    clear_valid(g, 1u << (kNoShortFirst + i));
    e.bind(enough);
  }
  e.emit(ldx(BPF_W, R9, R7, kOffL4Proto));
  for (int p : {6, 17, 136, 132, 33}) e.jmp_imm(BPF_JEQ, R9, p, ports);
  e.emit(ldx(BPF_W, R1, R7, kOffNfProto));
  Label v6 = e.new_label();
  e.jmp_imm(BPF_JEQ, R1, 6, v6);
  e.jmp_imm(BPF_JEQ, R9, 1, icmp);
  e.ja(done);
  e.bind(v6);
  e.jmp_imm(BPF_JEQ, R9, 58, icmp);
  e.ja(done);

  e.bind(ports);
  load_l3_bytes(g, R8, kOffBuf, 4, done);
  load_be16(g, R1, kOffBuf);
  e.emit(stx(BPF_W, R7, R1, kOffSport));
  load_be16(g, R1, kOffBuf + 2);
  e.emit(stx(BPF_W, R7, R1, kOffDport));
  set_valid(g, kValidPorts);
  e.jmp_imm(BPF_JNE, R9, 6, done);
  e.emit(alu64_imm(BPF_ADD, R8, 13));
  load_l3_bytes(g, R8, kOffBuf, 1, done);
  e.emit(ldx(BPF_B, R1, R7, kOffBuf));
  e.emit(stx(BPF_W, R7, R1, kOffTcpFlags));
  set_valid(g, kValidTcpFlags);
  e.ja(done);

  e.bind(icmp);
  load_l3_bytes(g, R8, kOffBuf, 2, done);
  e.emit(ldx(BPF_B, R1, R7, kOffBuf));
  e.emit(stx(BPF_W, R7, R1, kOffIcmpType));
  e.emit(ldx(BPF_B, R1, R7, kOffBuf + 1));
  e.emit(stx(BPF_W, R7, R1, kOffIcmpCode));
  set_valid(g, kValidIcmp);
  e.bind(done);
}

}  // namespace

Result<void> emit_parse(Gen& g) {
  auto& e = g.e;
  // Defined contents for everything rules may read (addresses are compared as whole words).
  for (int16_t off = 0; off < kOffMac; off += 8) e.emit(st_imm(BPF_DW, R7, off, 0));
  // No hotdrop condition until parsing finds one (packet_desc.h).
  uint32_t no_hotdrop = kNoFragOne | kNoWalkFail;
  for (size_t i = 0; i < g.short_l4.size(); ++i) no_hotdrop |= 1u << (kNoShortFirst + i);
  e.emit(st_imm(BPF_W, R7, kOffValid, static_cast<int32_t>(no_hotdrop)));
  if (g.need_ct) e.emit(st_imm(BPF_W, R7, kOffCtResult, 0));  // unknown until the lookup (hook_ct.cc)
  if (g.need_l4) e.emit(st_imm(BPF_DW, R7, kOffL4Avail, 0));  // and kOffL3End

  const bool netdev = g.table.family == ir::Family::Netdev;
  const bool want4 = g.table.family != ir::Family::Ipv6 && (g.pf == 0 || g.pf == 4);
  const bool want6 = g.table.family != ir::Family::Ipv4 && (g.pf == 0 || g.pf == 6);
  Label l3_done = e.new_label(), v4 = e.new_label(), v6 = e.new_label(), not_ours = e.new_label();
  // A packet of a family the table does not filter never reaches it; at a netdev table it still runs
  // the rules, with no L3 fields.
  Label other = netdev ? l3_done : g.exit_accept;

  if (g.hook.link_layer()) {
    e.emit(mov64_imm(R8, 0));
    g.hook.load_bytes(g, R8, kOffBuf, 14, other);
    e.emit(ldx(BPF_H, R9, R7, kOffBuf + 12));
    e.emit(to_be(R9, 16));
    e.emit(mov64_imm(R8, 14));
    for (int tag = 0; tag < 2; ++tag) {  // 802.1Q / 802.1ad tags still in the frame
      Label vlan = e.new_label(), no_vlan = e.new_label();
      e.jmp_imm(BPF_JEQ, R9, 0x8100, vlan);
      e.jmp_imm(BPF_JNE, R9, 0x88a8, no_vlan);
      e.bind(vlan);
      g.hook.load_bytes(g, R8, kOffBuf, 4, other);
      e.emit(ldx(BPF_H, R9, R7, kOffBuf + 2));
      e.emit(to_be(R9, 16));
      e.emit(alu64_imm(BPF_ADD, R8, 4));
      e.bind(no_vlan);
    }
    e.emit(stx(BPF_W, R7, R8, kOffL3Off));
    if (want4) e.jmp_imm(BPF_JEQ, R9, 0x0800, v4);
    if (want6) e.jmp_imm(BPF_JEQ, R9, 0x86dd, v6);
    e.ja(other);
  } else {
    e.emit(mov64_imm(R8, 0));
    if (g.pf == 4 && want4) e.ja(v4);
    else if (g.pf == 6 && want6) e.ja(v6);
    else e.ja(g.exit_accept);
  }
  Label l3_ok = e.new_label();
  if (want4) {
    e.bind(v4);
    parse_ipv4(g, other);
    e.ja(l3_ok);
  }
  if (want6) {
    e.bind(v6);
    parse_ipv6(g, other);
  }
  e.bind(l3_ok);
  set_valid(g, kValidL3);
  if (g.need_l4) parse_l4(g);
  if (g.need_ct)
    if (auto res = g.hook.conntrack(g); !res) return res;
  e.bind(l3_done);
  e.bind(not_ours);

  // L3 length for counters: at netfilter skb->len (trimmed to the IP length by the stack); at XDP/TC the
  // frame may carry link-layer padding, so use the IP header's own length when there is one.
  if (g.hook.link_layer()) {
    Label no_ip = e.new_label(), store = e.new_label();
    e.emit(ldx(BPF_W, R1, R7, kOffValid));
    e.jmp_imm(BPF_JSET, R1, kValidL3, store);
    g.hook.total_len(g, R1);
    e.emit(ldx(BPF_W, R2, R7, kOffL3Off));
    e.emit(alu64_reg(BPF_SUB, R1, R2));
    e.emit(stx(BPF_W, R7, R1, kOffL3Len));
    e.ja(no_ip);
    e.bind(store);
    e.emit(ldx(BPF_W, R1, R7, kOffLength));
    e.emit(stx(BPF_W, R7, R1, kOffL3Len));
    e.bind(no_ip);
  } else {
    g.hook.total_len(g, R1);
    e.emit(stx(BPF_W, R7, R1, kOffL3Len));
  }
  // kOffOnes = x | ~x over 4 header bytes (packet_desc.h): 0xffffffff, opaque to the verifier. The
  // bytes were written by a load helper (or, on a netdev table's too-short frame, never: privileged
  // programs read such stack as unknown too).
  e.emit(ldx(BPF_W, R1, R7, kOffBuf));
  e.emit(mov64_reg(R2, R1));
  e.emit(alu32_imm(BPF_XOR, R2, -1));
  e.emit(alu32_reg(BPF_OR, R1, R2));
  e.emit(stx(BPF_W, R7, R1, kOffOnes));
  return {};
}

}  // namespace nfjit::codegen
