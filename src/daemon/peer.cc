#include "daemon/peer.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace nfjit::daemon {
namespace {

#ifndef SO_PEERPIDFD
constexpr int SO_PEERPIDFD = 77;  // linux/socket.h since 6.5; Debian 12's headers predate it
#endif

bool ns_of(const std::string& link, NsId* out) {
  struct stat st;
  if (stat(link.c_str(), &st) != 0) return false;
  *out = {st.st_dev, st.st_ino};
  return true;
}

// CapEff from /proc/PID/status, or false when the process is gone.
bool effective_caps(pid_t pid, unsigned long long* caps) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::sscanf(line.c_str() + 7, "%llx", caps) == 1;
  }
  return false;
}

// The pidfd still names the process we read about (it has not been reaped, so its PID is not reused).
bool still_same_process(const Peer& peer) {
  if (!peer.pidfd.valid()) return true;  // old kernel: accept the (small) PID-reuse window
  return syscall(SYS_pidfd_send_signal, peer.pidfd.get(), 0, nullptr, 0) == 0;
}

}  // namespace

SelfNamespaces SelfNamespaces::current() {
  SelfNamespaces s;
  ns_of("/proc/thread-self/ns/user", &s.user);
  ns_of("/proc/thread-self/ns/net", &s.net);
  return s;
}

Peer Peer::from_socket(int fd) {
  Peer p;
  socklen_t len = sizeof(p.cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p.cred, &len) != 0) p.cred = {0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
  int pidfd = -1;
  len = sizeof(pidfd);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) p.pidfd.reset(pidfd);
  return p;
}

PeerVerdict check_peer(const Peer& peer, const SelfNamespaces& self) {
  pid_t pid = peer.cred.pid;
  if (pid <= 0) return PeerVerdict::kNoPermission;
  std::string proc = "/proc/" + std::to_string(pid);
  NsId user, net;
  unsigned long long caps = 0;
  bool read_ok = ns_of(proc + "/ns/user", &user) && ns_of(proc + "/ns/net", &net) && effective_caps(pid, &caps);
  if (!read_ok || !still_same_process(peer)) return PeerVerdict::kNoPermission;
  // Another namespace's firewall is not ours to answer for, whatever the peer's privileges.
  if (net != self.net) return PeerVerdict::kOtherNetns;
  if (user != self.user) return PeerVerdict::kNoPermission;
  if (!(caps & (1ull << CAP_NET_ADMIN))) return PeerVerdict::kNoPermission;
  return PeerVerdict::kAllowed;
}

std::string describe(const Peer& peer) {
  return "pid " + std::to_string(peer.cred.pid) + " uid " + std::to_string(peer.cred.uid);
}

}  // namespace nfjit::daemon
