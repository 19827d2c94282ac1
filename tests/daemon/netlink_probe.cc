// A NETLINK_NETFILTER client for the netlink session tests, run under the shim: it sends what no real
// tool sends (garbage, forged shim frames, oversized messages) and then checks the session still
// answers. Prints one line per check; exits 0 when every check passed.
//   netlink_probe garbage   garbage datagrams, then a GETGEN must still be answered with NEWGEN
//   netlink_probe portid    bind + getsockname: prints "portid P pid Q"
//   netlink_probe emsgsize  a message larger than SO_SNDBUF fails with EMSGSIZE, as netlink_sendmsg does
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "nfjit/wire.h"

namespace {

int g_failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) ++g_failures;
}

std::vector<uint8_t> getgen(uint32_t seq) {
  std::vector<uint8_t> m(NLMSG_HDRLEN + sizeof(nfgenmsg));
  auto* nlh = reinterpret_cast<nlmsghdr*>(m.data());
  nlh->nlmsg_len = m.size();
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  return m;
}

// Waits (bounded) for a NEWGEN answering `seq`.
bool answered(int fd, uint32_t seq) {
  std::vector<uint8_t> buf(1 << 16);
  for (int i = 0; i < 100; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return false;
    sockaddr_nl from{};
    socklen_t flen = sizeof(from);
    ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n <= 0) return false;
    if (from.nl_family != AF_NETLINK || from.nl_pid != 0 || flen != sizeof(from)) return false;
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
      if (nlh->nlmsg_seq == seq && nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) return true;
    }
  }
  return false;
}

// Bypasses the shim's sendto (a raw system call on the session's seqpacket socket).
void raw_send(int fd, const void* p, size_t n) { syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL, nullptr, 0); }

int garbage(int fd) {
  const uint8_t three[3] = {1, 2, 3};
  check(send(fd, three, sizeof(three), 0) == 3, "3 bytes sent");
  nlmsghdr lying{1000, 0x0a01, NLM_F_REQUEST, 1, 0};  // nlmsg_len past the datagram: ignored
  check(send(fd, &lying, sizeof(lying), 0) == sizeof(lying), "lying nlmsg_len sent");
  nlmsghdr unknown{sizeof(nlmsghdr), 0xffff, NLM_F_REQUEST | NLM_F_ACK, 2, 0};
  check(send(fd, &unknown, sizeof(unknown), 0) == sizeof(unknown), "unknown type sent");
  struct {
    nfjit::wire::FrameHeader h;
    uint64_t offset;
    char data[8];
  } frag{{nfjit::wire::kMagic, nfjit::wire::kVersion, nfjit::wire::kNetlinkFragment, 1ull << 40}, 0, {}};
  raw_send(fd, &frag, sizeof(frag));  // a fragment of a 1 TiB message
  frag.h.length = 100;
  frag.offset = 50;
  raw_send(fd, &frag, sizeof(frag));  // out of order
  raw_send(fd, &frag, 5);             // a cut header
  struct {
    nfjit::wire::FrameHeader h;
    char junk[3];
  } ctl{{nfjit::wire::kMagic, nfjit::wire::kVersion, nfjit::wire::kNetlinkControl, 3}, {}};
  raw_send(fd, &ctl, sizeof(ctl));  // a control of the wrong size
  raw_send(fd, "", 0);              // an empty datagram
  std::vector<uint8_t> noise(70000);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<uint8_t>(i * 7 + 3);
  check(send(fd, noise.data(), noise.size(), 0) == static_cast<ssize_t>(noise.size()), "70000 noise bytes sent");
  auto req = getgen(77);
  check(send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()), "getgen sent");
  check(answered(fd, 77), "getgen answered after the garbage");
  return g_failures ? 1 : 0;
}

int portid(int fd) {
  sockaddr_nl a{};
  a.nl_family = AF_NETLINK;
  check(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0, "bind");
  sockaddr_nl got{};
  socklen_t len = sizeof(got);
  check(getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len) == 0, "getsockname");
  check(len == sizeof(got) && got.nl_family == AF_NETLINK, "sockaddr_nl");
  a.nl_pid = got.nl_pid + 1;
  check(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == -1 && errno == EINVAL, "rebind elsewhere: EINVAL");
  int v = 0;
  socklen_t vl = sizeof(v);
  check(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &vl) == 0 && v == NETLINK_NETFILTER, "SO_PROTOCOL");
  std::printf("portid %u pid %d\n", got.nl_pid, getpid());
  return g_failures ? 1 : 0;
}

int emsgsize(int fd) {
  int sz = 65536;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  std::vector<uint8_t> big(1 << 20);
  auto* nlh = reinterpret_cast<nlmsghdr*>(big.data());
  nlh->nlmsg_len = big.size();
  check(send(fd, big.data(), big.size(), 0) == -1 && errno == EMSGSIZE, "1 MiB over a 128 KiB sndbuf: EMSGSIZE");
  auto req = getgen(5);
  check(send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()), "getgen sent");
  check(answered(fd, 5), "getgen answered");
  return g_failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    std::printf("socket: %s\n", std::strerror(errno));
    return 1;
  }
  std::string mode = argv[1];
  if (mode == "garbage") return garbage(fd);
  if (mode == "portid") return portid(fd);
  if (mode == "emsgsize") return emsgsize(fd);
  return 2;
}
