// nfjitd's listening unix socket: created with its directory, a stale socket from a dead daemon
// replaced, a live daemon's socket never stolen, and removed on exit only while it is still ours.
#pragma once

#include <sys/types.h>

#include <string>

#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::daemon {

class ListenSocket {
 public:
  // Mode 0666: every local user may connect, and the daemon answers EPERM to a peer without
  // CAP_NET_ADMIN exactly like the kernel (the shim must not fall through to the kernel for them).
  static Result<ListenSocket> open(const std::string& path);
  ListenSocket(ListenSocket&&) = default;
  ListenSocket& operator=(ListenSocket&&) = default;
  ~ListenSocket();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  ListenSocket() = default;
  runtime::Fd fd_;
  std::string path_;
  ino_t ino_ = 0;
};

}  // namespace nfjit::daemon
