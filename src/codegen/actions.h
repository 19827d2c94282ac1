// Rule actions and the per-rule counter update.
#pragma once

#include "codegen/gen.h"

namespace nfjit::codegen {

// counters[slot].packets += 1, .bytes += L3 length (per-CPU value, BPF atomic adds).
void emit_count(Gen& g, uint32_t slot);
// The same for the slot number held in r1 (shared accept/drop tails, compile.cc).
void emit_count_r1(Gen& g);

// The ring buffer LOG and REJECT records go to (created on first use); returns its map index.
int ensure_log_ring(Gen& g);

// A LOG record (log_record.h) into the ring buffer; non-terminal.
Result<void> emit_log(Gen& g, const ir::LogAction& a, uint32_t slot, const ir::Rule& r, ir::Hook hook);

}  // namespace nfjit::codegen
