// What nfjitd does with a request once the transport has checked the peer. The lead wires the xtables
// front-end (and later nftables) and the runtime behind this in main.cc; tests use their own.
#pragma once

#include <string>

#include "nfjit/sockopt.h"

namespace nfjit::daemon {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // One forwarded getsockopt/setsockopt from a peer holding CAP_NET_ADMIN. Answer exactly as the kernel
  // would (errno, data, and for SET_REPLACE the old counters in reply.old_counters). Called on the
  // daemon's single serving thread, one request at a time.
  virtual SockoptReply sockopt(const SockoptRequest& req) = 0;
  // The text `nfjit status` prints: every table, where it runs and why.
  virtual std::string status() = 0;
};

}  // namespace nfjit::daemon
