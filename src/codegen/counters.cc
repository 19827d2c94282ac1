// Per-rule counters: one PERCPU_ARRAY slot per rule, {packets, bytes} updated with atomic adds.
//
// Why rules ending in ACCEPT or DROP share one counting tail per chain (compile.cc) instead of each
// calling map_lookup_elem: after verification the kernel rewrites every lookup call site of a per-CPU
// array into inline code (do_misc_fixups -> bpf_patch_insn_data), and each rewrite copies and re-scans
// the whole program. One call site per rule made loading quadratic (4,000 rules: 8 s, measured).
#include "codegen/actions.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

// The lookup of the key already stored at kOffKey, then the two atomic adds.
void count_stored_key(Gen& g) {
  auto& e = g.e;
  Label done = e.new_label();
  e.emit(ld_map(R1, static_cast<uint32_t>(g.counters_map)));
  e.emit(mov64_reg(R2, R7));
  e.emit(alu64_imm(BPF_ADD, R2, kOffKey));
  e.emit(call_helper(kMapLookupElem));
  e.jmp_imm(BPF_JEQ, R0, 0, done);
  e.emit(mov64_imm(R1, 1));
  e.emit(atomic_add(BPF_DW, R0, R1, 0));
  e.emit(ldx(BPF_W, R1, R7, kOffL3Len));
  e.emit(atomic_add(BPF_DW, R0, R1, 8));
  e.bind(done);
}

}  // namespace

void emit_count(Gen& g, uint32_t slot) {
  g.e.emit(st_imm(BPF_W, R7, kOffKey, static_cast<int32_t>(slot)));
  count_stored_key(g);
}

void emit_count_r1(Gen& g) {
  g.e.emit(stx(BPF_W, R7, R1, kOffKey));
  count_stored_key(g);
}

}  // namespace nfjit::codegen
