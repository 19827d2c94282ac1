// Classifier lookups (classify.h): at the segment's entry the metadata, interface names and MAC the
// segment's key needs are loaded once; then, per tuple, the masked key is written to kOffClsKey and
// looked up. r8 keeps the lowest rule index found so far and r9 its map value, so after the last tuple
// r9 is the first matching rule of the run.
//
// Verification stays small: per tuple there are two branches (no entry; not lower than the best) that
// join again at once, with r8/r9 imprecise scalars on every path (see below), so each tuple is verified
// about once per call of its chain, whatever the number of rules.
#include <algorithm>
#include <optional>

#include "codegen/classify.h"
#include "codegen/hook.h"
#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

// Where the key word `w` of field `kf` is read from (an offset from r7).
int16_t source_offset(const Segment& s, const KeyField& kf, int w) {
  switch (kf.part) {
    case KeyPart::Valid: return kOffClsValid;
    case KeyPart::Desc: return desc_field(kf.field)->off;
    case KeyPart::Meta: {
      size_t i = 0;
      while (s.metas[i] != kf.field) ++i;
      return static_cast<int16_t>(kOffClsMeta + 4 * i);
    }
    case KeyPart::Addr: return static_cast<int16_t>((kf.field == ir::Field::Saddr ? kOffSaddr : kOffDaddr) + 4 * w);
    case KeyPart::Iface:
      return static_cast<int16_t>((kf.field == ir::Field::IifIndex ? kOffClsIif : kOffClsOif) + 4 * w);
    case KeyPart::Mac: return static_cast<int16_t>(kOffMac + 4 * w);
  }
  return 0;
}

// Loads what the key needs beyond the descriptor, and the valid word with presence bits.
Result<void> emit_segment_entry(Gen& g, const Segment& s, const ir::Rule& r) {
  auto& e = g.e;
  e.emit(ldx(BPF_W, R1, R7, kOffValid));
  e.emit(stx(BPF_W, R7, R1, kOffClsValid));
  auto set_present = [&](uint32_t bit) {
    e.emit(ldx(BPF_W, R2, R7, kOffClsValid));
    e.emit(alu32_imm(BPF_OR, R2, static_cast<int32_t>(bit)));
    e.emit(stx(BPF_W, R7, R2, kOffClsValid));
  };
  for (size_t i = 0; i < s.metas.size(); ++i) {
    const int16_t slot = static_cast<int16_t>(kOffClsMeta + 4 * i);
    Label absent = e.new_label(), done = e.new_label();
    if (auto res = g.hook.load_meta(g, s.metas[i], absent, r); !res) return res;
    e.emit(stx(BPF_W, R7, R1, slot));
    set_present(1u << (kClsMetaPresentFirst + i));
    if (e.used(absent)) {
      e.ja(done);
      e.bind(absent);
      e.emit(st_imm(BPF_W, R7, slot, 0));
      e.bind(done);
    }
  }
  if (s.iif)
    if (auto res = g.hook.load_iface_name(g, false, kOffClsIif, r); !res) return res;
  if (s.oif)
    if (auto res = g.hook.load_iface_name(g, true, kOffClsOif, r); !res) return res;
  if (s.mac) {
    Label absent = e.new_label(), done = e.new_label();
    if (auto res = g.hook.load_mac(g, absent, r); !res) return res;
    set_present(kClsMacPresent);
    if (e.used(absent)) {
      e.ja(done);
      e.bind(absent);
      e.emit(st_imm(BPF_DW, R7, kOffMac, 0));
      e.bind(done);
    }
  }
  return {};
}

}  // namespace

Result<void> emit_classify_lookup(Gen& g, const Segment& s, int map, const ir::Rule& first_rule, Label none) {
  auto& e = g.e;
  if (s.key_bytes > kClsMaxKeyBytes) return make_error(EINVAL, "internal: classifier key too long");
  if (auto res = emit_segment_entry(g, s, first_rule); !res) return res;
  // r8 = best rule index (0xffffffff: none yet), r9 = its action. Both start from kOffOnes, all ones
  // at run time but unknown to the verifier, and every value stored in them is laundered the same way
  // (below): they stay imprecise full-range scalars, so every path through the lookups is one verifier
  // state and no branch on them is ever decided (a decided branch would make them precise, and states
  // that differ in their bounds would never prune again: exponential verification).
  e.emit(ldx(BPF_W, R8, R7, kOffOnes));
  e.emit(ldx(BPF_W, R9, R7, kOffOnes));
  // Where each 32-bit key word after the tuple id comes from (-1: padding, always zero).
  struct Source {
    int16_t off = -1;
    uint8_t size = BPF_W;
  };
  std::vector<Source> src(s.key_bytes / 4);
  for (const auto& kf : s.layout)
    for (int w = 0; w < kf.words; ++w)
      src[kf.off / 4 + w] = {source_offset(s, kf, w),
                             static_cast<uint8_t>(kf.part == KeyPart::Mac && w == 1 ? BPF_H : BPF_W)};
  // The key is written 8 bytes at a time from registers: a 4-byte store of a register the verifier
  // knows to be zero (a field a parse path left zero, masked away) makes it mark that register precise
  // and backtrack into the descriptor, and states that differ in those values never prune again.
  // 64-bit spills keep the register's state instead. Pairs whose masks did not change since the last
  // tuple are not rewritten (consecutive tuples often share most of them).
  std::vector<std::optional<uint32_t>> written(s.key_bytes / 4);
  // r<dst> = key word k of tuple t (zero-extended); false when it is the constant 0.
  auto word = [&](size_t t, size_t k, uint8_t dst) {
    if (k == 0) {
      e.emit(mov32_imm(dst, static_cast<int32_t>(t)));
      return true;
    }
    const uint32_t m = s.tuples[t][k - 1];
    if (m == 0 || src[k].off < 0) return false;
    e.emit(ldx(src[k].size, dst, R7, src[k].off));
    if (m != 0xffffffffu) e.emit(alu32_imm(BPF_AND, dst, static_cast<int32_t>(m)));
    else e.emit(alu32_imm(BPF_OR, dst, 0));  // unlink from the stack slot (packet_desc.h)
    return true;
  };
  Label after_hotdrop = e.new_label();
  for (size_t t = 0; t < s.tuples.size(); ++t) {
    if (t == s.first_hotdrop && t < s.tuples.size()) {
      // Hotdrop tuples only for a packet with a hotdrop condition (some "no condition" bit clear).
      // The test value is laundered (x ^ ones ^ ones) so that the verifier never decides this branch
      // on a parse path where the valid word is a known constant (packet_desc.h).
      e.emit(ldx(BPF_W, R1, R7, kOffClsValid));
      e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(s.hotdrop_bits)));
      e.emit(alu32_imm(BPF_XOR, R1, static_cast<int32_t>(s.hotdrop_bits)));
      e.emit(ldx(BPF_W, R2, R7, kOffOnes));
      e.emit(alu32_reg(BPF_XOR, R1, R2));
      e.emit(alu32_reg(BPF_XOR, R1, R2));
      e.jmp_imm(BPF_JEQ, R1, 0, after_hotdrop);
      std::fill(written.begin(), written.end(), std::nullopt);  // the jump skips key writes
    }
    const auto& mask = s.tuples[t];
    auto mask_of = [&](size_t k) -> uint32_t { return k == 0 ? static_cast<uint32_t>(t) : mask[k - 1]; };
    for (size_t k = 0; k < s.key_bytes / 4; k += 2) {
      if (k > 0 && written[k] == mask_of(k) && written[k + 1] == mask_of(k + 1)) continue;
      written[k] = mask_of(k);
      written[k + 1] = mask_of(k + 1);
      const int16_t dst = static_cast<int16_t>(kOffClsKey + 4 * k);
      const bool lo = word(t, k, R1);
      const bool hi = word(t, k + 1, R2);
      if (!lo && !hi) {
        e.emit(st_imm(BPF_DW, R7, dst, 0));
        continue;
      }
      if (hi) {
        e.emit(alu64_imm(BPF_LSH, R2, 32));
        if (lo) e.emit(alu64_reg(BPF_OR, R1, R2));
        else e.emit(mov64_reg(R1, R2));
      }
      e.emit(stx(BPF_DW, R7, R1, dst));
    }
    Label next = e.new_label();
    e.emit(ld_map(R1, static_cast<uint32_t>(map)));
    e.emit(mov64_reg(R2, R7));
    e.emit(alu64_imm(BPF_ADD, R2, kOffClsKey));
    e.emit(call_helper(kMapLookupElem));
    e.jmp_imm(BPF_JEQ, R0, 0, next);
    e.emit(ldx(BPF_W, R1, R0, 0));  // ClsValue::rule
    e.jmp_reg(BPF_JGE, R1, R8, next);
    e.emit(ldx(BPF_W, R2, R7, kOffOnes));
    e.emit(alu32_reg(BPF_XOR, R1, R2));  // x ^ ones ^ ones = x, of which the verifier knows nothing
    e.emit(alu32_reg(BPF_XOR, R1, R2));
    e.emit(mov64_reg(R8, R1));
    e.emit(ldx(BPF_W, R9, R0, 4));  // ClsValue::action
    e.emit(alu32_reg(BPF_XOR, R9, R2));
    e.emit(alu32_reg(BPF_XOR, R9, R2));
    e.bind(next);
  }
  if (e.used(after_hotdrop)) e.bind(after_hotdrop);
  e.jmp_imm(BPF_JEQ, R8, -1, none, /*jmp32=*/true);
  return {};
}

}  // namespace nfjit::codegen
