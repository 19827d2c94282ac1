// Forwards one xtables getsockopt/setsockopt to nfjitd (protocol: include/nfjit/wire.h).
#pragma once

#include <stddef.h>
#include <sys/socket.h>

namespace nfjit::preload {

struct CallOutcome {
  bool fall_through;  // no daemon for us: make the real call instead
  int ret;            // otherwise: the value to return ...
  int err;            // ... and, when ret < 0, the errno to set
};

// The shim's own connection to nfjitd (raw system calls): the fd, or -1 with *outcome set (fall through
// when no daemon listens or it is our own process; fail with an errno otherwise).
int open_daemon_connection(CallOutcome* outcome);
// 0 or a positive errno (EIO when the daemon went away).
int send_to_daemon(int fd, const void* buf, size_t n);
int recv_from_daemon(int fd, void* buf, size_t n);
void close_daemon_connection(int fd);

// getsockopt: optval/optlen as the caller passed them (optlen already read and valid).
CallOutcome forward_get(int level, int optname, void* optval, socklen_t* optlen, socklen_t len_in);
// setsockopt: copies SET_REPLACE's old counters to ipt_replace.counters before returning.
CallOutcome forward_set(int level, int optname, const void* optval, socklen_t optlen);

}  // namespace nfjit::preload
