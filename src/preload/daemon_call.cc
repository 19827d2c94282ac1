#include "daemon_call.h"

#include <errno.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "nfjit/wire.h"
#include "user_memory.h"

namespace nfjit::preload {
namespace {

// Raw system calls for the shim's own socket: if the shim later interposes send/recv/connect too
// (netlink), its private traffic must not loop back into it.
long sys_close(int fd) { return syscall(SYS_close, fd); }

CallOutcome fall_through() { return {true, 0, 0}; }
CallOutcome fail(int err) { return {false, -1, err}; }

// The connection for one call: -1 with *outcome set when the call is decided without a daemon.
int connect_daemon(CallOutcome* outcome) {
  const char* path = getenv(wire::kSocketEnv);
  if (!path || !*path) path = wire::kDefaultSocket;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if (n >= sizeof(addr.sun_path)) {  // cannot name a daemon: there is none for us
    *outcome = fall_through();
    return -1;
  }
  memcpy(addr.sun_path, path, n + 1);
  int fd = static_cast<int>(syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0) {
    *outcome = fail(errno);
    return -1;
  }
  long r;
  do r = syscall(SYS_connect, fd, &addr, sizeof(addr));
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    sys_close(fd);
    // No daemon listening: the host's own netfilter answers, so nobody is locked out of it.
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) *outcome = fall_through();
    // A daemon exists but refuses us the socket: answer like the kernel does an unprivileged caller.
    else if (err == EACCES) *outcome = fail(EPERM);
    else *outcome = fail(err);
    return -1;
  }
  // nfjitd itself (run under /etc/ld.so.preload, or a handler calling libc) must reach its kernel, not
  // wait on its own single serving thread forever.
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid == getpid()) {
    sys_close(fd);
    *outcome = fall_through();
    return -1;
  }
  return fd;
}

// 0, or a positive errno (EFAULT when the caller's optval is bad, EIO when the daemon went away).
int send_all(int fd, iovec* iov, int iovcnt) {
  while (iovcnt > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(iovcnt);
    long r = syscall(SYS_sendmsg, fd, &msg, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno == EFAULT ? EFAULT : EIO;
    }
    size_t done = static_cast<size_t>(r);
    while (iovcnt > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      ++iov;
      --iovcnt;
    }
    if (iovcnt > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
  return 0;
}

int recv_all(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    long r = syscall(SYS_recvfrom, fd, p, n, MSG_WAITALL, nullptr, nullptr);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno == EFAULT ? EFAULT : EIO;
    }
    if (r == 0) return EIO;  // the daemon closed mid-reply
    p += r;
    n -= static_cast<size_t>(r);
  }
  return 0;
}

// Sends the request; reads and checks the reply's fixed part. Returns the connection or -1.
int exchange(bool set, int level, int optname, const void* optval, socklen_t optlen, size_t send_len,
             wire::SockoptReplyFixed* reply, uint64_t* payload_left, CallOutcome* outcome) {
  int fd = connect_daemon(outcome);
  if (fd < 0) return -1;
  wire::SockoptRequestFixed req{};
  req.set = set ? 1 : 0;
  req.level = level;
  req.optname = optname;
  req.optlen = optlen;
  wire::FrameHeader hdr{wire::kMagic, wire::kVersion, wire::kSockoptRequest, sizeof(req) + send_len};
  iovec iov[3] = {{&hdr, sizeof(hdr)}, {&req, sizeof(req)}, {const_cast<void*>(optval), send_len}};
  int err = send_all(fd, iov, send_len ? 3 : 2);
  wire::FrameHeader rh{};
  if (!err) err = recv_all(fd, &rh, sizeof(rh));
  if (!err && (rh.magic != wire::kMagic || rh.version != wire::kVersion || rh.type != wire::kSockoptReply ||
               rh.length < sizeof(*reply)))
    err = EPROTO;  // includes kProtocolError: a daemon that does not speak our version
  if (!err) err = recv_all(fd, reply, sizeof(*reply));
  if (!err && reply->data_len > rh.length - sizeof(*reply)) err = EPROTO;
  if (err) {
    sys_close(fd);
    *outcome = fail(err);
    return -1;
  }
  if (reply->disposition == wire::kNotThisNamespace) {
    sys_close(fd);
    *outcome = fall_through();
    return -1;
  }
  *payload_left = rh.length - sizeof(*reply);
  return fd;
}

// The kernel copies the replaced table's counters to replace->counters; the reply carries them.
int copy_old_counters(int fd, const void* optval, socklen_t optlen, uint64_t counters_len) {
  static_assert(offsetof(ipt_replace, num_counters) == offsetof(ip6t_replace, num_counters));
  static_assert(offsetof(ipt_replace, counters) == offsetof(ip6t_replace, counters));
  if (optlen < sizeof(ipt_replace)) return 0;  // the daemon accepted it, so nothing to copy
  unsigned int num_counters;
  xt_counters* dst;
  const char* base = static_cast<const char*>(optval);
  memcpy(&num_counters, base + offsetof(ipt_replace, num_counters), sizeof(num_counters));
  memcpy(&dst, base + offsetof(ipt_replace, counters), sizeof(dst));
  uint64_t n = static_cast<uint64_t>(num_counters) * sizeof(xt_counters);
  if (n > counters_len) n = counters_len;
  // Straight into the caller's buffer: a bad pointer fails the recv with EFAULT (the kernel's answer
  // too), no bounce buffer is allocated however large the table.
  return recv_all(fd, dst, n);
}

// A failed setsockopt's reply may say why (a --strict refusal names the rule). The command can only
// print strerror(errno), so the shim writes the reason to its stderr, as one line, before returning.
void report_daemon_message(int fd, uint64_t len) {
  char line[1024];
  static const char kPrefix[] = "nfjit: ";
  size_t n = len < sizeof(line) - sizeof(kPrefix) ? static_cast<size_t>(len) : sizeof(line) - sizeof(kPrefix);
  if (n == 0) return;
  memcpy(line, kPrefix, sizeof(kPrefix) - 1);
  if (recv_all(fd, line + sizeof(kPrefix) - 1, n) != 0) return;
  size_t total = sizeof(kPrefix) - 1 + n;
  line[total++] = '\n';
  int saved = errno;
  long w = syscall(SYS_write, 2, line, total);
  (void)w;
  errno = saved;
}

}  // namespace

int open_daemon_connection(CallOutcome* outcome) { return connect_daemon(outcome); }
int send_to_daemon(int fd, const void* buf, size_t n) {
  iovec iov{const_cast<void*>(buf), n};
  return send_all(fd, &iov, 1);
}
int recv_from_daemon(int fd, void* buf, size_t n) { return recv_all(fd, buf, n); }
void close_daemon_connection(int fd) { sys_close(fd); }

CallOutcome forward_get(int level, int optname, void* optval, socklen_t* optlen, socklen_t len_in) {
  size_t send_len = len_in < wire::kGetInputMax ? len_in : wire::kGetInputMax;
  wire::SockoptReplyFixed reply{};
  uint64_t left = 0;
  CallOutcome out{};
  int fd = exchange(false, level, optname, optval, len_in, send_len, &reply, &left, &out);
  if (fd < 0) return out;
  if (reply.err) {
    out = fail(reply.err);
  } else if (reply.data_len > len_in) {
    out = fail(EPROTO);  // the kernel never writes past *optlen; neither do we
  } else {
    int err = recv_all(fd, optval, reply.data_len);
    socklen_t len_out = static_cast<socklen_t>(reply.data_len);
    if (!err) err = copy_to_caller(optlen, &len_out, sizeof(len_out));
    out = err ? fail(err) : CallOutcome{false, reply.retval, 0};
  }
  sys_close(fd);
  return out;
}

CallOutcome forward_set(int level, int optname, const void* optval, socklen_t optlen) {
  wire::SockoptReplyFixed reply{};
  uint64_t left = 0;
  CallOutcome out{};
  int fd = exchange(true, level, optname, optval, optlen, optlen, &reply, &left, &out);
  if (fd < 0) return out;
  if (reply.err) {
    out = fail(reply.err);
    report_daemon_message(fd, left - reply.data_len);
  } else {
    int err = 0;
    if (optname == IPT_SO_SET_REPLACE) {  // == IP6T_SO_SET_REPLACE
      char sink[256];
      for (uint64_t d = reply.data_len; !err && d > 0;) {  // setsockopt has no output; skip any
        size_t chunk = d < sizeof(sink) ? static_cast<size_t>(d) : sizeof(sink);
        err = recv_all(fd, sink, chunk);
        d -= chunk;
      }
      if (!err) err = copy_old_counters(fd, optval, optlen, left - reply.data_len);
    }
    out = err ? fail(err) : CallOutcome{false, reply.retval, 0};
  }
  sys_close(fd);
  return out;
}

}  // namespace nfjit::preload
