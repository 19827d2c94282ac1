// A validated xtables table (blob.h + extension_check.h passed) lowered to one ir::Table, with the
// mapping from every entry of the blob to the counter slot that counts it, and the reasons when the
// table cannot be lowered exactly.
//
// Table shape nfjit lowers (the shape libiptc writes): each built-in chain is a run of rules ending in
// its policy entry (the hook's underflow); each user chain is an ERROR head naming it, its rules, and an
// unconditional RETURN tail; the blob ends with an ERROR entry. Jumps go to the first entry after a
// user chain's head (IPT_F_GOTO: goto). Any other valid-but-unusual blob is reported, never guessed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "codegen/program.h"
#include "frontend/xtables/blob.h"
#include "ir/ir.h"

namespace nfjit::xt {

struct Refusal {
  std::string rule;    // the rule in iptables -S syntax ("-A INPUT ... -j ...") or the chain
  std::string reason;
};

struct Lowered {
  ir::Table table;  // valid only when refusals is empty
  // Per entry (same index as Table::entries): the slot that counts it. Policies and user-chain
  // RETURN tails use rule = -1; chain heads and the final ERROR entry count nothing (nullopt).
  std::vector<std::optional<codegen::CounterSlot>> slots;
  std::vector<Refusal> refusals;
  bool ok() const { return refusals.empty(); }
};

// Per entry of `t`: the index of an entry of `prev` with the same bytes (counters and comefrom aside,
// which the kernel ignores on a replace) that is reachable from the same hooks, or -1. Such an entry
// passes the same extension checks and lowers to the same rule (unless it is a jump: its verdict is a
// byte offset). Linear: one hash of each entry of both tables.
std::vector<int32_t> match_previous(const Table& prev, const Table& t);

// A previous lowering of the same table (while it runs as BPF) whose rules a new one may take over.
struct PreviousLowering {
  const ir::Table& table;                                          // Lowered::table of the previous table
  const std::vector<std::optional<codegen::CounterSlot>>& slots;   // Lowered::slots of the previous table
  const std::vector<int32_t>& same;                                // match_previous(previous table, new table)
};

// `priority` is the table's netfilter priority (tables.h). With `prev`, every rule whose entry did not
// change is copied from the previous lowering instead of decoded again (iptables -A/-D/-R resend the
// whole table: decoding 10,000 rules costs ~20 ms, copying them ~1 ms).
Lowered lower_table(const Table& t, int32_t priority, const PreviousLowering* prev = nullptr);

// The -S text of entry `index` (used for messages; best effort for extensions nfjit does not know).
std::string rule_text(const Table& t, size_t index, const std::string& chain);

}  // namespace nfjit::xt
