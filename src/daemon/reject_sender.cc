#include "daemon/reject_sender.h"

#include <arpa/inet.h>
#include <net/if.h>  // before any linux/ header
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "daemon/log.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IPV6_AUTOFLOWLABEL
#define IPV6_AUTOFLOWLABEL 70
#endif

namespace nfjit::daemon {

namespace {

uint64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// A socket that never queues what it would receive (raw sockets see every packet of their protocol).
int raw_socket(int family, int proto) {
  int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    logf(LOG_ERR, "REJECT replies: raw socket (family %d, protocol %d): %s", family, proto, strerror(errno));
    return -1;
  }
  sock_filter drop{BPF_RET | BPF_K, 0, 0, 0};
  sock_fprog prog{1, &drop};
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
  return fd;
}

void add_attr(std::vector<uint8_t>& msg, uint16_t type, const void* data, size_t len) {
  size_t at = msg.size();
  msg.resize(at + RTA_SPACE(len));
  auto* rta = reinterpret_cast<rtattr*>(msg.data() + at);
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
}

uint32_t device_mtu(uint32_t ifindex) {
  char name[IF_NAMESIZE] = {};
  if (!if_indextoname(ifindex, name)) return 0;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name, sizeof ifr.ifr_name);  // both IF_NAMESIZE, NUL-terminated
  uint32_t mtu = ioctl(fd, SIOCGIFMTU, &ifr) == 0 ? static_cast<uint32_t>(ifr.ifr_mtu) : 0;
  close(fd);
  return mtu;
}

}  // namespace

RejectSender::RejectSender() {
  rtnl_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (rtnl_ < 0) logf(LOG_ERR, "REJECT replies: rtnetlink socket: %s", strerror(errno));
  raw4_rst_ = raw_socket(AF_INET, IPPROTO_RAW);  // IP_HDRINCL implied: the RST's IP header is ours
  raw4_icmp_ = raw_socket(AF_INET, IPPROTO_ICMP);
  if (raw4_icmp_ >= 0) {
    // As the kernel's ICMP socket (icmp_sk_init): no DF, so the IP id comes from ip_select_ident.
    int v = IP_PMTUDISC_DONT;
    setsockopt(raw4_icmp_, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
  }
  raw6_tcp_ = raw_socket(AF_INET6, IPPROTO_TCP);
  if (raw6_tcp_ >= 0) {
    int on = 1, off = 0;
    setsockopt(raw6_tcp_, IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof on);  // FORWARD: the source is not ours
    setsockopt(raw6_tcp_, IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, &off, sizeof off);  // ip6_flow_hdr(ip6h, 0, 0)
  }
  raw6_icmp_ = raw_socket(AF_INET6, IPPROTO_ICMPV6);  // the kernel fills the ICMPv6 checksum
  if (raw6_icmp_ >= 0) {
    int on = 1;
    setsockopt(raw6_icmp_, IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof on);
  }
}

RejectSender::~RejectSender() {
  for (int fd : {rtnl_, raw4_rst_, raw4_icmp_, raw6_tcp_, raw6_icmp_})
    if (fd >= 0) close(fd);
}

void RejectSender::handle(const uint8_t* record, size_t size) {
  std::string why;
  auto reply = runtime::build_reject_reply(std::span<const uint8_t>(record, size), *this, limits_, &why);
  if (!reply) return;  // a case where the kernel sends nothing either (why says which)
  if (send(*reply)) {
    ++sent_;
  } else if (failed_++ < 20) {
    logf(LOG_WARNING, "REJECT reply not sent: %s", strerror(errno));
  }
}

int RejectSender::sysctl(const std::string& name, int dflt) {
  std::string t = sysctl_text(name, "");
  if (t.empty()) return dflt;
  return std::atoi(t.c_str());
}

std::string RejectSender::sysctl_text(const std::string& name, const std::string& dflt) {
  // Read at most once a second: replies in a burst see the same settings.
  uint64_t now = mono_ms();
  auto& c = sysctls_[name];
  if (c.at_ms == 0 || now - c.at_ms >= 1000) {
    std::ifstream f("/proc/sys/net/" + name);
    std::string v;
    if (f) std::getline(f, v);
    c.value = v;
    c.at_ms = now;
  }
  return c.value.empty() ? dflt : c.value;
}

runtime::RouteFacts RejectSender::route(int family, const uint8_t* dst, uint32_t mark, bool fib_match) {
  runtime::RouteFacts out;
  if (rtnl_ < 0) return out;
  std::vector<uint8_t> msg(NLMSG_SPACE(sizeof(rtmsg)));
  auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = ++rtnl_seq_;
  auto* rtm = reinterpret_cast<rtmsg*>(NLMSG_DATA(nlh));
  rtm->rtm_family = static_cast<unsigned char>(family == 4 ? AF_INET : AF_INET6);
  rtm->rtm_dst_len = family == 4 ? 32 : 128;
  if (fib_match) rtm->rtm_flags = RTM_F_FIB_MATCH;
  add_attr(msg, RTA_DST, dst, family == 4 ? 4 : 16);
  if (mark) add_attr(msg, RTA_MARK, &mark, 4);
  nlh = reinterpret_cast<nlmsghdr*>(msg.data());
  nlh->nlmsg_len = static_cast<uint32_t>(msg.size());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(rtnl_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) return out;
  std::vector<uint8_t> buf(16384);
  for (;;) {
    ssize_t n = recv(rtnl_, buf.data(), buf.size(), 0);
    if (n <= 0) return out;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, static_cast<size_t>(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != rtnl_seq_) continue;
      if (h->nlmsg_type == NLMSG_ERROR) return out;  // no route (ENETUNREACH, EHOSTUNREACH, ...)
      if (h->nlmsg_type != RTM_NEWROUTE) continue;
      auto* r = reinterpret_cast<rtmsg*>(NLMSG_DATA(h));
      out.found = true;
      out.type = r->rtm_type;
      out.dst_len = r->rtm_dst_len;
      int len = static_cast<int>(RTM_PAYLOAD(h));
      for (auto* a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == RTA_OIF) std::memcpy(&out.oif, RTA_DATA(a), 4);
        if (a->rta_type == RTA_PREFSRC) out.prefsrc = true;
        if (a->rta_type == RTA_METRICS) {
          int mlen = static_cast<int>(RTA_PAYLOAD(a));
          for (auto* m = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(m, mlen); m = RTA_NEXT(m, mlen)) {
            if (m->rta_type == RTAX_MTU) std::memcpy(&out.mtu, RTA_DATA(m), 4);
            if (m->rta_type == RTAX_HOPLIMIT) std::memcpy(&out.hoplimit, RTA_DATA(m), 4);
          }
        }
      }
      if (!out.mtu && out.oif) out.mtu = device_mtu(out.oif);
      out.oif_loopback = out.oif == 1;  // the namespace's loopback device
      return out;
    }
  }
}

runtime::RouteFacts RejectSender::route4(const uint8_t dst[4], uint32_t mark) { return route(4, dst, mark, false); }

runtime::RouteFacts RejectSender::route6(const uint8_t dst[16], uint32_t mark) {
  runtime::RouteFacts r = route(6, dst, mark, false);
  if (r.found) {
    // The prefix length of the FIB entry (icmpv6_xrlim_allow's rt6i_dst.plen): a second, FIB-match lookup.
    runtime::RouteFacts fib = route(6, dst, mark, true);
    if (fib.found) r.dst_len = fib.dst_len;
  }
  return r;
}

bool RejectSender::local6(const uint8_t addr[16]) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (auto* i = list; i && !found; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6)
      found = std::memcmp(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, addr, 16) == 0;
  freeifaddrs(list);
  return found;
}

bool RejectSender::select_addr4(uint32_t ifindex, const uint8_t dst[4], uint8_t out[4]) {
  // inet_select_addr(dev, dst, RT_SCOPE_LINK): an address of the device on dst's subnet, else its first.
  char name[IF_NAMESIZE] = {};
  if (!if_indextoname(ifindex, name)) return false;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  uint32_t d;
  std::memcpy(&d, dst, 4);
  bool found = false;
  for (auto* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || std::strcmp(i->ifa_name, name) != 0) continue;
    uint32_t a = reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr;
    uint32_t m = i->ifa_netmask ? reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr : 0;
    if (!found) std::memcpy(out, &a, 4);
    found = true;
    if (((a ^ d) & m) == 0) {
      std::memcpy(out, &a, 4);
      break;
    }
  }
  freeifaddrs(list);
  return found;
}

void RejectSender::set_mark(int fd, uint32_t mark) {
  auto it = marks_.find(fd);
  uint32_t cur = it == marks_.end() ? 0 : it->second;
  if (cur == mark) return;
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0) marks_[fd] = mark;
}

bool RejectSender::send(const runtime::RejectReply& r) {
  if (r.family == 4) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr, r.dst, 4);
    if (!r.icmp) {
      if (raw4_rst_ < 0) return false;
      set_mark(raw4_rst_, r.mark);
      return sendto(raw4_rst_, r.bytes.data(), r.bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) >= 0;
    }
    if (raw4_icmp_ < 0) return false;
    set_mark(raw4_icmp_, r.mark);
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(in_pktinfo))] = {};
    iovec iov{const_cast<uint8_t*>(r.bytes.data()), r.bytes.size()};
    msghdr m{};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = r.src_set ? sizeof control : CMSG_SPACE(sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_TOS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int tos = r.tos;
    std::memcpy(CMSG_DATA(c), &tos, sizeof tos);
    if (r.src_set) {
      c = CMSG_NXTHDR(&m, c);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo pi{};
      std::memcpy(&pi.ipi_spec_dst, r.src, 4);
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
    return sendmsg(raw4_icmp_, &m, 0) >= 0;
  }
  int fd = r.icmp ? raw6_icmp_ : raw6_tcp_;
  if (fd < 0) return false;
  set_mark(fd, r.mark);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  std::memcpy(&to.sin6_addr, r.dst, 16);
  to.sin6_scope_id = r.scope_ifindex;
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  iovec iov{const_cast<uint8_t*>(r.bytes.data()), r.bytes.size()};
  msghdr m{};
  m.msg_name = &to;
  m.msg_namelen = sizeof to;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (r.src_set) {
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo pi{};
    std::memcpy(&pi.ipi6_addr, r.src, 16);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  return sendmsg(fd, &m, 0) >= 0;
}

}  // namespace nfjit::daemon
