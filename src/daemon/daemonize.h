// Backgrounding without -f: the parent returns only once the child is ready to serve (socket bound),
// so `nfjitd && iptables ...` in a script never races the daemon's start-up.
#pragma once

namespace nfjit::daemon {

// Forks. In the parent: waits for the child's readiness and _exit()s (0 when ready, 1 when the child
// failed first). In the child (the only return): a new session, cwd "/".
void daemonize_begin();
// In the child: tells the waiting parent we are ready and detaches stdin/stdout/stderr.
void daemonize_ready();

}  // namespace nfjit::daemon
