// What nfjitd does with a request once the transport has checked the peer. The lead wires the xtables
// front-end (and later nftables) and the runtime behind this in main.cc; tests use their own.
#pragma once

#include <string>

#include "daemon/kernel_table_names.h"
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
  // The text of /proc/net/ip_tables_names (family 4) or ip6_tables_names (6) as the peer should see
  // it (wire::kTableNamesRequest). By default the kernel's own list in the daemon's namespace.
  virtual std::string table_names(int family) { return table_names_text(kernel_table_names(family)); }
};

}  // namespace nfjit::daemon
