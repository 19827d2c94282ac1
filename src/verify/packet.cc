#include "verify/packet.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace nfjit::verify {

namespace {

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = v >> 8;
  b[off + 1] = v & 0xff;
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += (p[i] << 8) | p[i + 1];
  if (n & 1) acc += p[n - 1] << 8;
  return acc;
}

uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

std::vector<uint8_t> addr_bytes(int family, const std::string& text) {
  std::vector<uint8_t> a(family == 4 ? 4 : 16);
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, text.c_str(), a.data()) != 1)
    throw std::invalid_argument("bad address " + text);
  return a;
}

// The L4 header plus payload, checksum computed over the pseudo-header.
std::vector<uint8_t> build_l4(const PacketSpec& s, const std::vector<uint8_t>& src,
                              const std::vector<uint8_t>& dst) {
  if (!s.payload_bytes.empty()) {
    PacketSpec t = s;
    t.payload = s.payload_bytes.size();
    t.payload_bytes.clear();
    std::vector<uint8_t> l4 = build_l4(t, src, dst);
    std::copy(s.payload_bytes.begin(), s.payload_bytes.end(), l4.end() - static_cast<long>(t.payload));
    // Redo the checksum over the real payload.
    size_t csum_off = s.proto == 6 ? 16 : s.proto == 17 || s.proto == 136 ? 6 : s.proto == 1 || s.proto == 58 ? 2 : SIZE_MAX;
    if (csum_off != SIZE_MAX) {
      put16(l4, csum_off, 0);
      uint32_t acc = 0;
      if (s.proto != 1) {
        acc = sum16(src.data(), src.size(), acc);
        acc = sum16(dst.data(), dst.size(), acc);
        acc += s.proto;
        acc += static_cast<uint32_t>(l4.size());
      }
      acc = sum16(l4.data(), l4.size(), acc);
      uint16_t c = fold(acc);
      if (s.proto == 17 && c == 0) c = 0xffff;
      put16(l4, csum_off, c);
    }
    return l4;
  }
  std::vector<uint8_t> l4;
  size_t csum_off = SIZE_MAX;
  bool pseudo = true;
  switch (s.proto) {
    case 6:  // TCP, 20 bytes, no options
      l4.assign(20 + s.payload, 0);
      put16(l4, 0, s.sport);
      put16(l4, 2, s.dport);
      put16(l4, 4, static_cast<uint16_t>(s.tcp_seq >> 16));
      put16(l4, 6, static_cast<uint16_t>(s.tcp_seq));
      put16(l4, 8, static_cast<uint16_t>(s.tcp_ack >> 16));
      put16(l4, 10, static_cast<uint16_t>(s.tcp_ack));
      l4[12] = 5 << 4;
      l4[13] = s.tcp_flags;
      put16(l4, 14, 64240);
      csum_off = 16;
      break;
    case 17:   // UDP
    case 136:  // UDP-Lite (checksum coverage = whole packet)
      l4.assign(8 + s.payload, 0);
      put16(l4, 0, s.sport);
      put16(l4, 2, s.dport);
      put16(l4, 4, s.proto == 17 ? l4.size() : 0);
      csum_off = 6;
      break;
    case 132:  // SCTP common header; CRC32c is not checked by netfilter filter matches
      l4.assign(12 + s.payload, 0);
      put16(l4, 0, s.sport);
      put16(l4, 2, s.dport);
      break;
    case 1:  // ICMP
      l4.assign(8 + s.payload, 0);
      l4[0] = s.icmp_type;
      l4[1] = s.icmp_code;
      csum_off = 2;
      pseudo = false;
      break;
    case 58:  // ICMPv6
      l4.assign(8 + s.payload, 0);
      l4[0] = s.icmp_type;
      l4[1] = s.icmp_code;
      csum_off = 2;
      break;
    default:
      l4.assign(s.payload, 0xab);
  }
  for (size_t i = l4.size() - s.payload; i < l4.size(); ++i) l4[i] = static_cast<uint8_t>(i);
  if (csum_off != SIZE_MAX) {
    uint32_t acc = 0;
    if (pseudo) {
      acc = sum16(src.data(), src.size(), acc);
      acc = sum16(dst.data(), dst.size(), acc);
      acc += s.proto;
      acc += static_cast<uint32_t>(l4.size());
    }
    acc = sum16(l4.data(), l4.size(), acc);
    uint16_t c = fold(acc);
    if (s.proto == 17 && c == 0) c = 0xffff;
    put16(l4, csum_off, c);
  }
  return l4;
}

}  // namespace

std::vector<uint8_t> build_l3(const PacketSpec& s) {
  auto src = addr_bytes(s.family, s.src);
  auto dst = addr_bytes(s.family, s.dst);
  std::vector<uint8_t> l4 = !s.nonfirst_fragment ? build_l4(s, src, dst)
                            : !s.payload_bytes.empty() ? s.payload_bytes
                                                       : std::vector<uint8_t>(s.payload + 8, 0x5a);
  std::vector<uint8_t> pkt;
  if (s.family == 4) {
    std::vector<uint8_t> opts = s.ip_options;
    while (opts.size() % 4) opts.push_back(0);  // EOL padding
    size_t hl = 20 + opts.size();
    pkt.assign(hl, 0);
    pkt[0] = 0x40 | static_cast<uint8_t>(hl / 4);
    pkt[1] = s.tos;
    put16(pkt, 2, static_cast<uint16_t>(hl + l4.size()));
    put16(pkt, 4, s.ip_id);
    uint16_t frag = 0;
    if (s.dont_fragment) frag |= 0x4000;
    if (s.first_fragment) frag |= 0x2000;
    if (s.nonfirst_fragment) frag |= 1;  // offset 8 bytes, last fragment
    put16(pkt, 6, frag);
    pkt[8] = s.ttl;
    pkt[9] = s.proto;
    std::memcpy(&pkt[12], src.data(), 4);
    std::memcpy(&pkt[16], dst.data(), 4);
    std::memcpy(&pkt[20], opts.data(), opts.size());
    put16(pkt, 10, fold(sum16(pkt.data(), hl)));
    pkt.insert(pkt.end(), l4.begin(), l4.end());
    return pkt;
  }
  // IPv6: fixed header, then the requested extension headers (8 bytes each), then a fragment header when
  // asked, then L4.
  std::vector<uint8_t> chain;
  std::vector<uint8_t> codes = s.ext_headers;
  if (s.nonfirst_fragment || s.first_fragment) codes.push_back(44);
  std::vector<uint8_t> exts;
  for (size_t i = 0; i < codes.size(); ++i) {
    uint8_t next = i + 1 < codes.size() ? codes[i + 1] : s.proto;
    std::vector<uint8_t> h(8, 0);
    h[0] = next;
    if (codes[i] == 44) {
      uint16_t off = s.nonfirst_fragment ? (1 << 3) : 0;  // offset in 8-byte units, shifted by 3
      if (s.first_fragment) off |= 1;                      // M flag
      put16(h, 2, off);
      h[7] = 0x42;  // identification
    } else if (codes[i] == 43) {
      h[2] = 0;  // routing type 0, segments left 0
    } else {
      h[1] = 0;  // hdr ext len 0; PadN option filling 6 bytes
      h[2] = 1;
      h[3] = 4;
    }
    exts.insert(exts.end(), h.begin(), h.end());
  }
  pkt.assign(40, 0);
  pkt[0] = 0x60 | (s.tos >> 4);
  pkt[1] = static_cast<uint8_t>(s.tos << 4);
  put16(pkt, 4, static_cast<uint16_t>(exts.size() + l4.size()));
  pkt[6] = codes.empty() ? s.proto : codes[0];
  pkt[7] = s.ttl;
  std::memcpy(&pkt[8], src.data(), 16);
  std::memcpy(&pkt[24], dst.data(), 16);
  pkt.insert(pkt.end(), exts.begin(), exts.end());
  pkt.insert(pkt.end(), l4.begin(), l4.end());
  return pkt;
}

std::vector<uint8_t> build_frame(const PacketSpec& s, const std::array<uint8_t, 6>& dst_mac,
                                 const std::array<uint8_t, 6>& src_mac) {
  std::vector<uint8_t> f(14);
  std::memcpy(&f[0], dst_mac.data(), 6);
  std::memcpy(&f[6], src_mac.data(), 6);
  put16(f, 12, s.family == 4 ? ETH_P_IP : ETH_P_IPV6);
  auto l3 = build_l3(s);
  f.insert(f.end(), l3.begin(), l3.end());
  return f;
}

std::string describe(const PacketSpec& s) {
  static const char* kFlags = "FSRPAUEC";
  std::string out = (s.family == 4 ? "IPv4 " : "IPv6 ") + s.src + " > " + s.dst;
  char buf[160];
  bool ports = !s.nonfirst_fragment;
  switch (s.proto) {
    case 6: {
      std::string f;
      for (int i = 0; i < 8; ++i)
        if (s.tcp_flags & (1 << i)) f += kFlags[i];
      std::snprintf(buf, sizeof buf, " TCP %s%u > %u [%s]", "", s.sport, s.dport, f.empty() ? "none" : f.c_str());
      break;
    }
    case 17: std::snprintf(buf, sizeof buf, " UDP %u > %u", s.sport, s.dport); break;
    case 132: std::snprintf(buf, sizeof buf, " SCTP %u > %u", s.sport, s.dport); break;
    case 1: case 58:
      std::snprintf(buf, sizeof buf, " %s type %u code %u", s.proto == 1 ? "ICMP" : "ICMPv6", s.icmp_type, s.icmp_code);
      ports = true;
      break;
    default: std::snprintf(buf, sizeof buf, " proto %u", s.proto); ports = true;
  }
  if (ports) out += buf;
  else out += " proto " + std::to_string(s.proto);
  std::snprintf(buf, sizeof buf, " ttl %u", s.ttl);
  out += buf;
  if (s.tos) {
    std::snprintf(buf, sizeof buf, " tos 0x%02x", s.tos);
    out += buf;
  }
  if (s.nonfirst_fragment) out += " non-first-fragment";
  if (s.first_fragment) out += " first-fragment";
  if (!s.ip_options.empty()) out += " ip-options";
  for (uint8_t e : s.ext_headers) out += " ext-hdr " + std::to_string(e);
  return out;
}

std::string hex(const std::vector<uint8_t>& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += d[b >> 4];
    out += d[b & 15];
  }
  return out;
}

std::array<uint8_t, 6> parse_mac(const std::string& text) {
  std::array<uint8_t, 6> m{};
  unsigned v[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    throw std::invalid_argument("bad mac " + text);
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

Injector::Injector(const std::string& ifname) {
  ifindex_ = static_cast<int>(if_nametoindex(ifname.c_str()));
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ifindex_ == 0) throw std::runtime_error("cannot open AF_PACKET socket on " + ifname);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex_;
  sll.sll_protocol = 0;  // send only
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
    throw std::runtime_error("cannot bind AF_PACKET socket on " + ifname);
}

Injector::~Injector() {
  if (fd_ >= 0) close(fd_);
}

bool Injector::send(const std::vector<uint8_t>& frame) {
  return ::send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
}

}  // namespace nfjit::verify
