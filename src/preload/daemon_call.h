// Forwards one xtables getsockopt/setsockopt to nfjitd (protocol: include/nfjit/wire.h).
#pragma once

#include <sys/socket.h>

namespace nfjit::preload {

struct CallOutcome {
  bool fall_through;  // no daemon for us: make the real call instead
  int ret;            // otherwise: the value to return ...
  int err;            // ... and, when ret < 0, the errno to set
};

// getsockopt: optval/optlen as the caller passed them (optlen already read and valid).
CallOutcome forward_get(int level, int optname, void* optval, socklen_t* optlen, socklen_t len_in);
// setsockopt: copies SET_REPLACE's old counters to ipt_replace.counters before returning.
CallOutcome forward_set(int level, int optname, const void* optval, socklen_t optlen);

}  // namespace nfjit::preload
