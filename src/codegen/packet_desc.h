// The packet descriptor: what header parsing computes once per packet, kept in the main frame's stack and
// read by every rule. Register r7 points at its base in every frame (subprograms receive it as an
// argument), so a field is always `*(u32 *)(r7 + kOff...)`. All integer fields are host-order u32.
//
// Registers (every frame): r6 = the hook's context pointer, r7 = descriptor base, r8/r9 free for one
// match at a time (callee-saved across helper calls), r0-r5 scratch (clobbered by calls).
#pragma once

#include <cstdint>

namespace nfjit::codegen::desc {

// Which fields hold a value for this packet (kOffValid). A match on a field whose bit is clear is false,
// inverted or not (see ir.h).
enum ValidBit : uint32_t {
  kValidL3 = 1u << 0,        // nfproto, l4proto, addresses, ttl, tos, length, fragment
  kValidPorts = 1u << 1,     // sport/dport: TCP/UDP/UDP-Lite/SCTP/DCCP, first fragment, >= 4 bytes
  kValidTcpFlags = 1u << 2,  // TCP, first fragment, >= 14 bytes
  kValidIcmp = 1u << 3,      // ICMP (IPv4) / ICMPv6 (IPv6), first fragment, >= 2 bytes
  kValidMac = 1u << 4,       // source MAC (hooks with an Ethernet header)
  kValidL4Hdr = 1u << 5,     // the transport header was located (not a non-first fragment)
  kValidL4Proto = 1u << 6,   // l4proto is known: IPv4 always; IPv6 when the extension-header walk succeeded
  // "No hotdrop condition" bits (ir::Hotdrop): set when the word is initialised, cleared by parsing when
  // the condition holds, so that a rule can require them exactly like valid bits (a hotdrop match is
  // false when its condition holds) and a frame parsing never reached (non-IP at a netdev table) has
  // none of the conditions.
  kNoFragOne = 1u << 7,      // not an IPv4 fragment at offset 1 (xt tcp)
  kNoWalkFail = 1u << 8,     // not an IPv6 packet whose extension-header walk fails (ip6tables -p)
};
// Bit kNoShortFirst + i: the transport header is not located-but-shorter-than the i-th distinct
// Hotdrop::short_l4 length of the program (Gen::short_l4).
inline constexpr uint32_t kNoShortFirst = 9;
inline constexpr uint32_t kMaxShortL4 = 8;

inline constexpr int16_t kOffL3Off = 0;      // packet offset of the network header (load_bytes offset)
inline constexpr int16_t kOffL4Off = 4;      // packet offset of the transport header
inline constexpr int16_t kOffL3Len = 8;      // bytes from the network header to the end (counters, limits)
inline constexpr int16_t kOffNfProto = 12;   // 4, 6, or 0 (not IP)
inline constexpr int16_t kOffL4Proto = 16;
inline constexpr int16_t kOffFragment = 20;  // 1: non-first fragment
inline constexpr int16_t kOffValid = 24;     // ValidBit mask
inline constexpr int16_t kOffSport = 28;
inline constexpr int16_t kOffDport = 32;
inline constexpr int16_t kOffTcpFlags = 36;
inline constexpr int16_t kOffIcmpType = 40;
inline constexpr int16_t kOffIcmpCode = 44;
inline constexpr int16_t kOffLength = 48;    // IPv4 total length / IPv6 payload length + 40
inline constexpr int16_t kOffTtl = 52;
inline constexpr int16_t kOffTos = 56;
inline constexpr int16_t kOffScratch = 60;   // 4 bytes free for one match
inline constexpr int16_t kOffSaddr = 64;     // 16 bytes, network order (IPv4: first 4)
inline constexpr int16_t kOffDaddr = 80;     // 16 bytes
inline constexpr int16_t kOffMac = 96;       // 8 bytes: source MAC in the first 6
inline constexpr int16_t kOffKey = 104;      // 72 bytes: map keys (counters, sets, limits)
inline constexpr uint32_t kKeyBytes = 72;
inline constexpr int16_t kOffDynptr = 176;   // 16 bytes: struct bpf_dynptr (netfilter)
inline constexpr int16_t kOffBuf = 192;      // 64 bytes: header bytes being parsed
inline constexpr uint32_t kBufBytes = 64;
inline constexpr int16_t kOffCt = 256;       // 56 bytes: bpf_sock_tuple + bpf_ct_opts (XDP/TC ct lookup)
inline constexpr int16_t kOffCtMark = 308;  // XDP/TC: ct->mark after the lookup (last word of bpf_ct_opts)
inline constexpr int16_t kOffOnes = 312;     // u32 0xffffffff the verifier cannot know (see below)
inline constexpr int16_t kOffCtResult = 316; // 4 bytes: XDP/TC ct lookup result (see hook_ct.cc)
// Bytes of the transport header the packet holds (from l4off to the end of the IP packet as netfilter
// sees it: skb->len there, the IP header's length at XDP/TC); meaningful with kValidL4Hdr. Parsed only
// when some rule reads transport fields (g.need_l4); read by the xtables hotdrop test.
inline constexpr int16_t kOffL4Avail = 320;
// XDP/TC: packet offset where the IP packet ends (l3off + its IP length; the frame length when the
// length field is 0: BIG TCP / jumbo). Header reads past it fail, as they would on netfilter's skb.
inline constexpr int16_t kOffL3End = 324;
// Classifier segments (classify.h): what the segment loads once at its entry, then the masked key of
// one tuple at a time.
inline constexpr int16_t kOffClsValid = 328;  // valid word | presence bits of the loaded metadata
inline constexpr int16_t kOffClsMeta = 332;   // 8 x u32: metadata fields (Segment::metas order)
inline constexpr int16_t kOffClsIif = 368;    // 16 bytes: input interface name (zeros: no device; 8-aligned)
inline constexpr int16_t kOffClsOif = 384;    // 16 bytes: output interface name
inline constexpr int16_t kOffClsKey = 400;    // 96 bytes: the lookup key
inline constexpr int16_t kSize = 496;        // main frame stack bytes; subprograms use none

// Why matches "launder" every descriptor value they compare (an ALU op such as `w1 |= 0` after the
// load): the verifier links a register filled from a spilled stack slot to that slot, so a compare that
// fails on a rule's *second* match teaches it the exact value of the *first* field for the rest of the
// chain. Those states never prune against the general ones and an N-rule chain costs O(N^2) verifier
// steps (10,000 rules: over the 1M limit). Any ALU op but 64-bit add-constant clears the link.
//
// Why rules AND their mismatch value with kOffOnes before branching on it (rule_test.cc): parsing takes
// several paths (fragment, no ports, TCP...) and leaves *known* constants in the descriptor (the valid
// mask, zeroed fields). On such a path a rule's mismatch value often has a known non-zero bit, so the
// verifier decides the branch statically and marks every input precise, backtracking through all rules
// since the last checkpoint: quadratic verification (4,000 rules: 7 s), and precise states prune
// nothing. kOffOnes holds x | ~x for an unknown x: all ones at run time, unknown to the verifier, so
// after the AND no branch is decidable, no precision is requested, and each rule's states prune
// against the first path's.

}  // namespace nfjit::codegen::desc
