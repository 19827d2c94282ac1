#include "netlink_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon_call.h"
#include "nfjit/wire.h"
#include "user_memory.h"

namespace nfjit::preload {
namespace {

// Set once this process got a session from nfjitd (fork keeps it, as it keeps the fds). Until then no
// call on any fd costs more than this load.
bool g_has_sessions = false;

constexpr socklen_t kNlAddrLen = sizeof(sockaddr_nl);

int fail(int err) {
  errno = err;
  return -1;
}

// The kernel's netlink_allowed(): CAP_NET_ADMIN in the caller's effective set. The daemon refuses peers
// of another user namespace anyway, so the caller's own namespace is the one that counts.
bool has_cap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  int saved = errno;
  long r = syscall(SYS_capget, &hdr, data);
  errno = saved;
  return r == 0 && (data[cap / 32].effective & (1u << (cap % 32)));
}

// Sends one datagram whatever O_NONBLOCK says: the kernel's netlink sendmsg never returns EAGAIN for a
// message to the kernel. 0 or a positive errno.
int send_datagram(int fd, iovec* iov, size_t iovcnt) {
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = iovcnt;
  for (;;) {
    long r = syscall(SYS_sendmsg, fd, &m, MSG_NOSIGNAL);
    if (r >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      syscall(SYS_poll, &p, 1, -1);
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return EIO;  // the daemon went away
    return errno;
  }
}

// The kernel handles a netlink message inside sendmsg(): when it returns, every reply is queued. nft
// relies on it (it drains with recvmsg until EAGAIN, or select() with a zero timeout). The daemon
// consumes a request only after it queued the replies, so "all we sent was consumed" (SIOCOUTQ == 0)
// means the same thing. A daemon that dies frees our queued datagrams, so this never hangs on a corpse.
void wait_consumed(int fd) {
  for (unsigned i = 0;; ++i) {
    int queued = 0;
    if (syscall(SYS_ioctl, fd, SIOCOUTQ, &queued) != 0 || queued == 0) return;
    if (i < 64) {
      syscall(SYS_sched_yield);
    } else {
      unsigned shift = i - 64 < 7 ? i - 64 : 7;
      timespec ts{0, static_cast<long>(8000u << shift)};  // 8 us doubling to ~1 ms
      syscall(SYS_nanosleep, &ts, nullptr);
    }
  }
}

int send_control(int fd, int32_t level, int32_t optname, uint32_t value) {
  struct {
    wire::FrameHeader hdr;
    wire::NetlinkControl ctl;
  } d{{wire::kMagic, wire::kVersion, wire::kNetlinkControl, sizeof(wire::NetlinkControl)},
      {level, optname, value, 0}};
  iovec iov{&d, sizeof(d)};
  int saved = errno;
  int err = send_datagram(fd, &iov, 1);
  if (err) return fail(err);
  wait_consumed(fd);
  errno = saved;
  return 0;
}

// Reads caller iovec number `i` (EFAULT-safe).
int read_iov(const iovec* base, size_t i, iovec* out) { return copy_from_caller(out, base + i, sizeof(*out)); }

// A message too big for one seqpacket datagram goes in kNetlinkFragmentPayload pieces, each described by
// iovecs into the caller's buffers (no copy, no allocation).
int send_fragments(int fd, const iovec* uiov, size_t iovlen, uint64_t total) {
  struct {
    wire::FrameHeader hdr;
    wire::NetlinkFragmentFixed frag;
  } head{{wire::kMagic, wire::kVersion, wire::kNetlinkFragment, total}, {0}};
  constexpr size_t kMaxParts = 64;
  iovec parts[kMaxParts];
  size_t vi = 0, voff = 0;
  iovec cur{nullptr, 0};
  if (iovlen && read_iov(uiov, 0, &cur)) return EFAULT;
  uint64_t off = 0;
  while (off < total) {
    size_t np = 0, room = wire::kNetlinkFragmentPayload, taken = 0;
    parts[np++] = {&head, sizeof(head)};
    while (room > 0 && vi < iovlen && np < kMaxParts) {
      if (voff == cur.iov_len) {
        if (++vi == iovlen) break;
        if (read_iov(uiov, vi, &cur)) return EFAULT;
        voff = 0;
        continue;
      }
      size_t n = cur.iov_len - voff < room ? cur.iov_len - voff : room;
      parts[np++] = {static_cast<char*>(cur.iov_base) + voff, n};
      voff += n;
      room -= n;
      taken += n;
    }
    head.frag.offset = off;
    if (int err = send_datagram(fd, parts, np)) return err;
    off += taken;
  }
  return 0;
}

void fill_nl_addr(sockaddr_nl* a, uint32_t portid) {
  memset(a, 0, sizeof(*a));
  a->nl_family = AF_NETLINK;
  a->nl_pid = portid;
}

// getsockname()/recvfrom() style address output: min(*len, 12) bytes, then *len = 12.
int put_addr(sockaddr* addr, socklen_t* len, uint32_t portid) {
  socklen_t have;
  if (copy_from_caller(&have, len, sizeof(have))) return EFAULT;
  if (static_cast<int>(have) < 0) return EINVAL;
  sockaddr_nl nl;
  fill_nl_addr(&nl, portid);
  socklen_t n = have < kNlAddrLen ? have : kNlAddrLen;
  if (copy_to_caller(addr, &nl, n)) return EFAULT;
  socklen_t out = kNlAddrLen;
  return copy_to_caller(len, &out, sizeof(out));
}

}  // namespace

bool netlink_session(int fd, uint32_t* portid) {
  if (!__atomic_load_n(&g_has_sessions, __ATOMIC_RELAXED)) return false;
  sockaddr_un a;
  socklen_t len = sizeof(a);
  int saved = errno;
  long r = syscall(SYS_getsockname, fd, &a, &len);
  errno = saved;
  constexpr socklen_t kNameLen = offsetof(sockaddr_un, sun_path) + sizeof(wire::NetlinkSessionName);
  if (r != 0 || len != kNameLen || a.sun_family != AF_UNIX) return false;
  wire::NetlinkSessionName name;
  memcpy(&name, a.sun_path, sizeof(name));
  if (memcmp(name.tag, wire::kNetlinkSessionTag, sizeof(name.tag)) != 0) return false;
  *portid = name.portid;
  return true;
}

int nl_socket(int type, bool* fall_through) {
  *fall_through = false;
  CallOutcome out{};
  int c = open_daemon_connection(&out);
  if (c < 0) {
    if (out.fall_through) {
      *fall_through = true;
      return -1;
    }
    return fail(out.err);
  }
  struct {
    wire::FrameHeader hdr;
    wire::NetlinkSessionRequest req;
  } rq{{wire::kMagic, wire::kVersion, wire::kNetlinkSessionRequest, sizeof(wire::NetlinkSessionRequest)},
       {NETLINK_NETFILTER, 0}};
  int err = send_to_daemon(c, &rq, sizeof(rq));
  struct {
    wire::FrameHeader hdr;
    wire::NetlinkSessionReply rep;
  } rp{};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  int fd = -1;
  if (!err) {
    iovec iov{&rp, sizeof(rp)};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof(control);
    long r;
    do r = syscall(SYS_recvmsg, c, &m, MSG_WAITALL | ((type & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0));
    while (r < 0 && errno == EINTR);
    if (r < 0) err = EIO;
    for (cmsghdr* cm = r >= 0 ? CMSG_FIRSTHDR(&m) : nullptr; cm; cm = CMSG_NXTHDR(&m, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len >= CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    }
    if (!err && (r != static_cast<long>(sizeof(rp)) || rp.hdr.magic != wire::kMagic ||
                 rp.hdr.version != wire::kVersion || rp.hdr.type != wire::kNetlinkSessionReply))
      err = EPROTO;  // includes kProtocolError: a daemon that does not speak our version
  }
  close_daemon_connection(c);
  if (!err && rp.rep.disposition == wire::kNotThisNamespace) {
    if (fd >= 0) syscall(SYS_close, fd);
    *fall_through = true;
    return -1;
  }
  if (!err && rp.rep.err) err = rp.rep.err;
  if (!err && fd < 0) err = EPROTO;
  if (err) {
    if (fd >= 0) syscall(SYS_close, fd);
    return fail(err);
  }
  if ((type & SOCK_NONBLOCK) && syscall(SYS_fcntl, fd, F_SETFL, O_RDWR | O_NONBLOCK) != 0) {
    int e = errno;
    syscall(SYS_close, fd);
    return fail(e);
  }
  __atomic_store_n(&g_has_sessions, true, __ATOMIC_RELAXED);
  return fd;
}

int nl_bind(int fd, uint32_t portid, const sockaddr* addr, socklen_t len) {
  sockaddr_nl nl;
  if (len < kNlAddrLen) return fail(EINVAL);
  if (copy_from_caller(&nl, addr, sizeof(nl))) return fail(EFAULT);
  if (nl.nl_family != AF_NETLINK) return fail(EINVAL);
  uint32_t groups = nl.nl_groups & ((1u << NFNLGRP_MAX) - 1);  // nfnetlink has NFNLGRP_MAX groups
  if (nl.nl_groups && !has_cap(CAP_NET_ADMIN)) return fail(EPERM);
  // The session was bound when the daemon made it (as if autobound): the kernel accepts a bind of a
  // bound socket only to its own port id; 0 asks for "any", which is ours.
  if (nl.nl_pid != 0 && nl.nl_pid != portid) return fail(EINVAL);
  return send_control(fd, wire::kNetlinkBindGroups, 0, groups);
}

int nl_connect(int fd, const sockaddr* addr, socklen_t len) {
  (void)fd;
  sockaddr_nl nl;
  if (len < sizeof(sa_family_t)) return fail(EINVAL);
  if (copy_from_caller(&nl, addr, len < kNlAddrLen ? len : kNlAddrLen)) return fail(EFAULT);
  if (nl.nl_family == AF_UNSPEC) return 0;  // disconnect: back to the kernel as destination
  if (len < kNlAddrLen || nl.nl_family != AF_NETLINK) return fail(EINVAL);
  if (nl.nl_pid == 0 && nl.nl_groups == 0) return 0;  // the kernel is already our destination
  return fail(EOPNOTSUPP);  // unicast to other user sockets: not served (docs/daemon.md)
}

int nl_getsockname(int fd, uint32_t portid, sockaddr* addr, socklen_t* len) {
  (void)fd;
  if (int err = put_addr(addr, len, portid)) return fail(err);
  return 0;
}

int nl_getpeername(int fd, sockaddr* addr, socklen_t* len) {
  (void)fd;
  if (int err = put_addr(addr, len, 0)) return fail(err);
  return 0;
}

int nl_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  if (level == SOL_SOCKET)  // buffer sizes, timeouts, ...: the seqpacket socket's own are the right ones
    return static_cast<int>(syscall(SYS_setsockopt, fd, level, optname, optval, optlen));
  if (level != SOL_NETLINK) return fail(ENOPROTOOPT);
  uint32_t val = 0;  // as netlink_setsockopt: a short optval reads as 0
  if (optlen >= sizeof(int) && copy_from_caller(&val, optval, sizeof(val))) return fail(EFAULT);
  switch (optname) {
    case NETLINK_ADD_MEMBERSHIP:
    case NETLINK_DROP_MEMBERSHIP:
      if (!has_cap(CAP_NET_ADMIN)) return fail(EPERM);
      if (val == 0 || val - 1 >= NFNLGRP_MAX) return fail(EINVAL);
      break;
    case NETLINK_LISTEN_ALL_NSID:
      if (!has_cap(CAP_NET_BROADCAST)) return fail(EPERM);
      break;
    case NETLINK_PKTINFO:
    case NETLINK_BROADCAST_ERROR:
    case NETLINK_NO_ENOBUFS:
    case NETLINK_CAP_ACK:
    case NETLINK_EXT_ACK:
    case NETLINK_GET_STRICT_CHK:
      break;
    default:
      return fail(ENOPROTOOPT);
  }
  return send_control(fd, SOL_NETLINK, optname, val);
}

int nl_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen) {
  if (level == SOL_SOCKET && (optname == SO_DOMAIN || optname == SO_PROTOCOL || optname == SO_TYPE)) {
    socklen_t have;
    if (copy_from_caller(&have, optlen, sizeof(have))) return fail(EFAULT);
    if (static_cast<int>(have) < 0) return fail(EINVAL);
    int v = optname == SO_DOMAIN ? AF_NETLINK : optname == SO_PROTOCOL ? NETLINK_NETFILTER : SOCK_RAW;
    socklen_t n = have < sizeof(v) ? have : sizeof(v);
    if (copy_to_caller(optval, &v, n) || copy_to_caller(optlen, &n, sizeof(n))) return fail(EFAULT);
    return 0;
  }
  if (level == SOL_SOCKET) return static_cast<int>(syscall(SYS_getsockopt, fd, level, optname, optval, optlen));
  // SOL_NETLINK reads (flags, NETLINK_LIST_MEMBERSHIPS) would need the daemon's answer: not served yet.
  return fail(ENOPROTOOPT);
}

ssize_t nl_sendmsg(int fd, const msghdr* umsg, int flags) {
  (void)flags;  // MSG_DONTWAIT & co: the kernel handles the message synchronously whatever they say
  msghdr m;
  if (copy_from_caller(&m, umsg, sizeof(m))) return fail(EFAULT);
  if (m.msg_namelen) {  // as netlink_sendmsg
    sockaddr_nl dst;
    if (m.msg_namelen < kNlAddrLen) return fail(EINVAL);
    if (copy_from_caller(&dst, m.msg_name, sizeof(dst))) return fail(EFAULT);
    if (dst.nl_family != AF_NETLINK) return fail(EINVAL);
    if ((dst.nl_pid || dst.nl_groups) && !has_cap(CAP_NET_ADMIN)) return fail(EPERM);
    if (dst.nl_pid || dst.nl_groups) return fail(ECONNREFUSED);  // no other user socket is reachable
  }
  if (m.msg_iovlen > 1024) return fail(EMSGSIZE);  // UIO_MAXIOV
  uint64_t total = 0;
  for (size_t i = 0; i < m.msg_iovlen; ++i) {
    iovec v;
    if (read_iov(m.msg_iov, i, &v)) return fail(EFAULT);
    total += v.iov_len;
  }
  int sndbuf = 0;
  socklen_t sl = sizeof(sndbuf);
  if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) == 0 &&
      total > static_cast<uint64_t>(sndbuf) - 32)
    return fail(EMSGSIZE);  // netlink_sendmsg's own limit
  int saved = errno;
  int err;
  if (total <= wire::kNetlinkFragmentPayload) {
    iovec local[64];
    if (m.msg_iovlen <= 64) {  // copied so a bad iovec array is our EFAULT, not a fault
      for (size_t i = 0; i < m.msg_iovlen; ++i) read_iov(m.msg_iov, i, &local[i]);
      err = send_datagram(fd, local, m.msg_iovlen);
    } else {
      err = send_fragments(fd, m.msg_iov, m.msg_iovlen, total);
    }
  } else {
    err = send_fragments(fd, m.msg_iov, m.msg_iovlen, total);
  }
  if (err) return fail(err);
  wait_consumed(fd);
  errno = saved;
  return static_cast<ssize_t>(total);
}

ssize_t nl_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t alen) {
  iovec iov{const_cast<void*>(buf), len};
  msghdr m{};
  m.msg_name = const_cast<sockaddr*>(addr);
  m.msg_namelen = addr ? alen : 0;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return nl_sendmsg(fd, &m, flags);
}

ssize_t nl_recvmsg(int fd, msghdr* umsg, int flags) {
  msghdr m;
  if (copy_from_caller(&m, umsg, sizeof(m))) return fail(EFAULT);
  void* name = m.msg_name;
  socklen_t namelen = m.msg_namelen;
  m.msg_name = nullptr;
  m.msg_namelen = 0;
  long r = syscall(SYS_recvmsg, fd, &m, flags);
  if (r < 0) return -1;
  int saved = errno;
  // A zero-byte read that is not a truncated datagram is the daemon's end closing.
  if (r == 0 && !(m.msg_flags & MSG_TRUNC)) return fail(EIO);
  msghdr back = m;
  back.msg_name = name;
  back.msg_namelen = namelen;
  if (name) {  // the sender is the kernel: {AF_NETLINK, nl_pid 0}
    sockaddr_nl nl;
    fill_nl_addr(&nl, 0);
    if (static_cast<int>(namelen) < 0) return fail(EINVAL);
    if (copy_to_caller(name, &nl, namelen < kNlAddrLen ? namelen : kNlAddrLen)) return fail(EFAULT);
    back.msg_namelen = kNlAddrLen;
  }
  if (copy_to_caller(umsg, &back, sizeof(back))) return fail(EFAULT);
  errno = saved;
  return r;
}

ssize_t nl_recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen) {
  long r = syscall(SYS_recvfrom, fd, buf, len, flags, nullptr, nullptr);
  if (r < 0) return -1;
  if (r == 0 && len > 0) return fail(EIO);  // the daemon's end closed
  if (addr && alen) {
    if (int err = put_addr(addr, alen, 0)) return fail(err);
  }
  return r;
}

}  // namespace nfjit::preload
