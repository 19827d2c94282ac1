// The frames `nfjit verify` injects: IPv4/IPv6 with TCP/UDP/SCTP/ICMP/ICMPv6, options, extension headers
// and fragments, with valid checksums, framed in Ethernet, byte-identical into the kernel's netfilter and
// into nfjit. The same builder as the test suite's tests/support/packet.h (the product cannot link test
// code), plus TCP sequence/ack numbers for replies to real handshakes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nfjit::verify {

struct PacketSpec {
  int family = 4;                 // 4 or 6
  std::string src = "198.18.0.2", dst = "198.18.0.1";
  uint8_t proto = 17;             // IPPROTO_*: 6 TCP, 17 UDP, 132 SCTP, 1 ICMP, 58 ICMPv6, others: raw payload
  uint16_t sport = 40000, dport = 9;
  uint8_t tcp_flags = 0x02;       // SYN
  uint32_t tcp_seq = 0x12000000, tcp_ack = 0;
  uint8_t icmp_type = 8, icmp_code = 0;
  uint8_t ttl = 64;               // TTL / hop limit
  uint8_t tos = 0;                // TOS / traffic class
  uint16_t ip_id = 1;
  bool dont_fragment = false;
  // IPv4: a non-first fragment (offset 8 bytes in, no L4 header); IPv6: a fragment header with offset 8.
  bool nonfirst_fragment = false;
  bool first_fragment = false;    // more-fragments set, offset 0
  std::vector<uint8_t> ip_options;   // IPv4 options (padded to 4 bytes)
  std::vector<uint8_t> ext_headers;  // IPv6: next-header codes of extension headers to insert (0, 43, 60)
  size_t payload = 16;            // bytes of payload after the L4 header
  // When non-empty: the exact payload bytes after the L4 header (replaces `payload`), e.g. the quoted
  // packet of an ICMP/ICMPv6 error.
  std::vector<uint8_t> payload_bytes;
};

// From the IP header on.
std::vector<uint8_t> build_l3(const PacketSpec& s);
// With an Ethernet header in front.
std::vector<uint8_t> build_frame(const PacketSpec& s, const std::array<uint8_t, 6>& dst_mac,
                                 const std::array<uint8_t, 6>& src_mac);
std::string describe(const PacketSpec& s);
std::string hex(const std::vector<uint8_t>& bytes);

std::array<uint8_t, 6> parse_mac(const std::string& text);

// Sends raw Ethernet frames out of an interface of the calling thread's network namespace (AF_PACKET).
class Injector {
 public:
  explicit Injector(const std::string& ifname);
  ~Injector();
  Injector(const Injector&) = delete;
  Injector& operator=(const Injector&) = delete;
  bool send(const std::vector<uint8_t>& frame);

 private:
  int fd_ = -1;
  int ifindex_ = 0;
};

}  // namespace nfjit::verify
