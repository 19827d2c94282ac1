#include "verify/observe.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace nfjit::verify {

std::vector<uint8_t> tag_bytes(uint32_t seq) {
  return {0x4e, 0x46, 0x4a, 0x56, static_cast<uint8_t>(seq >> 24), static_cast<uint8_t>(seq >> 16),
          static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq)};
}

std::optional<uint32_t> find_tag(const uint8_t* d, size_t len) {
  for (size_t i = 0; i + 8 <= len; ++i)
    if (d[i] == 0x4e && d[i + 1] == 0x46 && d[i + 2] == 0x4a && d[i + 3] == 0x56)
      return (uint32_t(d[i + 4]) << 24) | (uint32_t(d[i + 5]) << 16) | (uint32_t(d[i + 6]) << 8) | d[i + 7];
  return std::nullopt;
}

std::string observer_ruleset() {
  return "table inet nfjv_obs {\n"
         "  chain input { type filter hook input priority 100; policy accept; log group " +
         std::to_string(kNflogGroup) + "; }\n}\n";
}

namespace {

void nflog_config(int fd, uint16_t group, const std::vector<std::pair<uint16_t, std::vector<uint8_t>>>& attrs) {
  uint8_t buf[256]{};
  auto* nh = reinterpret_cast<nlmsghdr*>(buf);
  nh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nh->nlmsg_seq = 1;
  auto* g = reinterpret_cast<nfgenmsg*>(NLMSG_DATA(nh));
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(group);
  size_t len = NLMSG_LENGTH(sizeof(nfgenmsg));
  for (const auto& [type, val] : attrs) {
    auto* a = reinterpret_cast<nlattr*>(buf + NLMSG_ALIGN(len));
    a->nla_type = type;
    a->nla_len = static_cast<uint16_t>(NLA_HDRLEN + val.size());
    std::memcpy(reinterpret_cast<uint8_t*>(a) + NLA_HDRLEN, val.data(), val.size());
    len = NLMSG_ALIGN(len) + NLA_ALIGN(a->nla_len);
  }
  nh->nlmsg_len = static_cast<uint32_t>(len);
  if (send(fd, buf, len, 0) < 0) throw std::runtime_error("NFLOG config: " + std::string(strerror(errno)));
  char ack[512];
  ssize_t n = recv(fd, ack, sizeof ack, 0);
  auto* ah = reinterpret_cast<nlmsghdr*>(ack);
  if (n >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))) && ah->nlmsg_type == NLMSG_ERROR) {
    auto* e = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(ah));
    if (e->error) throw std::runtime_error("NFLOG config refused: " + std::string(strerror(-e->error)));
  }
}

std::vector<uint8_t> be32(uint32_t v) {
  v = htonl(v);
  return std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4);
}

}  // namespace

NflogWatch::NflogWatch() {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd_ < 0) throw std::runtime_error("NFLOG socket: " + std::string(strerror(errno)));
  int big = 8 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw std::runtime_error("NFLOG bind: " + std::string(strerror(errno)));
  nflog_config(fd_, kNflogGroup, {{NFULA_CFG_CMD, {NFULNL_CFG_CMD_BIND}}});
  std::vector<uint8_t> mode = be32(0xffff);
  mode.push_back(NFULNL_COPY_PACKET);
  mode.push_back(0);
  // One packet per message, sent at once (the defaults batch 100 packets or wait a second).
  nflog_config(fd_, kNflogGroup, {{NFULA_CFG_MODE, mode}, {NFULA_CFG_QTHRESH, be32(1)}, {NFULA_CFG_TIMEOUT, be32(0)}});
  int one = 1;
  setsockopt(fd_, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
}

NflogWatch::~NflogWatch() {
  if (fd_ >= 0) close(fd_);
}

std::vector<uint32_t> NflogWatch::drain() {
  std::vector<uint32_t> tags;
  alignas(nlmsghdr) static uint8_t buf[1 << 16];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, static_cast<unsigned>(n)); nh = NLMSG_NEXT(nh, n)) {
      if ((nh->nlmsg_type & 0xff) != NFULNL_MSG_PACKET) continue;
      size_t off = NLMSG_LENGTH(sizeof(nfgenmsg));
      while (off + NLA_HDRLEN <= nh->nlmsg_len) {
        auto* a = reinterpret_cast<nlattr*>(reinterpret_cast<uint8_t*>(nh) + off);
        if (a->nla_len < NLA_HDRLEN) break;
        if ((a->nla_type & NLA_TYPE_MASK) == NFULA_PAYLOAD) {
          if (auto t = find_tag(reinterpret_cast<uint8_t*>(a) + NLA_HDRLEN, a->nla_len - NLA_HDRLEN)) tags.push_back(*t);
        }
        off += NLA_ALIGN(a->nla_len);
      }
    }
  }
  return tags;
}

Wire::Wire(const std::string& dev) {
  int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd_ < 0 || ifindex == 0) throw std::runtime_error("cannot open AF_PACKET socket on " + dev);
  int big = 8 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex;
  sll.sll_protocol = htons(ETH_P_ALL);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
    throw std::runtime_error("cannot bind AF_PACKET socket on " + dev);
}

Wire::~Wire() {
  if (fd_ >= 0) close(fd_);
}

bool Wire::send(const std::vector<uint8_t>& frame) {
  return ::send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
}

namespace {

std::string ntop(int af, const uint8_t* p) {
  char b[INET6_ADDRSTRLEN];
  inet_ntop(af, p, b, sizeof b);
  return b;
}

std::optional<Seen> classify(const uint8_t* f, size_t len) {
  if (len < 14) return std::nullopt;
  uint16_t et = (f[12] << 8) | f[13];
  const uint8_t* l3 = f + 14;
  size_t l3len = len - 14;
  Seen s;
  const uint8_t* l4;
  size_t l4len;
  if (et == ETH_P_IP && l3len >= 20) {
    size_t hl = (l3[0] & 15) * 4;
    if (hl < 20 || hl > l3len) return std::nullopt;
    s.proto = l3[9];
    s.src = ntop(AF_INET, l3 + 12);
    s.dst = ntop(AF_INET, l3 + 16);
    l4 = l3 + hl;
    l4len = l3len - hl;
  } else if (et == ETH_P_IPV6 && l3len >= 40) {
    uint8_t nh = l3[6];
    size_t off = 40;
    while ((nh == 0 || nh == 43 || nh == 60 || nh == 44) && off + 8 <= l3len) {
      uint8_t next = l3[off];
      off += nh == 44 ? 8 : (l3[off + 1] + 1) * 8;
      nh = next;
    }
    if (off > l3len) return std::nullopt;
    s.proto = nh;
    s.src = ntop(AF_INET6, l3 + 8);
    s.dst = ntop(AF_INET6, l3 + 24);
    l4 = l3 + off;
    l4len = l3len - off;
  } else {
    return std::nullopt;  // ARP and the like
  }
  s.tag = find_tag(l4, l4len);
  if ((s.proto == 1 || s.proto == 58) && l4len >= 2) {
    uint8_t t = l4[0], c = l4[1];
    if (s.proto == 58 && t >= 130 && t <= 143) return std::nullopt;  // MLD, NDP (incl. redirects)
    // An IPv4 redirect is routing advice from a host forwarding a packet out the interface it came in
    // on, rate-limited by per-peer history: not a filtering verdict, and not reproducible across K and N.
    if (s.proto == 1 && t == 5) return std::nullopt;
    bool echo_reply = (s.proto == 1 && t == 0) || (s.proto == 58 && t == 129);
    bool error = s.proto == 1 ? (t == 3 || t == 4 || t == 11 || t == 12) : t < 128;
    if (echo_reply) s.what = "ICMP echo-reply";
    else if (error) s.what = std::string(s.proto == 1 ? "ICMP" : "ICMPv6") + " error " + std::to_string(t) + "/" + std::to_string(c);
    else s.what = "forwarded";
    return s;
  }
  if (s.proto == 6 && l4len >= 20) {
    s.sport = (l4[0] << 8) | l4[1];
    s.dport = (l4[2] << 8) | l4[3];
    s.tcp_seq = (uint32_t(l4[4]) << 24) | (uint32_t(l4[5]) << 16) | (uint32_t(l4[6]) << 8) | l4[7];
    s.tcp_flags = l4[13];
    if (s.tag) s.what = "forwarded";
    else if (s.tcp_flags & 0x04) s.what = "TCP RST";
    else if ((s.tcp_flags & 0x12) == 0x12) s.what = "TCP SYN-ACK";
    else s.what = "TCP";
    return s;
  }
  if ((s.proto == 17 || s.proto == 132) && l4len >= 4) {
    s.sport = (l4[0] << 8) | l4[1];
    s.dport = (l4[2] << 8) | l4[3];
  }
  s.what = s.tag ? "forwarded" : "other";
  return s;
}

}  // namespace

std::vector<Seen> Wire::drain() {
  std::vector<Seen> out;
  static uint8_t buf[1 << 16];
  for (;;) {
    sockaddr_ll from{};
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n <= 0) break;
    if (from.sll_pkttype == PACKET_OUTGOING) continue;  // what S itself injected
    if (auto s = classify(buf, static_cast<size_t>(n))) out.push_back(*s);
  }
  return out;
}

}  // namespace nfjit::verify
