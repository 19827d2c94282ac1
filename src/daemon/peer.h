// Who is on the other end of a client connection, and whether the kernel would let it change netfilter.
//
// The kernel checks ns_capable(net->user_ns, CAP_NET_ADMIN) on every IPT_SO_* call. We approximate it:
//  - pid/uid/gid from SO_PEERCRED (recorded by the kernel at connect() time, unforgeable);
//  - a pidfd from SO_PEERPIDFD (kernel >= 6.5) pins the identity of that process: after reading
//    /proc/PID/status we check the pidfd still names a live (or zombie, i.e. not reaped) process, so a
//    recycled PID can never lend us another process's capabilities;
//  - CapEff bit CAP_NET_ADMIN from /proc/PID/status, read at each request (the kernel checks per call);
//  - the peer must be in the daemon's user namespace (/proc/PID/ns/user): a process in a child user
//    namespace holds no capability over ours, so it gets EPERM. Limitation: a peer in an ANCESTOR user
//    namespace that would hold the capability over ours is refused too; and /proc/PID/status describes
//    the thread group leader, so a thread that dropped its own caps is judged by its leader's.
//  - the peer's network namespace (/proc/PID/ns/net) is compared with the daemon's: a peer elsewhere is
//    told to call its own kernel (wire::kNotThisNamespace), since this daemon does not own its firewall.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <string>

#include "runtime/fd.h"

namespace nfjit::daemon {

// A namespace's identity, from stat() of its /proc/.../ns/ link.
struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};

// The daemon's own namespaces, captured once on the thread that constructs the server.
struct SelfNamespaces {
  NsId user;
  NsId net;
  static SelfNamespaces current();
};

struct Peer {
  ucred cred{};
  runtime::Fd pidfd;  // invalid on kernels without SO_PEERPIDFD
  static Peer from_socket(int fd);
};

enum class PeerVerdict { kAllowed, kNoPermission, kOtherNetns };

PeerVerdict check_peer(const Peer& peer, const SelfNamespaces& self);
std::string describe(const Peer& peer);

}  // namespace nfjit::daemon
