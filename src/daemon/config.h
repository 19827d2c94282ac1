// nfjitd's command line, parsed once in main and handed to every part that needs it (the server, and
// through the lead's wiring the runtime: bpffs pin root, state dir, XDP/TC placements, strict mode).
#pragma once

#include <string>
#include <vector>

#include "nfjit/result.h"

namespace nfjit::daemon {

struct DaemonConfig {
  std::string socket_path = "/run/nfjit/nfjitd.sock";  // --socket PATH
  std::string bpffs_dir = "/sys/fs/bpf/nfjit";          // --bpffs DIR: where pinned programs/maps live
  std::string state_dir = "/var/lib/nfjit";             // --state-dir DIR: pidfile, restorable state
  bool strict = false;                  // --strict: refuse tables nfjit cannot lower (no passthrough)
  std::vector<std::string> xdp_ifaces;  // --xdp IFACE (repeatable): also place INPUT/raw PREROUTING at XDP
  std::vector<std::string> tc_ifaces;   // --tc IFACE (repeatable): ... at TC ingress
  // --reject=userspace|kernel: REJECT rules run as BPF with nfjitd sending the replies (default), or
  // every table with a REJECT rule stays in the kernel's ip_tables / nf_tables (docs/reject.md).
  bool reject_in_kernel = false;
  bool foreground = false;              // -f/--foreground: no fork, log to stderr too
  bool debug = false;                   // --debug: log LOG_DEBUG lines (per-stage timings of each call)
  bool help = false;                    // -h/--help: print usage_text() and exit 0

  std::string pidfile_path() const { return state_dir + "/nfjitd.pid"; }
};

// argv as main receives it. Error.message says what was wrong with the command line.
Result<DaemonConfig> parse_daemon_args(int argc, const char* const* argv);
const char* daemon_usage_text();

}  // namespace nfjit::daemon
