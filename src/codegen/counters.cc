#include "codegen/actions.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

void emit_count(Gen& g, uint32_t slot) {
  auto& e = g.e;
  Label done = e.new_label();
  e.emit(st_imm(BPF_W, R7, kOffKey, static_cast<int32_t>(slot)));
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

}  // namespace nfjit::codegen
