// Instruction stream with labels. Jumps and subprogram calls name a Label; finish() lays the code out,
// widens every jump whose 16-bit offset would overflow (an inverted short branch over a 32-bit "gotol",
// or a plain gotol for unconditional jumps), repeats until nothing changes, and patches the offsets.
// So callers never think about distances: a 10,000-rule chain is emitted exactly like a 3-rule one.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/insn.h"
#include "nfjit/result.h"

namespace nfjit::codegen {

struct Label {
  int32_t id = -1;
  bool valid() const { return id >= 0; }
};

class Emitter {
 public:
  Label new_label();
  // Places `l` before the next emitted instruction.
  void bind(Label l);
  void emit(const bpf_insn& i);
  void emit(const std::array<bpf_insn, 2>& wide);  // ld_imm64 / ld_map

  // Conditional jumps: op is BPF_JEQ, BPF_JNE, BPF_JGT, ... BPF_JSET; jmp32 compares the low 32 bits.
  void jmp_imm(uint8_t op, uint8_t reg, int32_t imm, Label target, bool jmp32 = false);
  void jmp_reg(uint8_t op, uint8_t dst, uint8_t src, Label target, bool jmp32 = false);
  void ja(Label target);
  // BPF-to-BPF call of the subprogram starting at `target` (BPF_PSEUDO_CALL).
  void call(Label target);

  // Whether any jump or call names `l` so far (code after an unreferenced label may be unreachable,
  // which the verifier refuses).
  bool used(Label l) const { return l.id >= 0 && static_cast<size_t>(l.id) < label_uses_.size() && label_uses_[l.id] > 0; }

  // Items emitted so far (a wide instruction counts 2); the final size may grow when jumps widen.
  size_t size() const { return items_.size(); }
  // The final position of a label after finish().
  uint32_t position(Label l) const;

  // Resolves labels, widening far jumps. Fails if a label was used but never bound.
  Result<std::vector<bpf_insn>> finish();

  // For tests: pretend conditional/ja offsets beyond +-limit don't fit, to exercise widening cheaply.
  void set_short_limit_for_test(int32_t limit) { short_limit_ = limit; }

 private:
  enum class Kind : uint8_t { Plain, Cond, Ja, Call };
  struct Item {
    bpf_insn insn;
    Kind kind = Kind::Plain;
    int32_t label = -1;
    bool wide = false;
  };
  uint32_t width(const Item& it) const;

  std::vector<Item> items_;
  void use(Label l);
  std::vector<uint32_t> label_uses_;
  std::vector<int64_t> label_item_;      // label id -> item index it is bound before (-1 unbound)
  std::vector<uint32_t> label_pos_;      // after finish(): final instruction position
  // Not 32767: the verifier rewrites the program after us (it inlines helper calls such as every rule's
  // per-CPU counter lookup, and expands context accesses), and a 16-bit offset that fit when emitted can
  // overflow then ("insn N cannot be patched due to 16-bit range", seen at ~1,000 rules). Offsets up to a
  // quarter of the range survive a 4x expansion; longer jumps take the 32-bit form, which always does.
  int32_t short_limit_ = 32767 / 4;
};

}  // namespace nfjit::codegen
