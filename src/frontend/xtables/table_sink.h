// Where lowered xtables tables go: the daemon implements this with codegen + runtime (BPF programs at
// the table's hooks); unit tests use an in-memory recorder. One (family, table) pair is one install.
#pragma once

#include <string>
#include <vector>

#include "codegen/program.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::xt {

// The counters around one install, slot by slot (see docs/xtables.md, "Counters").
struct InstallCounters {
  // One per old slot asked for: what the version that was in force counted, read once the new one is
  // (so no packet counted by it is missed; only those in flight on another CPU at that instant).
  std::vector<codegen::CounterValue> old;
  // One per new slot: where the new version's counter starts. 0 for a program this install loaded; a
  // program the sink left in force (its rules did not change) goes on counting from its old value.
  std::vector<codegen::CounterValue> start;
  std::string timings;  // how long the stages took, for the daemon's debug log (may be empty)
};

class TableSink {
 public:
  virtual ~TableSink() = default;
  // Install `lowered` for (family, table), replacing what was installed. Atomic: on error the previous
  // program stays in force. `old_slots` are the slots of what was installed, `new_slots` those of
  // `lowered` (the front-end's slot map); the result has one counter per slot of each.
  virtual Result<InstallCounters> install(ir::Family family, const std::string& table, const ir::Table& lowered,
                                          const std::vector<codegen::CounterSlot>& old_slots,
                                          const std::vector<codegen::CounterSlot>& new_slots) = 0;
  // Remove the installed program (the table now lives in the kernel's ip_tables).
  virtual Result<void> remove(ir::Family family, const std::string& table) = 0;
  // Live counters, one per requested slot in the same order; a slot the program does not count reads 0.
  virtual Result<std::vector<codegen::CounterValue>> counters(ir::Family family, const std::string& table,
                                                              const std::vector<codegen::CounterSlot>& slots) = 0;
  // After a daemon restart: whether a program for (family, table) still runs (adopted from its pins)
  // and counts exactly `slots`, so that the saved table can be taken as what it runs.
  virtual bool running(ir::Family family, const std::string& table, const std::vector<codegen::CounterSlot>& slots) {
    (void)family, (void)table, (void)slots;
    return false;
  }
};

}  // namespace nfjit::xt
