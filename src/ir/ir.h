// The one intermediate representation every front-end lowers to and the code generator reads.
//
// A ruleset is tables; a table has a family, chains and sets; a chain is a base chain (hook, priority,
// policy) or a user chain; a rule is a conjunction of matches, an implicit counter, and one action.
// Front-end quirks (xt structs, netlink expressions) end before this header: nothing here knows them.
//
// Conventions:
//  - Integer match values are host byte order (ports, lengths, marks...). Addresses are network byte
//    order byte arrays, as they sit in the packet.
//  - Every match carries `invert` (iptables `!`, nft `!=`). An inverted match is true exactly when the
//    plain match is false *and the field exists*: a port match on a packet without an L4 header is false
//    whether inverted or not, as in the kernel (xt_tcpudp drops/ignores non-first fragments and
//    non-matching protocols before looking at the invert flag).
//  - `origin` on a rule is how the user wrote it (for example "-A INPUT -p tcp --dport 22 -j ACCEPT" or
//    "tcp dport 22 accept"); every error names the rule by it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nfjit::ir {

enum class Family : uint8_t { Ipv4, Ipv6, Inet, Netdev };

// Netfilter hooks for ip/ip6/inet tables; Ingress/Egress for netdev tables.
enum class Hook : uint8_t { Prerouting, Input, Forward, Output, Postrouting, Ingress, Egress };

// The packet properties a match can test.
enum class Field : uint8_t {
  NfProto,      // 4 (IPv4) or 6 (IPv6): nft `meta nfproto`, the family at an inet chain
  L4Proto,      // IPv4 protocol / IPv6 upper-layer header after the extension headers it skips; absent
                // when the IPv6 extension-header chain cannot be walked (as nft's `meta l4proto`)
  Fragment,     // 1 for a non-first IPv4 fragment (iptables -f), else 0
  Saddr, Daddr, // addresses: AddrMatch / AddrRangeMatch only
  Sport, Dport, // TCP/UDP/UDP-Lite/SCTP/DCCP ports; absent in non-first fragments
  TcpFlags,     // the 8-bit flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80)
  IcmpType,     // ICMP type for IPv4, ICMPv6 type for IPv6 (per the rule's l3 family)
  IcmpCode,
  Length,       // IPv4 total length / IPv6 payload length + 40 (xt_length semantics)
  Ttl,          // IPv4 TTL / IPv6 hop limit
  Tos,          // the whole IPv4 TOS byte / IPv6 traffic class
  Dscp,         // upper 6 bits of TOS / traffic class
  PktType,      // PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3: skb->pkt_type, except that a
                // looped-back packet (PACKET_LOOPBACK) reads as MULTICAST (IPv4 to 224.0.0.0/4, any IPv6)
                // or BROADCAST (other IPv4), as xt_pkttype and nft `meta pkttype` report it; absent for a
                // looped-back non-IP frame at a netdev table (nft breaks)
  Mark,         // skb->mark
  CtState,      // bitmask of CtStateBit, see below; use IntOp::AnyBit
  CtMark,       // ct->mark (connmark match)
  IifIndex,     // interface index (nft `iif`)
  OifIndex,
  SkUid,        // socket owner uid (OUTPUT only)
};

// Conntrack state bits as xt_conntrack / nft ct state define them.
enum CtStateBit : uint32_t {
  kCtInvalid = 1u << 0,
  kCtEstablished = 1u << 1,
  kCtRelated = 1u << 2,
  kCtNew = 1u << 3,
  kCtUntracked = 1u << 6,
};

struct Range {
  uint32_t lo = 0, hi = 0;  // inclusive
  bool operator==(const Range&) const = default;
};

enum class IntOp : uint8_t {
  InRanges,  // (field & mask) lies in one of `ranges`
  AnyBit,    // (field & mask) != 0     (ct state, pkttype sets, addrtype...)
};

// Integer fields of up to 32 bits.
struct IntMatch {
  Field field{};
  IntOp op = IntOp::InRanges;
  uint32_t mask = 0xffffffffu;
  std::vector<Range> ranges;
  bool operator==(const IntMatch&) const = default;
};

using Addr = std::array<uint8_t, 16>;  // IPv4 uses the first 4 bytes

// (address & mask) == (value & mask). `len` is 4 or 16.
struct AddrMatch {
  Field field{};  // Saddr or Daddr
  uint8_t len = 4;
  Addr value{}, mask{};
  bool operator==(const AddrMatch&) const = default;
};

// lo <= address <= hi, compared as big-endian numbers (xt_iprange).
struct AddrRangeMatch {
  Field field{};
  uint8_t len = 4;
  Addr lo{}, hi{};
  bool operator==(const AddrRangeMatch&) const = default;
};

// Interface by name, as iptables -i/-o and nft iifname/oifname do. `wildcard` means `name` is a prefix
// (iptables "eth+", nft "eth*").
struct IfaceMatch {
  bool out = false;
  std::string name;
  bool wildcard = false;
  bool operator==(const IfaceMatch&) const = default;
};

// Source MAC (iptables -m mac); needs an Ethernet header (XDP, TC, or netfilter PREROUTING/INPUT/FORWARD).
struct MacMatch {
  std::array<uint8_t, 6> addr{};
  bool operator==(const MacMatch&) const = default;
};

// Membership of a tuple of packet fields in a named set of the same table.
struct SetMatch {
  std::string set;
  bool operator==(const SetMatch&) const = default;
};

// Token bucket with the kernel's semantics: `rate` tokens per `per_ns` nanoseconds, bucket of `burst`
// (xt_limit: --limit N/unit --limit-burst B; nft: limit rate N/unit burst B packets). The match is true
// while tokens are available. Byte-mode limits (nft `limit rate 10 mbytes/second`) set `bytes`.
// `clock` says whose arithmetic: Ns is nft_limit's nanosecond bucket (rate / per_ns / burst / bytes);
// Jiffies is xt_limit's (xt_limit.c limit_mt): whole jiffies times CREDITS_PER_JIFFY credits, u32
// arithmetic, cost and cap from `xt_avg` (xt_rateinfo.avg: 1/XT_LIMIT_SCALE = 1/10000 s per packet)
// and `burst`, with the running kernel's HZ. For Jiffies, rate / per_ns are kept only for display.
enum class LimitClock : uint8_t { Ns, Jiffies };
struct LimitMatch {
  uint64_t rate = 0;
  uint64_t per_ns = 1'000'000'000ull;
  uint32_t burst = 5;
  bool bytes = false;
  LimitClock clock = LimitClock::Ns;
  uint32_t xt_avg = 0;  // Jiffies only: xt_rateinfo.avg
  bool operator==(const LimitMatch&) const = default;
};

// xtables "hotdrop": an xt match that cannot read the header it needs sets par->hotdrop, and
// ipt_do_table / ip6t_do_table then return NF_DROP at once — no counter of this rule (nor of any later
// rule or the chain's policy) is touched. The conditions below are checked when the match is evaluated,
// that is when every match before it in the rule held (the kernel evaluates matches in order and stops
// at the first false one); when one is true the packet is dropped, otherwise the match itself is false
// whenever the packet lacks its field. nft's own expressions never hotdrop (a short packet makes them
// break), so only the xtables decoders (and nft's xt compat expressions through them) set these.
struct Hotdrop {
  // The transport header of an unfragmented packet or first fragment (the one a non-first fragment
  // lacks) has fewer bytes than this: xt tcp 20, udp 8, icmp / icmp6 8, multiport 4 (skb_header_pointer
  // of struct tcphdr / udphdr / icmphdr / the two ports fails).
  uint8_t short_l4 = 0;
  // IPv4 fragment offset exactly 1 (8 bytes): xt tcp drops these "evil" fragments (flag overwrite).
  bool frag_offset_one = false;
  // IPv6: the extension-header chain cannot be walked to an upper-layer header (ipv6_find_hdr fails:
  // a header cut short, or a non-first fragment followed by another extension header); ip6_packet_match
  // hotdrops such packets for every rule with -p (IP6T_F_PROTO). In the IR the L4Proto field is then
  // absent.
  bool no_l4proto = false;
  bool any() const { return short_l4 != 0 || frag_offset_one || no_l4proto; }
  bool operator==(const Hotdrop&) const = default;
};

struct Match {
  std::variant<IntMatch, AddrMatch, AddrRangeMatch, IfaceMatch, MacMatch, SetMatch, LimitMatch> m;
  bool invert = false;
  Hotdrop hotdrop;  // xtables only; see Hotdrop
  bool operator==(const Match&) const = default;
};

// ---- actions ----------------------------------------------------------------------------------------

enum class RejectType : uint8_t {
  IcmpNetUnreachable, IcmpHostUnreachable, IcmpProtUnreachable, IcmpPortUnreachable,
  IcmpNetProhibited, IcmpHostProhibited, IcmpAdminProhibited,
  Icmp6NoRoute, Icmp6AdmProhibited, Icmp6AddrUnreachable, Icmp6PortUnreachable,
  TcpReset,
};

struct LogAction {
  std::string prefix;     // up to 29 characters, as xt_LOG
  uint8_t level = 4;      // syslog level (warning)
  uint8_t flags = 0;      // XT_LOG_* flags (TCPSEQ 1, TCPOPT 2, IPOPT 4, UID 8, MACDECODE 0x20)
  bool operator==(const LogAction&) const = default;
};

enum class ActionKind : uint8_t {
  Continue,  // no verdict: count and go on (a rule with no target, nft `counter` only)
  Accept,
  Drop,
  Reject,
  Jump,      // to a user chain; on its RETURN (or end) continue after this rule
  Goto,      // to a user chain; on its RETURN (or end) return from the calling chain
  Return,
  Log,       // non-terminal
  SetMark,   // non-terminal: mark = (mark & ~mask) ^ value  (xt_MARK semantics)
};

struct Action {
  ActionKind kind = ActionKind::Continue;
  std::string target;                  // chain for Jump / Goto
  RejectType reject = RejectType::IcmpPortUnreachable;
  LogAction log;
  uint32_t mark_value = 0, mark_mask = 0xffffffffu;
  bool operator==(const Action&) const = default;
};

struct Rule {
  std::vector<Match> matches;  // all must hold
  Action action;
  std::string origin;          // the rule as the user wrote it, for messages
  bool operator==(const Rule&) const = default;
};

enum class Policy : uint8_t { Accept, Drop };

struct BaseChain {
  Hook hook = Hook::Input;
  int32_t priority = 0;
  Policy policy = Policy::Accept;
  std::vector<std::string> devices;  // netdev ingress/egress
  bool operator==(const BaseChain&) const = default;
};

struct Chain {
  std::string name;
  std::optional<BaseChain> base;  // empty for a user-defined chain
  std::vector<Rule> rules;
  bool operator==(const Chain&) const = default;
};

// A named set. Keys are the concatenation of `key` fields, each in its packet width (addresses 4/16
// bytes network order, ports 2 bytes network order, l4proto 1 byte, marks 4 bytes host order, interface
// names 16 bytes), each padded to 4 bytes as nft does. Interval sets hold [lo, hi] pairs.
struct SetElement {
  std::vector<uint8_t> key;
  std::vector<uint8_t> key_end;  // interval sets: inclusive upper bound; else empty
  bool operator==(const SetElement&) const = default;
};

struct SetKeyField {
  Field field{};
  bool out = false;   // for interface names
  uint8_t len = 0;    // width in the packet (addresses: 4 or 16)
  bool operator==(const SetKeyField&) const = default;
};

struct Set {
  std::string name;
  std::vector<SetKeyField> key;
  bool interval = false;
  std::vector<SetElement> elements;
  bool operator==(const Set&) const = default;
};

struct Table {
  std::string name;
  Family family = Family::Ipv4;
  std::vector<Chain> chains;
  std::vector<Set> sets;
  bool operator==(const Table&) const = default;

  const Chain* find_chain(const std::string& n) const;
  const Set* find_set(const std::string& n) const;
};

struct Ruleset {
  std::vector<Table> tables;
  bool operator==(const Ruleset&) const = default;
};

const char* to_string(Family);
const char* to_string(Hook);
const char* to_string(Field);
const char* to_string(ActionKind);

}  // namespace nfjit::ir
