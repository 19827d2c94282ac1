// What the rules mean, as the kernel parsed them: after iptables-legacy-restore put the dump into K's
// own ip_tables, each table is read back with GET_INFO/GET_ENTRIES and lowered by the xtables
// front-end (src/frontend/xtables/lower.h) — the same lowering nfjitd uses — so the corpus is built
// from each rule's real matches, never from re-parsing the text.
#pragma once

#include <string>
#include <vector>

#include "frontend/xtables/lower.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::verify {

struct TableModel {
  std::string name;
  ir::Table ir;                        // every rule with its matches (empty chains when not lowerable)
  std::vector<xt::Refusal> refusals;   // rules the front-end cannot express (the table stays in the kernel)
};

// Reads `tables` from the kernel of network namespace `ns` (family 4 or 6) and lowers them.
// nat is read but never lowered (nfjit leaves it to the kernel).
Result<std::vector<TableModel>> read_kernel_tables(const std::string& ns, int family,
                                                   const std::vector<std::string>& tables);

// Where nfjitd runs each table, from `nfjit status` text: "ip filter: BPF at ..." or
// "ip filter: kernel ip_tables (why)".
struct Placement {
  std::string table;
  bool bpf = false;
  std::string why;
};
std::vector<Placement> parse_status(const std::string& status, int family);

}  // namespace nfjit::verify
