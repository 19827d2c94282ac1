// The shim's netlink side: a socket(AF_NETLINK, *, NETLINK_NETFILTER) becomes a session with nfjitd (one
// end of a SOCK_SEQPACKET socketpair whose other end the daemon serves; docs/daemon.md "Netlink
// sessions"). Datagram boundaries, poll/select/epoll, O_NONBLOCK and close work on that fd as they are;
// these functions give the calls whose netlink semantics differ from a seqpacket socket's.
//
// Every function returns what the libc call returns, with errno set on failure and untouched on success.
#pragma once

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

namespace nfjit::preload {

// True (and *portid) when `fd` is a netlink session of this process. Costs one atomic load in a process
// that never opened one, one getsockname() system call otherwise: no table of fds to go stale.
bool netlink_session(int fd, uint32_t* portid);

// socket(AF_NETLINK, type, NETLINK_NETFILTER). *fall_through: no daemon for us, open the kernel's socket.
int nl_socket(int type, bool* fall_through);

int nl_bind(int fd, uint32_t portid, const sockaddr* addr, socklen_t len);
int nl_connect(int fd, const sockaddr* addr, socklen_t len);
int nl_getsockname(int fd, uint32_t portid, sockaddr* addr, socklen_t* len);
int nl_getpeername(int fd, sockaddr* addr, socklen_t* len);
int nl_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);
int nl_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen);
ssize_t nl_sendmsg(int fd, const msghdr* msg, int flags);
ssize_t nl_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t alen);
ssize_t nl_recvmsg(int fd, msghdr* msg, int flags);
ssize_t nl_recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen);

}  // namespace nfjit::preload
