// The socket calls the shim exports for netlink sessions (getsockopt/setsockopt are in interpose.cc).
// A call on anything but a session goes to the next definition (libc) untouched; in a process that
// never opened a session that costs one relaxed load.
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "netlink_socket.h"

namespace {

using namespace nfjit::preload;

// Resolved lazily (no constructor), cached with release/acquire; racing threads store the same value.
template <typename Fn>
Fn next_fn(Fn* slot, const char* name) {
  Fn fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!fn) {
    fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
    if (fn) __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
  }
  return fn;
}

#define NFJIT_NEXT(name, type, sysno, ...)                          \
  static type slot = nullptr;                                        \
  if (type fn = next_fn(&slot, #name)) return fn(__VA_ARGS__);       \
  return syscall(sysno, __VA_ARGS__)

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT int socket(int domain, int type, int protocol) {
  using Fn = int (*)(int, int, int);
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (domain == AF_NETLINK && protocol == NETLINK_NETFILTER && (base == SOCK_RAW || base == SOCK_DGRAM)) {
    bool fall_through = false;
    int fd = nl_socket(type, &fall_through);
    if (!fall_through) return fd;
  }
  NFJIT_NEXT(socket, Fn, SYS_socket, domain, type, protocol);
}

EXPORT int bind(int fd, const sockaddr* addr, socklen_t len) {
  using Fn = int (*)(int, const sockaddr*, socklen_t);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_bind(fd, portid, addr, len);
  NFJIT_NEXT(bind, Fn, SYS_bind, fd, addr, len);
}

EXPORT int connect(int fd, const sockaddr* addr, socklen_t len) {
  using Fn = int (*)(int, const sockaddr*, socklen_t);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_connect(fd, addr, len);
  NFJIT_NEXT(connect, Fn, SYS_connect, fd, addr, len);
}

EXPORT int getsockname(int fd, sockaddr* addr, socklen_t* len) {
  using Fn = int (*)(int, sockaddr*, socklen_t*);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_getsockname(fd, portid, addr, len);
  NFJIT_NEXT(getsockname, Fn, SYS_getsockname, fd, addr, len);
}

EXPORT int getpeername(int fd, sockaddr* addr, socklen_t* len) {
  using Fn = int (*)(int, sockaddr*, socklen_t*);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_getpeername(fd, addr, len);
  NFJIT_NEXT(getpeername, Fn, SYS_getpeername, fd, addr, len);
}

EXPORT ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  using Fn = ssize_t (*)(int, const msghdr*, int);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_sendmsg(fd, msg, flags);
  NFJIT_NEXT(sendmsg, Fn, SYS_sendmsg, fd, msg, flags);
}

EXPORT ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t alen) {
  using Fn = ssize_t (*)(int, const void*, size_t, int, const sockaddr*, socklen_t);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_sendto(fd, buf, len, flags, addr, alen);
  NFJIT_NEXT(sendto, Fn, SYS_sendto, fd, buf, len, flags, addr, alen);
}

EXPORT ssize_t send(int fd, const void* buf, size_t len, int flags) {
  using Fn = ssize_t (*)(int, const void*, size_t, int);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_sendto(fd, buf, len, flags, nullptr, 0);
  static Fn slot = nullptr;
  if (Fn fn = next_fn(&slot, "send")) return fn(fd, buf, len, flags);
  return syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}

EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  using Fn = ssize_t (*)(int, msghdr*, int);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_recvmsg(fd, msg, flags);
  NFJIT_NEXT(recvmsg, Fn, SYS_recvmsg, fd, msg, flags);
}

EXPORT ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen) {
  using Fn = ssize_t (*)(int, void*, size_t, int, sockaddr*, socklen_t*);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_recvfrom(fd, buf, len, flags, addr, alen);
  NFJIT_NEXT(recvfrom, Fn, SYS_recvfrom, fd, buf, len, flags, addr, alen);
}

EXPORT ssize_t recv(int fd, void* buf, size_t len, int flags) {
  using Fn = ssize_t (*)(int, void*, size_t, int);
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_recvfrom(fd, buf, len, flags, nullptr, nullptr);
  static Fn slot = nullptr;
  if (Fn fn = next_fn(&slot, "recv")) return fn(fd, buf, len, flags);
  return syscall(SYS_recvfrom, fd, buf, len, flags, nullptr, nullptr);
}
