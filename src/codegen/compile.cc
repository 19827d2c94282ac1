// Chain layout. The base chain is the main program; every user chain it reaches is one BPF subprogram
// (BPF-to-BPF call, r1 = ctx, r2 = descriptor pointer) emitted once however many rules jump to it, and
// returning an internal verdict in r0: 0 = continue in the caller (RETURN or end of chain), 1 = accept,
// 2 = drop. Rules are emitted in order; a failing rule test (rule_test.cc) jumps to the next rule (the
// Emitter widens far jumps). See docs/codegen.md.
#include "codegen/compile.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "codegen/actions.h"
#include "codegen/classify.h"
#include "codegen/hook.h"
#include "codegen/match.h"
#include "codegen/parse.h"
#include "codegen/reject.h"
#include "ir/validate.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

struct ChainInfo {
  const ir::Chain* chain;
  Label entry;
  uint32_t first_slot;  // counter slot of rule 0; policy slot = first_slot + rules.size()
  bool blocked = false;  // rules live in rule-block subprograms
  std::vector<Segment> segs;  // classifier segments (classify.h), sorted
  std::vector<int> seg_maps;  // their maps (index into Program::maps)
};

struct Layout {
  std::vector<ChainInfo> chains;  // [0] = base chain
  std::map<std::string, size_t> index;
};

// One rule block: rules [first, last) of a chain, emitted as its own subprogram.
struct Block {
  size_t chain;
  size_t first, last;
  Label entry;
};

// The BPF frame whose code is being emitted: what "accept", "return" and "goto" mean there.
enum class FrameKind { Main, Chain, Block };
struct Frame {
  FrameKind kind;
  Label policy;  // Main: the base chain's policy
  // Shared "count the slot in r1, then accept / drop" tails of this frame (counters.cc says why).
  Label accept_tail{}, drop_tail{};
  // xtables hotdrop (ir::Hotdrop): drop without counting anything, as ipt_do_table's NF_DROP.
  Label hotdrop{};
};

Result<void> collect_chains(const Gen& g, const ir::Chain& base, Layout& lay, Program& p) {
  // Depth-first over jump/goto targets; the longest call path must fit BPF's call-frame limit.
  std::vector<std::string> path{base.name};
  std::function<Result<void>(const ir::Chain&)> visit = [&](const ir::Chain& c) -> Result<void> {
    if (lay.index.count(c.name) == 0) {
      lay.index[c.name] = lay.chains.size();
      lay.chains.push_back({&c, Label{}, static_cast<uint32_t>(p.counters.size())});
      for (size_t i = 0; i < c.rules.size(); ++i) p.counters.push_back({c.name, static_cast<int32_t>(i)});
      p.counters.push_back({c.name, -1});
    }
    for (const auto& r : c.rules) {
      if (r.action.kind != ir::ActionKind::Jump && r.action.kind != ir::ActionKind::Goto) continue;
      const ir::Chain* t = g.table.find_chain(r.action.target);
      path.push_back(t->name);
      if (static_cast<int>(path.size()) - 1 > kMaxChainNesting) {
        std::string s;
        for (const auto& n : path) s += (s.empty() ? "" : " -> ") + n;
        return make_error(EOPNOTSUPP, "cannot lower at " + where(g.at) + ": chain nesting " + s + " is " +
                                          std::to_string(path.size() - 1) + " calls deep; BPF allows " +
                                          std::to_string(kMaxChainNesting));
      }
      if (auto res = visit(*t); !res) return res;
      path.pop_back();
    }
    return {};
  };
  return visit(base);
}

constexpr size_t kMaxSubprograms = 256;  // the verifier's BPF_MAX_SUBPROGS

// Call frames used by chain `c` and the deepest chain path below it (a blocked chain: two).
int frames_below(const Gen& g, const Layout& lay, size_t c) {
  const ChainInfo& ci = lay.chains[c];
  int deepest = 0;
  for (const auto& r : ci.chain->rules)
    if (r.action.kind == ir::ActionKind::Jump || r.action.kind == ir::ActionKind::Goto)
      deepest = std::max(deepest, frames_below(g, lay, lay.index.at(g.table.find_chain(r.action.target)->name)));
  return deepest + (ci.blocked ? 2 : 1);
}

// Why long chains are split into rule blocks: since 6.18 the verifier recomputes its stack-liveness
// data flow over the whole subprogram after every explored branch that saw new instructions
// (kernel/bpf/liveness.c, bpf_update_live_stack), so one N-rule subprogram costs O(N^2) (10,000 rules:
// ~20 s). Blocks of B rules bound each recomputation to one block plus the calling frame: O(N * (B +
// N/B)). A chain is split only where the extra call frame still fits BPF's 8 frames.
//
// A classifier segment is one unit that blocks never cut; it weighs about as much code as one rule per
// tuple.
size_t unit_weight(const ChainInfo& ci, size_t i, size_t& next) {
  for (const auto& sg : ci.segs)
    if (sg.first == i) {
      next = sg.last;
      return 1 + sg.tuples.size();
    }
  next = i + 1;
  return 1;
}

size_t chain_weight(const ChainInfo& ci) {
  size_t w = 0, next = 0;
  for (size_t i = 0; i < ci.chain->rules.size(); i = next) w += unit_weight(ci, i, next);
  return w;
}

void choose_blocks(const Gen& g, Layout& lay, const CompileOptions& opt, std::vector<Block>& blocks) {
  if (opt.rules_per_block == 0) return;
  for (size_t c = 0; c < lay.chains.size(); ++c) {
    if (chain_weight(lay.chains[c]) <= opt.rules_per_block) continue;
    lay.chains[c].blocked = true;
    if (frames_below(g, lay, 0) > kMaxChainNesting + 1) lay.chains[c].blocked = false;
  }
  // Blocks of about `b` weight, cut between units.
  auto cut = [&](const ChainInfo& ci, size_t b, std::vector<std::pair<size_t, size_t>>& out) {
    size_t first = 0, w = 0, next = 0;
    const size_t n = ci.chain->rules.size();
    for (size_t i = 0; i < n; i = next) {
      w += unit_weight(ci, i, next);
      if (w >= b || next == n) {
        out.push_back({first, next});
        first = next;
        w = 0;
      }
    }
  };
  // BPF allows 256 subprograms (main, user chains, blocks): grow the block size until they fit.
  size_t per_block = opt.rules_per_block, budget = kMaxSubprograms - lay.chains.size();
  auto count = [&](size_t b) {
    size_t n = 0;
    for (const auto& ci : lay.chains)
      if (ci.blocked) {
        std::vector<std::pair<size_t, size_t>> parts;
        cut(ci, b, parts);
        n += parts.size();
      }
    return n;
  };
  while (count(per_block) > budget) per_block *= 2;
  for (size_t c = 0; c < lay.chains.size(); ++c) {
    if (!lay.chains[c].blocked) continue;
    std::vector<std::pair<size_t, size_t>> parts;
    cut(lay.chains[c], per_block, parts);
    for (auto [first, last] : parts) blocks.push_back({c, first, last, Label{}});
  }
}

// Returns (in main) the hook's verdict for an internal verdict in r0 that is not "continue".
void emit_return_verdict_from_r0(Gen& g) {
  Label drop = g.e.new_label();
  g.e.jmp_imm(BPF_JEQ, R0, kVerdictDrop, drop);
  g.e.emit(mov64_imm(R0, g.hook.verdict(true)));
  g.e.emit(exit_insn());
  g.e.bind(drop);
  g.e.emit(mov64_imm(R0, g.hook.verdict(false)));
  g.e.emit(exit_insn());
}

void emit_terminal(Gen& g, const Frame& f, bool accept) {
  g.e.emit(mov64_imm(R0, f.kind == FrameKind::Main ? g.hook.verdict(accept) : (accept ? kVerdictAccept : kVerdictDrop)));
  g.e.emit(exit_insn());
}

void emit_exit_with(Gen& g, int32_t verdict) {
  g.e.emit(mov64_imm(R0, verdict));
  g.e.emit(exit_insn());
}

// The base chain's policy (counted on its policy slot), reached by falling off its end, RETURN in it, or
// a user chain entered by goto from it returning.
void emit_policy(Gen& g, const ChainInfo& base, const Frame& main) {
  emit_count(g, base.first_slot + static_cast<uint32_t>(base.chain->rules.size()));
  emit_terminal(g, main, base.chain->base->policy == ir::Policy::Accept);
}

void emit_call(Gen& g, Label entry) {
  g.e.emit(mov64_reg(R1, R6));
  g.e.emit(mov64_reg(R2, R7));
  g.e.call(entry);
}
void emit_call(Gen& g, const Layout& lay, const std::string& target) {
  emit_call(g, lay.chains[lay.index.at(target)].entry);
}

// Goto `target`: call it; its verdict is ours, and its return is a return from this chain.
void emit_goto(Gen& g, const Layout& lay, const std::string& target, const Frame& f) {
  auto& e = g.e;
  emit_call(g, lay, target);
  switch (f.kind) {
    case FrameKind::Main:
      // The goto'd chain returning means returning from the base chain: its policy applies.
      e.jmp_imm(BPF_JEQ, R0, kVerdictContinue, f.policy);
      emit_return_verdict_from_r0(g);
      break;
    case FrameKind::Chain: e.emit(exit_insn()); break;  // its verdict (or "continue" = return) is ours
    case FrameKind::Block: {
      Label verdict = e.new_label();
      e.jmp_imm(BPF_JNE, R0, kVerdictContinue, verdict);
      e.emit(mov64_imm(R0, kVerdictReturn));
      e.bind(verdict);
      e.emit(exit_insn());
      break;
    }
  }
}

// RETURN from the chain whose code is in frame f.
void emit_return(Gen& g, const Frame& f) {
  switch (f.kind) {
    case FrameKind::Main: g.e.ja(f.policy); break;
    case FrameKind::Chain: emit_exit_with(g, kVerdictContinue); break;
    case FrameKind::Block: emit_exit_with(g, kVerdictReturn); break;
  }
}

// A classifier segment (classify.h): the lookups, then the action of the rule found, with its counter
// (slot = the chain's first slot + the rule index from the map value). Falls through when no rule of the
// segment matches.
Result<void> emit_segment(Gen& g, const Layout& lay, const ChainInfo& ci, size_t k, Frame& f) {
  auto& e = g.e;
  const Segment& sg = ci.segs[k];
  Label none = e.new_label();
  if (auto res = emit_classify_lookup(g, sg, ci.seg_maps[k], ci.chain->rules[sg.first], none); !res) return res;
  // Every goto target keeps a call site even when earlier rules shadow all its entries (Segment::actions
  // lists them all): the chain's subprogram must be reachable or the verifier refuses the program.
  const std::vector<uint32_t>& list = sg.actions;
  e.emit(mov64_reg(R1, R8));  // the rule's counter slot
  e.emit(alu32_imm(BPF_ADD, R1, static_cast<int32_t>(ci.first_slot)));
  e.emit(mov64_reg(R2, R9));
  // Compare-and-jump to each action present; the last one is reached by falling through.
  std::vector<Label> at(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    at[i] = e.new_label();
    if (i + 1 < list.size()) e.jmp_imm(BPF_JEQ, R2, static_cast<int32_t>(list[i]), at[i], true);
  }
  for (size_t i = list.size(); i-- > 0;) {
    e.bind(at[i]);
    const uint32_t a = list[i];
    if (a == kClsAccept || a == kClsDrop) {
      Label& tail = a == kClsAccept ? f.accept_tail : f.drop_tail;
      if (!tail.valid()) tail = e.new_label();
      e.ja(tail);
    } else if (a == kClsHotdrop) {
      if (!f.hotdrop.valid()) f.hotdrop = e.new_label();
      e.ja(f.hotdrop);
    } else if (a == kClsReturn) {
      emit_count_r1(g);
      emit_return(g, f);
    } else {
      emit_count_r1(g);
      emit_goto(g, lay, sg.gotos[a - kClsGotoFirst], f);
    }
  }
  e.bind(none);
  return {};
}

// Emits one rule; returns false when nothing after it can run (an unconditional terminal rule).
Result<bool> emit_rule(Gen& g, const Layout& lay, const ChainInfo& ci, size_t idx, Frame& f) {
  const ir::Rule& r = ci.chain->rules[idx];
  auto& e = g.e;
  // REJECT needs nfjitd to send the reply (reject.h): only at netfilter hooks.
  if (r.action.kind == ir::ActionKind::Reject && g.at.kind != AttachKind::Netfilter)
    return unsupported(g, r, "REJECT is not lowered at XDP/TC (out of scope): keep this chain at its netfilter hook");
  // A rule that never matches at this attachment (a static match is false) emits no test unless it can
  // hotdrop first; its counter stays 0.
  Label next = e.new_label();
  auto can_match = emit_rule_test(g, r, next, f.hotdrop);
  if (!can_match) return can_match.error();
  if (!*can_match) {
    e.bind(next);
    return true;
  }
  const uint32_t slot = ci.first_slot + static_cast<uint32_t>(idx);
  if (r.action.kind == ir::ActionKind::Accept || r.action.kind == ir::ActionKind::Drop ||
      r.action.kind == ir::ActionKind::Reject) {
    // REJECT: the record nfjitd answers from, then counted and dropped as DROP (the kernel's verdict).
    if (r.action.kind == ir::ActionKind::Reject)
      if (auto ok = emit_reject_record(g, r, slot); !ok) return ok.error();
    Label& tail = r.action.kind == ir::ActionKind::Accept ? f.accept_tail : f.drop_tail;
    if (!tail.valid()) tail = e.new_label();
    e.emit(mov64_imm(R1, static_cast<int32_t>(slot)));
    e.ja(tail);
    e.bind(next);
    return e.used(next);
  }
  emit_count(g, slot);
  bool falls_through = true;
  switch (r.action.kind) {
    case ir::ActionKind::Continue: break;
    case ir::ActionKind::Accept:
    case ir::ActionKind::Drop:
    case ir::ActionKind::Reject: break;  // handled above
    case ir::ActionKind::Log: {
      ir::Hook h = ci.chain->base ? ci.chain->base->hook : lay.chains[0].chain->base->hook;
      if (auto res = emit_log(g, r.action.log, slot, r, h); !res) return res.error();
      break;
    }
    case ir::ActionKind::SetMark:
      if (auto res = g.hook.set_mark(g, r.action, r); !res) return res.error();
      break;
    case ir::ActionKind::Jump:
      emit_call(g, lay, r.action.target);
      e.jmp_imm(BPF_JEQ, R0, kVerdictContinue, next);
      if (f.kind == FrameKind::Main) emit_return_verdict_from_r0(g);
      else e.emit(exit_insn());  // accept / drop propagates
      falls_through = false;
      break;
    case ir::ActionKind::Goto:
      emit_goto(g, lay, r.action.target, f);
      falls_through = false;
      break;
    case ir::ActionKind::Return:
      emit_return(g, f);
      falls_through = false;
      break;
  }
  e.bind(next);
  return falls_through || e.used(next);
}

// Rules [first, last) of a chain in frame f; returns whether the end can be reached.
Result<bool> emit_rules(Gen& g, const Layout& lay, const ChainInfo& ci, size_t first, size_t last, Frame& f) {
  size_t k = 0;
  for (size_t i = first; i < last; ++i) {
    while (k < ci.segs.size() && ci.segs[k].last <= i) ++k;
    if (k < ci.segs.size() && ci.segs[k].first == i) {
      if (auto res = emit_segment(g, lay, ci, k, f); !res) return res.error();
      i = ci.segs[k].last - 1;
      continue;
    }
    auto more = emit_rule(g, lay, ci, i, f);
    if (!more) return more.error();
    if (!*more) return false;
  }
  return true;
}

void emit_tails(Gen& g, const Frame& f) {
  for (bool accept : {true, false}) {
    Label tail = accept ? f.accept_tail : f.drop_tail;
    if (!g.e.used(tail)) continue;
    g.e.bind(tail);
    emit_count_r1(g);
    emit_terminal(g, f, accept);
  }
  if (g.e.used(f.hotdrop)) {
    // No counter: the kernel drops before the rule's counter (and never reaches the policy). In a chain
    // or block frame the internal drop verdict propagates to the main program, which counts nothing.
    g.e.bind(f.hotdrop);
    emit_terminal(g, f, false);
  }
}

// Calls each rule block of a blocked chain in order and maps its result in the chain's frame.
void emit_block_calls(Gen& g, const std::vector<Block>& blocks, size_t chain, const Frame& f) {
  auto& e = g.e;
  for (const auto& b : blocks) {
    if (b.chain != chain) continue;
    emit_call(g, b.entry);
    Label next = e.new_label();
    e.jmp_imm(BPF_JEQ, R0, kVerdictContinue, next);
    if (f.kind == FrameKind::Main) {
      e.jmp_imm(BPF_JEQ, R0, kVerdictReturn, f.policy);
      emit_return_verdict_from_r0(g);
    } else {
      Label verdict = e.new_label();
      e.jmp_imm(BPF_JNE, R0, kVerdictReturn, verdict);
      e.emit(mov64_imm(R0, kVerdictContinue));  // the chain returns to its caller
      e.bind(verdict);
      e.emit(exit_insn());
    }
    e.bind(next);
  }
}

// A chain's own frame: its rules (or calls of its rule blocks), then the policy (base chain) or the
// implicit return (user chain).
Result<void> emit_chain_body(Gen& g, const Layout& lay, const std::vector<Block>& blocks, size_t c, Frame& f) {
  const ChainInfo& ci = lay.chains[c];
  bool end_reached = true;
  if (ci.blocked) {
    emit_block_calls(g, blocks, c, f);
  } else {
    auto r = emit_rules(g, lay, ci, 0, ci.chain->rules.size(), f);
    if (!r) return r.error();
    end_reached = *r;
  }
  if (f.kind == FrameKind::Main) {
    if (end_reached || g.e.used(f.policy)) {
      g.e.bind(f.policy);
      emit_policy(g, ci, f);
    }
  } else if (end_reached) {
    emit_count(g, ci.first_slot + static_cast<uint32_t>(ci.chain->rules.size()));  // implicit RETURN
    emit_exit_with(g, kVerdictContinue);
  }
  emit_tails(g, f);
  return {};
}

Result<void> scan_needs(Gen& g, const Layout& lay) {
  for (const auto& ci : lay.chains)
    for (const auto& r : ci.chain->rules)
      for (const auto& m : r.matches) {
        if (uint8_t n = m.hotdrop.short_l4) {
          g.need_l4 = true;  // parse_l4 computes the "not short" bits
          if (std::find(g.short_l4.begin(), g.short_l4.end(), n) == g.short_l4.end()) {
            if (g.short_l4.size() == desc::kMaxShortL4)
              return unsupported(g, r, "more than " + std::to_string(desc::kMaxShortL4) +
                                           " distinct hotdrop header lengths in one program");
            g.short_l4.push_back(n);
          }
        }
        if (const auto* im = std::get_if<ir::IntMatch>(&m.m)) {
          g.need_l4 |= field_needs_l4(im->field);
          // XDP/TC classify from the ports and TCP flags (hook_ct.cc).
          if (im->field == ir::Field::CtState || im->field == ir::Field::CtMark) {
            g.need_ct = true;
            g.need_l4 |= g.at.kind != AttachKind::Netfilter;
          }
        }
        if (const auto* sm = std::get_if<ir::SetMatch>(&m.m))
          if (const ir::Set* s = g.table.find_set(sm->set))
            for (const auto& f : s->key) g.need_l4 |= field_needs_l4(f.field);
        if (std::holds_alternative<ir::MacMatch>(m.m)) g.need_mac = true;
      }
  return {};
}

std::unique_ptr<HookOps> make_ops(const AttachPoint& at) {
  switch (at.kind) {
    case AttachKind::Xdp: return make_xdp_ops();
    case AttachKind::TcIngress: return make_tc_ops(true);
    case AttachKind::TcEgress: return make_tc_ops(false);
    case AttachKind::Netfilter: return make_netfilter_ops();
  }
  return nullptr;
}

}  // namespace

Result<Program> compile(const ir::Table& table, const std::string& base_chain, const AttachPoint& at,
                        const KernelBtf& btf, const CompileOptions& opt) {
  if (auto v = ir::validate(table); !v) return v.error();
  const ir::Chain* base = table.find_chain(base_chain);
  if (!base) return make_error(ENOENT, "table " + table.name + " has no chain '" + base_chain + "'");
  if (!base->base) return make_error(EINVAL, "chain '" + base_chain + "' is not a base chain");

  auto ops = make_ops(at);
  Program p;
  p.name = ("nfjit_" + base_chain).substr(0, 15);
  p.prog_type = ops->prog_type();
  p.expected_attach_type = ops->expected_attach_type();
  p.attach = at;
  Gen g(table, at, btf, *ops, p);
  if (at.kind == AttachKind::Netfilter) {
    if (at.pf != 2 && at.pf != 10) return make_error(EINVAL, "netfilter attach point needs pf 2 (IPv4) or 10 (IPv6)");
    g.pf = at.pf == 2 ? 4 : 6;
  }

  Layout lay;
  if (auto res = collect_chains(g, *base, lay, p); !res) return res.error();
  if (lay.chains.size() > 255) return make_error(EOPNOTSUPP, "cannot lower at " + where(at) + ": more than 255 user chains");
  if (auto res = scan_needs(g, lay); !res) return res.error();
  MapSpec counters;
  counters.name = "nfjit_counters";
  counters.type = BPF_MAP_TYPE_PERCPU_ARRAY;
  counters.key_size = 4;
  counters.value_size = sizeof(CounterValue);
  counters.max_entries = static_cast<uint32_t>(p.counters.size());
  counters.role = MapSpec::Role::Counters;
  g.counters_map = p.counters_map = g.add_map(std::move(counters));

  for (auto& ci : lay.chains) {
    ci.segs = plan_segments(g, *ci.chain, opt.classify);
    for (auto& sg : ci.segs) ci.seg_maps.push_back(g.add_map(segment_map_spec(sg, ci.chain->name)));
  }
  std::vector<Block> blocks;
  choose_blocks(g, lay, opt, blocks);

  for (auto& ci : lay.chains) ci.entry = g.e.new_label();
  for (auto& b : blocks) b.entry = g.e.new_label();
  auto& e = g.e;
  std::vector<std::pair<Label, std::string>> symbols;

  // Main program: context and descriptor registers, hook prologue, parsing, the base chain.
  e.bind(lay.chains[0].entry);
  symbols.push_back({lay.chains[0].entry, "chain " + base->name});
  e.emit(mov64_reg(R6, R1));
  e.emit(mov64_reg(R7, R10));
  e.emit(alu64_imm(BPF_ADD, R7, -kSize));
  g.exit_accept = e.new_label();
  if (auto res = ops->prologue(g); !res) return res.error();
  if (auto res = emit_parse(g); !res) return res.error();
  Frame main{FrameKind::Main, e.new_label()};
  if (auto res = emit_chain_body(g, lay, blocks, 0, main); !res) return res.error();
  if (e.used(g.exit_accept)) {
    e.bind(g.exit_accept);
    symbols.push_back({g.exit_accept, "not for this table: accept"});
    e.emit(mov64_imm(R0, ops->verdict(true)));
    e.emit(exit_insn());
  }
  // One subprogram per user chain and per rule block, emitted once something calls it: a chain whose
  // every caller can never match here (an interface decided at compile time, a family that never
  // reaches this program) is left out, as the verifier refuses unreachable code.
  std::vector<bool> chain_done(lay.chains.size(), false), block_done(blocks.size(), false);
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 1; i < lay.chains.size(); ++i) {
      if (chain_done[i] || !e.used(lay.chains[i].entry)) continue;
      chain_done[i] = progress = true;
      e.bind(lay.chains[i].entry);
      symbols.push_back({lay.chains[i].entry, "chain " + lay.chains[i].chain->name});
      e.emit(mov64_reg(R6, R1));
      e.emit(mov64_reg(R7, R2));
      Frame f{FrameKind::Chain, Label{}};
      if (auto res = emit_chain_body(g, lay, blocks, i, f); !res) return res.error();
    }
    // r0 = continue / accept / drop / return (from the chain).
    for (size_t k = 0; k < blocks.size(); ++k) {
      const Block& b = blocks[k];
      if (block_done[k] || !e.used(b.entry)) continue;
      block_done[k] = progress = true;
      const ChainInfo& ci = lay.chains[b.chain];
      e.bind(b.entry);
      symbols.push_back({b.entry, "chain " + ci.chain->name + " rules " + std::to_string(b.first) + "-" +
                                      std::to_string(b.last - 1)});
      e.emit(mov64_reg(R6, R1));
      e.emit(mov64_reg(R7, R2));
      Frame f{FrameKind::Block, Label{}};
      auto end_reached = emit_rules(g, lay, ci, b.first, b.last, f);
      if (!end_reached) return end_reached.error();
      if (*end_reached) emit_exit_with(g, kVerdictContinue);
      emit_tails(g, f);
    }
  }
  auto insns = e.finish();
  if (!insns) return insns.error();
  p.insns = std::move(*insns);
  for (const auto& [l, name] : symbols) p.symbols.push_back({e.position(l), name});
  if (opt.disasm) p.disassembly = disassemble(p);
  return p;
}

}  // namespace nfjit::codegen
