// What nfjitd sends for one REJECT record: the decisions and bytes of the kernel's
// net/ipv4/netfilter/nf_reject_ipv4.c (nf_send_reset, nf_send_unreach -> icmp_send) and
// net/ipv6/netfilter/nf_reject_ipv6.c (nf_send_reset6, nf_send_unreach6 -> icmp6_send), with the
// namespace's routes, addresses, sysctls and ICMP rate limits behind `RejectEnv`. docs/reject.md lists
// what still differs from the kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codegen/reject_record.h"
#include "runtime/reject_ratelimit.h"

namespace nfjit::runtime {

// One route lookup (rtnetlink RTM_GETROUTE, RTM_F_FIB_MATCH for the prefix length).
struct RouteFacts {
  bool found = false;
  uint8_t type = 0;        // RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST, ...
  uint32_t oif = 0;        // output device
  bool oif_loopback = false;
  uint32_t mtu = 0;        // the route's MTU metric, else the device's MTU
  uint32_t hoplimit = 0;   // RTAX_HOPLIMIT metric (0 = none)
  uint8_t dst_len = 0;     // prefix length of the FIB entry (icmpv6_xrlim_allow widens by it)
  bool prefsrc = false;    // the route carries a preferred source (icmpv6_rt_has_prefsrc)
};

// The namespace as the reply needs it. nfjitd's implementation asks the kernel (reject_sender.cc).
class RejectEnv {
 public:
  virtual ~RejectEnv() = default;
  virtual RouteFacts route4(const uint8_t dst[4], uint32_t mark) = 0;
  virtual RouteFacts route6(const uint8_t dst[16], uint32_t mark) = 0;
  // ipv6_chk_addr(net, addr, dev, 0): an address of any device of the namespace, not tentative.
  virtual bool local6(const uint8_t addr[16]) = 0;
  // The first IPv4 address inet_select_addr(dev, dst, RT_SCOPE_LINK) would pick on `ifindex` (0 = none).
  virtual bool select_addr4(uint32_t ifindex, const uint8_t dst[4], uint8_t out[4]) = 0;
  // /proc/sys/net/... integer (e.g. "ipv4/ip_default_ttl").
  virtual int sysctl(const std::string& name, int dflt) = 0;
  // The same as text (bitmaps such as "ipv6/icmp/ratemask" = "0-1,3-127").
  virtual std::string sysctl_text(const std::string& name, const std::string& dflt) = 0;
};

// A reply ready for a raw socket of the daemon's namespace.
struct RejectReply {
  int family = 4;
  bool icmp = false;            // ICMP/ICMPv6 error (else TCP RST)
  std::vector<uint8_t> bytes;   // IPv4 RST: the whole IP packet (IP_HDRINCL); otherwise the L4 message
  uint8_t src[16] = {};         // the reply's source; IPv4 ICMP: all zero = chosen by the route
  bool src_set = false;
  uint8_t dst[16] = {};
  uint8_t tos = 0;              // IPv4 ICMP: the TOS icmp_send uses
  uint32_t mark = 0;            // IP4_REPLY_MARK / IP6_REPLY_MARK
  uint32_t scope_ifindex = 0;   // IPv6 link-local destination: the interface (icmp6_iif)
};

// Records older than this when nfjitd reads them (it was not running, or far behind) get no reply: the
// kernel answers at once, a reply seconds late would not be the kernel's.
inline constexpr uint64_t kRejectMaxAgeNs = 1000000000ull;

// The reply for one record, or nullopt with `why` saying which kernel check suppressed it.
std::optional<RejectReply> build_reject_reply(std::span<const uint8_t> record, RejectEnv& env,
                                              IcmpRateLimiter& limits, std::string* why);

// ---- the builders and checks, exposed for unit tests ----

// Internet checksum pieces (one's complement, summing 16-bit words in memory order as csum_partial).
uint32_t csum_add_bytes(uint32_t sum, std::span<const uint8_t> bytes);
uint16_t csum_fold_neg(uint32_t sum);  // ~fold(sum): the value a checksum field holds

// nf_reject_iphdr_put + nf_reject_ip_tcphdr_put: the 40-byte RST to the IPv4 packet `pkt`
// (`skb_len` = its skb->len), TTL `ttl`; IP id 0 and DF as the kernel's (ip_select_ident keeps 0 with DF).
std::vector<uint8_t> build_rst4(std::span<const uint8_t> pkt, uint32_t skb_len, uint8_t ttl);
// nf_reject_ip6_tcphdr_put: the 20-byte TCP header (checksum over src/dst of the reply).
std::vector<uint8_t> build_rst6(std::span<const uint8_t> pkt, uint32_t tcphoff, uint32_t skb_len);
// icmp_send's message: type, code, 4 zero bytes, then `quote` bytes of the packet; checksum set.
std::vector<uint8_t> build_icmp4(uint8_t type, uint8_t code, std::span<const uint8_t> quote);
// icmp6_send's message; checksum over the pseudo-header of src -> dst.
std::vector<uint8_t> build_icmp6(uint8_t type, uint8_t code, std::span<const uint8_t> quote,
                                 const uint8_t src[16], const uint8_t dst[16]);
// ipv6_skip_exthdr over the packet bytes `pkt` (header_pointer bounded by `skb_len`, and by the bytes
// copied: `*truncated` when a header lies past them). Returns -1 as the kernel's.
int ipv6_skip_exthdr(std::span<const uint8_t> pkt, uint32_t skb_len, int start, uint8_t* nexthdr,
                     uint16_t* frag_off_be, bool* truncated);

}  // namespace nfjit::runtime
