#include "codegen/emitter.h"

namespace nfjit::codegen {

using namespace insn;

Label Emitter::new_label() {
  label_item_.push_back(-1);
  return Label{static_cast<int32_t>(label_item_.size() - 1)};
}

void Emitter::use(Label l) {
  if (l.id < 0) return;
  if (label_uses_.size() <= static_cast<size_t>(l.id)) label_uses_.resize(l.id + 1);
  ++label_uses_[l.id];
}

void Emitter::bind(Label l) { label_item_.at(l.id) = static_cast<int64_t>(items_.size()); }

void Emitter::emit(const bpf_insn& i) { items_.push_back(Item{i}); }

void Emitter::emit(const std::array<bpf_insn, 2>& wide) {
  items_.push_back(Item{wide[0]});
  items_.push_back(Item{wide[1]});
}

void Emitter::jmp_imm(uint8_t op, uint8_t reg, int32_t imm, Label target, bool jmp32) {
  items_.push_back(Item{make((jmp32 ? BPF_JMP32 : BPF_JMP) | op | BPF_K, reg, 0, 0, imm), Kind::Cond, target.id});
  use(target);
}

void Emitter::jmp_reg(uint8_t op, uint8_t dst, uint8_t src, Label target, bool jmp32) {
  items_.push_back(Item{make((jmp32 ? BPF_JMP32 : BPF_JMP) | op | BPF_X, dst, src, 0, 0), Kind::Cond, target.id});
  use(target);
}

void Emitter::ja(Label target) { items_.push_back(Item{insn::ja(0), Kind::Ja, target.id});
  use(target); }

void Emitter::call(Label target) {
  items_.push_back(Item{make(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0), Kind::Call, target.id});
  use(target);
}

uint32_t Emitter::position(Label l) const { return label_pos_.at(l.id); }

// The condition that is true exactly when `op` is false; 0 when there is none (JSET).
static uint8_t inverse(uint8_t op) {
  switch (op) {
    case BPF_JEQ: return BPF_JNE;
    case BPF_JNE: return BPF_JEQ;
    case BPF_JGT: return BPF_JLE;
    case BPF_JLE: return BPF_JGT;
    case BPF_JGE: return BPF_JLT;
    case BPF_JLT: return BPF_JGE;
    case BPF_JSGT: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGT;
    case BPF_JSGE: return BPF_JSLT;
    case BPF_JSLT: return BPF_JSGE;
    default: return 0;
  }
}

uint32_t Emitter::width(const Item& it) const {
  if (it.kind != Kind::Cond || !it.wide) return 1;
  // Wide conditional: "if !cond skip; gotol". JSET has no inverse: "if cond +1; ja +1; gotol".
  return inverse(BPF_OP(it.insn.code)) ? 2 : 3;
}

Result<std::vector<bpf_insn>> Emitter::finish() {
  for (const auto& it : items_)
    if (it.label >= 0 && label_item_.at(it.label) < 0)
      return make_error(EINVAL, "codegen: jump to label " + std::to_string(it.label) + " that was never placed");

  std::vector<uint32_t> pos(items_.size() + 1);
  auto layout = [&] {
    uint32_t p = 0;
    for (size_t i = 0; i < items_.size(); ++i) {
      pos[i] = p;
      p += width(items_[i]);
    }
    pos[items_.size()] = p;
  };
  auto target_of = [&](const Item& it) { return static_cast<int64_t>(pos[label_item_[it.label]]); };

  // Widening only ever grows the code, so this reaches a fixed point.
  for (bool changed = true; changed;) {
    changed = false;
    layout();
    for (size_t i = 0; i < items_.size(); ++i) {
      Item& it = items_[i];
      if ((it.kind != Kind::Cond && it.kind != Kind::Ja) || it.wide) continue;
      int64_t off = target_of(it) - (pos[i] + 1);
      if (off > short_limit_ || off < -short_limit_ - 1) {
        it.wide = true;
        changed = true;
      }
    }
  }

  std::vector<bpf_insn> out;
  out.reserve(pos[items_.size()]);
  for (size_t i = 0; i < items_.size(); ++i) {
    const Item& it = items_[i];
    int64_t p = pos[i];
    switch (it.kind) {
      case Kind::Plain:
        out.push_back(it.insn);
        break;
      case Kind::Call: {
        bpf_insn c = it.insn;
        c.imm = static_cast<int32_t>(target_of(it) - (p + 1));
        out.push_back(c);
        break;
      }
      case Kind::Ja:
        if (it.wide) out.push_back(gotol(static_cast<int32_t>(target_of(it) - (p + 1))));
        else out.push_back(insn::ja(static_cast<int16_t>(target_of(it) - (p + 1))));
        break;
      case Kind::Cond: {
        bpf_insn c = it.insn;
        if (!it.wide) {
          c.off = static_cast<int16_t>(target_of(it) - (p + 1));
          out.push_back(c);
        } else if (uint8_t inv = inverse(BPF_OP(c.code))) {
          c.code = static_cast<uint8_t>(BPF_CLASS(c.code) | BPF_SRC(c.code) | inv);
          c.off = 1;  // skip the gotol
          out.push_back(c);
          out.push_back(gotol(static_cast<int32_t>(target_of(it) - (p + 2))));
        } else {
          c.off = 1;  // to the gotol
          out.push_back(c);
          out.push_back(insn::ja(1));  // condition false: skip the gotol
          out.push_back(gotol(static_cast<int32_t>(target_of(it) - (p + 3))));
        }
        break;
      }
    }
  }
  label_pos_.assign(label_item_.size(), 0);
  for (size_t l = 0; l < label_item_.size(); ++l)
    if (label_item_[l] >= 0) label_pos_[l] = pos[label_item_[l]];
  return out;
}

}  // namespace nfjit::codegen
