// The test of one rule's matches (their conjunction). Matches with a branch-free form are evaluated
// first into one mismatch value and tested with a single branch (match_branch_free.cc says why); the
// others (set lookups, MAC and interface reads, IPv6 ranges, metadata that can be absent) follow with
// their own branches. Evaluation order is free for matches without side effects, but a rate limit
// consumes a token only when every match before it held (xtables evaluates matches in order), so
// matches after the first limit keep their order and their branches.
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

}  // namespace

Result<bool> emit_rule_test(Gen& g, const ir::Rule& r, Label next) {
  auto& e = g.e;
  if (auto res = check_ct_rule(g, r); !res) return res.error();
  std::vector<const ir::Match*> free, branchy;
  bool after_limit = false;
  for (const auto& m : r.matches) {
    if (static_match(g, m)) continue;  // decided at compile time (true: the caller dropped false rules)
    after_limit |= std::holds_alternative<ir::LimitMatch>(m.m);
    (!after_limit && branch_free(g, m) ? free : branchy).push_back(&m);
  }
  if (!free.empty()) {
    // Non-netdev tables only run their rules on packets with an IP header (parse.cc).
    uint32_t need = 0;
    for (const auto* m : free) need |= branch_free_valid_bits(*m);
    if (g.table.family != ir::Family::Netdev) need &= ~kValidL3;
    if (need) {
      e.emit(ldx(BPF_W, R0, R7, kOffValid));
      e.emit(alu32_imm(BPF_AND, R0, static_cast<int32_t>(need)));
      e.emit(alu32_imm(BPF_XOR, R0, static_cast<int32_t>(need)));  // non-zero: a field is absent
    } else {
      e.emit(mov64_imm(R0, 0));
    }
    for (const auto* m : free)
      if (auto res = emit_branch_free_match(g, *m, r); !res) return res.error();
    // r0 &= all ones the verifier cannot see through: it must not decide this branch (packet_desc.h).
    e.emit(ldx(BPF_W, R1, R7, kOffOnes));
    e.emit(alu64_reg(BPF_AND, R0, R1));
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
