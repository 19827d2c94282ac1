// The test of one rule's matches (their conjunction). Matches with a branch-free form are evaluated
// first into one mismatch value and tested with a single branch (match_branch_free.cc says why); the
// others (set lookups, MAC and interface reads, IPv6 ranges, metadata that can be absent) follow with
// their own branches. Evaluation order is free for matches without side effects, but a rate limit
// consumes a token only when every match before it held (xtables evaluates matches in order), so
// matches after the first limit keep their order and their branches.
//
// xtables hotdrop (ir::Hotdrop): a match whose condition holds when it is evaluated (every match before
// it held) drops the packet before any counter. Parsing leaves one "no such condition" bit per kind in
// the valid word (packet_desc.h). Just before each hotdrop match the rule tests "every match so far held
// and the condition holds" and, if so, jumps to the frame's hotdrop exit; the rest of the rule only runs
// when it does not. In the branch-free form (every match before the last hotdrop match has one) "every
// match so far held" is the mismatch accumulated in r0 up to there, so the check is a handful of ALU
// instructions and one branch whose taken side is the rule's continuation and whose fall-through is the
// exit: the verifier's pending states do not pile up along the chain (match_branch_free.cc), and
// validity is checked per segment between hotdrop matches (a field absent *after* the hotdrop match
// must not hide it). Otherwise the rule is evaluated strictly in order with branches.
#include <algorithm>

#include "codegen/hook_ct.h"
#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

// Emits one match with branches (the per-kind contract of match.h), inversion wrapped here: inverted =
// "field present and plain match false". Returns false when the match can never hold.
Result<bool> emit_branchy(Gen& g, const ir::Match& m, const ir::Rule& r, Label next) {
  auto& e = g.e;
  if (!m.invert) {
    if (auto res = emit_match(g, m, r, next, next); !res) return res.error();
    return true;
  }
  Label inv_true = e.new_label();
  if (auto res = emit_match(g, m, r, inv_true, next); !res) return res.error();
  e.ja(next);
  if (!e.used(inv_true)) return false;  // the plain match can never fail: the inverted one never holds
  e.bind(inv_true);
  return true;
}

// r<reg> = 1 if r<reg> == 0 else 0 (r<reg> below 2^63).
void is_zero(Gen& g, uint8_t reg) {
  g.e.emit(alu64_imm(BPF_SUB, reg, 1));
  g.e.emit(alu64_imm(BPF_RSH, reg, 63));
}

// Jumps to `hotdrop` when a condition of `h` holds and (with `prefix_in_r0`) r0 == 0, i.e. every match
// before this one held. r1 = non-zero when not: the "no condition" bits all set (or a prefix mismatch);
// the value compared is r1 ^ ones, which the verifier cannot know even where r1 is a known 0 (a parse
// path on which the condition always holds), so it never decides the branch (packet_desc.h). Clobbers
// r1, r2.
void emit_hotdrop_check(Gen& g, const ir::Hotdrop& h, bool prefix_in_r0, Label hotdrop) {
  auto& e = g.e;
  const uint32_t ok = hotdrop_ok_bits(g, h);
  e.emit(ldx(BPF_W, R1, R7, kOffValid));
  e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(ok)));
  if (ok & (ok - 1)) {  // several bits: "all set" = ((v & ok) ^ ok) == 0
    e.emit(alu32_imm(BPF_XOR, R1, static_cast<int32_t>(ok)));
    is_zero(g, R1);
  }
  if (prefix_in_r0) e.emit(alu64_reg(BPF_OR, R1, R0));
  e.emit(ldx(BPF_W, R2, R7, kOffOnes));
  e.emit(alu64_reg(BPF_XOR, R1, R2));
  Label cont = e.new_label();
  e.jmp_imm(BPF_JNE, R1, -1, cont, /*jmp32=*/true);  // r1 was non-zero: no hotdrop
  e.ja(hotdrop);
  e.bind(cont);
}

// r0 |= "a field of these matches is absent", then their branch-free mismatch.
Result<void> emit_free_segment(Gen& g, const ir::Rule& r, const std::vector<const ir::Match*>& ms, uint32_t skip) {
  uint32_t need = 0;
  for (const auto* m : ms) need |= branch_free_valid_bits(*m);
  need &= ~skip;
  if (need) {
    g.e.emit(ldx(BPF_W, R1, R7, kOffValid));
    g.e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(need)));
    g.e.emit(alu32_imm(BPF_XOR, R1, static_cast<int32_t>(need)));
    g.e.emit(alu64_reg(BPF_OR, R0, R1));
  }
  for (const auto* m : ms)
    if (auto res = emit_branch_free_match(g, *m, r); !res) return res;
  return {};
}

// Valid bits a rule never needs to test here: non-netdev tables only run their rules on IP packets
// (parse.cc), and IPv4 always has a protocol.
uint32_t always_valid(const Gen& g) {
  uint32_t v = 0;
  if (g.table.family != ir::Family::Netdev) v |= kValidL3;
  if (g.pf == 4 || g.table.family == ir::Family::Ipv4) v |= kValidL4Proto;
  return v;
}

// r0 &= all ones the verifier cannot see through: it must not decide the next branch (packet_desc.h).
void and_ones(Gen& g, uint8_t reg) {
  g.e.emit(ldx(BPF_W, R1, R7, kOffOnes));
  g.e.emit(alu64_reg(BPF_AND, reg, R1));
}

// Every match in rule order with its own branches, each hotdrop condition checked just before its match.
Result<bool> emit_in_order(Gen& g, const std::vector<const ir::Match*>& ms, const ir::Rule& r, Label next,
                           Label hotdrop) {
  for (const auto* m : ms) {
    if (m->hotdrop.any()) emit_hotdrop_check(g, m->hotdrop, false, hotdrop);
    auto can = emit_branchy(g, *m, r, next);
    if (!can) return can.error();
    if (!*can) return false;
  }
  return true;
}

}  // namespace

uint32_t hotdrop_ok_bits(const Gen& g, const ir::Hotdrop& h) {
  uint32_t bits = 0;
  if (h.frag_offset_one) bits |= kNoFragOne;
  if (h.no_l4proto) bits |= kNoWalkFail;
  if (h.short_l4) {
    auto it = std::find(g.short_l4.begin(), g.short_l4.end(), h.short_l4);  // scan_needs collected them
    bits |= 1u << (kNoShortFirst + static_cast<uint32_t>(it - g.short_l4.begin()));
  }
  return bits;
}

Result<bool> emit_rule_test(Gen& g, const ir::Rule& r, Label next, Label& hotdrop) {
  auto& e = g.e;
  // Matches decided at compile time are dropped; one that is false ends the rule there (it can still
  // hotdrop on a match before it).
  std::vector<const ir::Match*> ms;
  bool never = false;
  for (const auto& m : r.matches) {
    if (auto s = static_match(g, m)) {
      if (!*s) {
        never = true;
        break;
      }
      continue;
    }
    ms.push_back(&m);
  }
  size_t n_hd = 0;  // matches up to and including the last hotdrop match
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i]->hotdrop.any()) n_hd = i + 1;
  if (never && !n_hd) return false;
  if (auto res = check_ct_rule(g, r); !res) return res.error();
  if (n_hd && !hotdrop.valid()) hotdrop = e.new_label();
  if (never) {
    ms.resize(n_hd);
    auto can = emit_in_order(g, ms, r, next, hotdrop);
    if (!can) return can.error();
    if (*can) e.ja(next);
    return false;
  }

  std::vector<const ir::Match*> free, branchy;
  bool after_limit = false;
  for (const auto* m : ms) {
    after_limit |= std::holds_alternative<ir::LimitMatch>(m->m);
    (!after_limit && branch_free(g, *m) ? free : branchy).push_back(m);
  }
  // The fast form needs every match up to the last hotdrop match branch-free (free keeps rule order).
  if (n_hd && (free.size() < n_hd || free[n_hd - 1] != ms[n_hd - 1])) return emit_in_order(g, ms, r, next, hotdrop);

  const uint32_t skip = always_valid(g);
  if (n_hd) {
    // Segments of free matches separated by hotdrop checks; r0 = mismatch so far.
    e.emit(mov64_imm(R0, 0));
    std::vector<const ir::Match*> segment;
    for (const auto* m : free) {
      if (m->hotdrop.any()) {
        if (auto res = emit_free_segment(g, r, segment, skip); !res) return res.error();
        segment.clear();
        emit_hotdrop_check(g, m->hotdrop, true, hotdrop);
      }
      segment.push_back(m);
    }
    if (auto res = emit_free_segment(g, r, segment, skip); !res) return res.error();
    and_ones(g, R0);
    e.jmp_imm(BPF_JNE, R0, 0, next);
  } else if (!free.empty()) {
    // Non-netdev tables only run their rules on packets with an IP header (parse.cc).
    uint32_t need = 0;
    for (const auto* m : free) need |= branch_free_valid_bits(*m);
    need &= ~skip;
    if (need) {
      e.emit(ldx(BPF_W, R0, R7, kOffValid));
      e.emit(alu32_imm(BPF_AND, R0, static_cast<int32_t>(need)));
      e.emit(alu32_imm(BPF_XOR, R0, static_cast<int32_t>(need)));  // non-zero: a field is absent
    } else {
      e.emit(mov64_imm(R0, 0));
    }
    for (const auto* m : free)
      if (auto res = emit_branch_free_match(g, *m, r); !res) return res.error();
    and_ones(g, R0);
    e.jmp_imm(BPF_JNE, R0, 0, next);
  }
  for (const auto* m : branchy) {
    auto can = emit_branchy(g, *m, r, next);
    if (!can) return can.error();
    if (!*can) return false;
  }
  return true;
}

}  // namespace nfjit::codegen
