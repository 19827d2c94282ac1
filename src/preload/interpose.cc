// The two symbols the shim exports. Under LD_PRELOAD they shadow libc's getsockopt/setsockopt in every
// library of the process (libip4tc, libip6tc, libxtables); only xtables options on raw sockets are
// forwarded to nfjitd, everything else goes to the next definition untouched.
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon_call.h"
#include "netlink_socket.h"
#include "nfjit/wire.h"
#include "real_calls.h"
#include "user_memory.h"

namespace {

bool is_raw_socket(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  int saved = errno;
  long r = syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &len);
  errno = saved;
  return r == 0 && type == SOCK_RAW;
}

int finish(const nfjit::preload::CallOutcome& out, int saved_errno) {
  errno = out.ret < 0 ? out.err : saved_errno;  // success leaves errno as the caller had it
  return out.ret;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int getsockopt(int fd, int level, int optname,
                                                                 void* optval, socklen_t* optlen) {
  using namespace nfjit::preload;
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_getsockopt(fd, level, optname, optval, optlen);
  if (!nfjit::wire::routes_to_daemon(false, level, optname) || !is_raw_socket(fd))
    return real_getsockopt(fd, level, optname, optval, optlen);
  int saved = errno;
  socklen_t len_in;
  if (int err = copy_from_caller(&len_in, optlen, sizeof(len_in))) return finish({false, -1, err}, saved);
  if (static_cast<int>(len_in) < 0) return finish({false, -1, EINVAL}, saved);  // as ip_getsockopt
  CallOutcome out = forward_get(level, optname, optval, optlen, len_in);
  if (out.fall_through) {
    errno = saved;
    return real_getsockopt(fd, level, optname, optval, optlen);
  }
  return finish(out, saved);
}

extern "C" __attribute__((visibility("default"))) int setsockopt(int fd, int level, int optname,
                                                                 const void* optval, socklen_t optlen) {
  using namespace nfjit::preload;
  uint32_t portid;
  if (netlink_session(fd, &portid)) return nl_setsockopt(fd, level, optname, optval, optlen);
  if (!nfjit::wire::routes_to_daemon(true, level, optname) || !is_raw_socket(fd))
    return real_setsockopt(fd, level, optname, optval, optlen);
  int saved = errno;
  CallOutcome out = forward_set(level, optname, optval, optlen);
  if (out.fall_through) {
    errno = saved;
    return real_setsockopt(fd, level, optname, optval, optlen);
  }
  return finish(out, saved);
}
