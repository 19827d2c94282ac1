// Which REJECT mode applies to each table, for `nfjit status`. The engine's compile function notes every
// table it is asked to compile (daemon/engine_setup.cc); the status writers ask here.
#pragma once

#include <string>

#include "ir/ir.h"

namespace nfjit::daemon {

enum class RejectMode { Userspace, Kernel };

class RejectStatus {
 public:
  static RejectStatus& instance();
  void set_mode(RejectMode m);
  RejectMode mode() const;
  // Called with each table compiled: remembers whether it has REJECT rules.
  void note(const ir::Table& t);
  // "" when the table has no REJECT rule (or was never compiled); else "; REJECT: ..." for its line.
  std::string describe(ir::Family family, const std::string& table, bool bpf) const;
  // The last line of `nfjit status`: the daemon's REJECT mode.
  std::string mode_line() const;
};

// True when some rule of `t` rejects; `origin` gets the first such rule.
bool has_reject(const ir::Table& t, std::string* origin = nullptr);

}  // namespace nfjit::daemon
