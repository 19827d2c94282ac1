// The libc (or next interposer's) getsockopt/setsockopt, for every call the shim does not forward.
#pragma once

#include <sys/socket.h>

namespace nfjit::preload {

int real_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen);
int real_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);

}  // namespace nfjit::preload
