// The serving loop's view of netlink sessions (docs/daemon.md "Netlink sessions"): the Server opens one
// when a shim asks (wire::kNetlinkSessionRequest) and polls the sessions' fds along with its clients.
// The implementation (netlink_sessions.h) lives with the nf_tables front-end; the Server knows only this.
#pragma once

#include <poll.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "daemon/connection.h"
#include "daemon/peer.h"
#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::daemon {

struct OpenedSession {
  runtime::Fd client_end;  // passed to the shim with SCM_RIGHTS, then closed here
  uint32_t portid = 0;
};

class NetlinkSessionService {
 public:
  virtual ~NetlinkSessionService() = default;
  // A session for the process at the other end of `opener` (the socket() caller). `opener_allowed`: it
  // holds CAP_NET_ADMIN in our user namespace (the kernel requires it of the socket's opener too).
  virtual Result<OpenedSession> open_session(const Peer& opener, bool opener_allowed) = 0;
  // Appends the sessions' pollfds; on_poll gets the same entries back with revents, after poll().
  virtual void poll_fds(std::vector<pollfd>& fds) = 0;
  virtual void on_poll(std::span<const pollfd> fds) = 0;
};

// Answers one kNetlinkSessionRequest frame on `c` (the reply, with the fd attached, is sent at once:
// it is 32 bytes on a connection whose client waits for it), then marks `c` to be closed.
// `service` may be null: this daemon serves no netlink (EPROTONOSUPPORT, as a kernel without nfnetlink).
void serve_session_request(Connection& c, const std::vector<uint8_t>& payload, PeerVerdict verdict,
                           NetlinkSessionService* service);

}  // namespace nfjit::daemon
