// What the xtables front-end must remember across a daemon restart, one file per (family, table) under
// the daemon's --state-dir: the table as last set (header + blob, exactly as received), the per-entry
// base counters (SET_ADD_COUNTERS on top of the BPF counters), where it runs (BPF or the kernel's
// ip_tables, and why), and when it was first used (the order /proc/net/ip_tables_names lists tables).
//
// The live BPF counters are not here: they stay in the pinned counter maps and the restarted daemon
// adopts them (runtime::Engine::restore). Files are replaced atomically (temp file, rename), so a daemon
// killed at any moment leaves either the old or the new state of a table, never a torn one. There is no
// fsync per change: what the file must survive is the daemon, not the machine (see docs/xtables.md).
#pragma once

#include <linux/netfilter/x_tables.h>

#include <string>
#include <vector>

#include "frontend/xtables/blob.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::xt {

struct SavedTable {
  enum Mode : uint32_t {
    kBpf = 0,         // nfjit holds the rules and runs them as BPF
    kKernel = 1,      // a lowerable table passed to the kernel's ip_tables (why says why)
    kKernelOnly = 2,  // a table nfjit never lowers (nat): only its first use is remembered
  };
  ir::Family family = ir::Family::Ipv4;
  std::string name;
  Mode mode = kBpf;
  uint64_t first_use = 0;
  std::string why;
  ReplaceHeader header;          // kBpf: the table's header (num_counters unused)
  std::vector<uint8_t> blob;     // kBpf: the entries as received
  std::vector<xt_counters> base; // kBpf: one per entry
  std::vector<xt_counters> zero; // kBpf: one per entry, where its BPF counter stood when the table was set
};

class StateStore {
 public:
  // `dir` is created when missing. Files: <dir>/xt4-filter.state, <dir>/xt6-mangle.state, ...
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}

  Result<void> save(const SavedTable& t) const;
  // Every readable table file; a file that cannot be parsed is reported in *problems and skipped.
  std::vector<SavedTable> load_all(std::vector<std::string>* problems) const;

  const std::string& dir() const { return dir_; }
  std::string path_for(ir::Family family, const std::string& name) const;

 private:
  std::string dir_;
};

// Serialization (exposed for tests). Version 2 adds `zero`; version 1 files read with zero all 0.
std::vector<uint8_t> encode_saved_table(const SavedTable& t);
Result<SavedTable> decode_saved_table(std::span<const uint8_t> bytes);

}  // namespace nfjit::xt
