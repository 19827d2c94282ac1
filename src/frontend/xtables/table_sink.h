// Where lowered xtables tables go: the daemon implements this with codegen + runtime (BPF programs at
// the table's hooks); unit tests use an in-memory recorder. One (family, table) pair is one install.
#pragma once

#include <string>
#include <vector>

#include "codegen/program.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::xt {

class TableSink {
 public:
  virtual ~TableSink() = default;
  // Install `lowered` for (family, table), replacing what was installed. Atomic: on error the previous
  // program stays in force. Counters of the new program start at zero.
  virtual Result<void> install(ir::Family family, const std::string& table, const ir::Table& lowered) = 0;
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
