// Chain layout. The base chain is the main program; every user chain it reaches is one BPF subprogram
// (BPF-to-BPF call, r1 = ctx, r2 = descriptor pointer) emitted once however many rules jump to it, and
// returning an internal verdict in r0: 0 = continue in the caller (RETURN or end of chain), 1 = accept,
// 2 = drop. Rules are emitted in order; a failing match jumps to the next rule (the Emitter widens
// far jumps). See docs/codegen.md.
#include "codegen/compile.h"

#include <functional>
#include <map>
#include <set>

#include "codegen/actions.h"
#include "codegen/hook.h"
#include "codegen/match.h"
#include "codegen/parse.h"
#include "ir/validate.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

struct ChainInfo {
  const ir::Chain* chain;
  Label entry;
  uint32_t first_slot;  // counter slot of rule 0; policy slot = first_slot + rules.size()
};

struct Layout {
  std::vector<ChainInfo> chains;  // [0] = base chain
  std::map<std::string, size_t> index;
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

bool is_main(const ChainInfo& ci, const Layout& lay) { return ci.chain == lay.chains[0].chain; }

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

void emit_terminal(Gen& g, bool main, bool accept) {
  g.e.emit(mov64_imm(R0, main ? g.hook.verdict(accept) : (accept ? kVerdictAccept : kVerdictDrop)));
  g.e.emit(exit_insn());
}

// The base chain's policy (counted on its policy slot), reached by falling off its end, RETURN in it, or
// a user chain entered by goto from it returning.
void emit_policy(Gen& g, const ChainInfo& base) {
  emit_count(g, base.first_slot + static_cast<uint32_t>(base.chain->rules.size()));
  emit_terminal(g, true, base.chain->base->policy == ir::Policy::Accept);
}

void emit_call(Gen& g, const Layout& lay, const std::string& target) {
  g.e.emit(mov64_reg(R1, R6));
  g.e.emit(mov64_reg(R2, R7));
  g.e.call(lay.chains[lay.index.at(target)].entry);
}

// Emits one rule; returns false when nothing after it can run (an unconditional terminal rule).
Result<bool> emit_rule(Gen& g, const Layout& lay, const ChainInfo& ci, size_t idx, Label policy) {
  const ir::Rule& r = ci.chain->rules[idx];
  const bool main = is_main(ci, lay);
  auto& e = g.e;
  // Refuse what the hook cannot do before emitting anything.
  if (r.action.kind == ir::ActionKind::Reject)
    return unsupported(g, r, "REJECT needs to emit a packet");
  for (const auto& m : r.matches) {
    auto s = static_match(g, m);
    if (s && !*s) return true;  // never matches at this attachment: no code, counter stays 0
  }
  Label next = e.new_label();
  bool conditional = false;
  for (const auto& m : r.matches) {
    if (static_match(g, m)) continue;
    conditional = true;
    if (!m.invert) {
      if (auto res = emit_match(g, m, r, next, next); !res) return res.error();
      continue;
    }
    Label inv_true = e.new_label();
    if (auto res = emit_match(g, m, r, inv_true, next); !res) return res.error();
    e.ja(next);
    if (!e.used(inv_true)) {  // the plain match can never fail: the inverted one never holds
      e.bind(next);
      return true;
    }
    e.bind(inv_true);
  }
  const uint32_t slot = ci.first_slot + static_cast<uint32_t>(idx);
  emit_count(g, slot);
  bool falls_through = true;
  switch (r.action.kind) {
    case ir::ActionKind::Continue: break;
    case ir::ActionKind::Accept: emit_terminal(g, main, true); falls_through = false; break;
    case ir::ActionKind::Drop: emit_terminal(g, main, false); falls_through = false; break;
    case ir::ActionKind::Reject: break;  // refused above
    case ir::ActionKind::Log: {
      ir::Hook h = ci.chain->base ? ci.chain->base->hook : lay.chains[0].chain->base->hook;
      if (auto res = emit_log(g, r.action.log, slot, r, h); !res) return res.error();
      break;
    }
    case ir::ActionKind::SetMark:
      if (auto res = g.hook.set_mark(g, r.action, r); !res) return res.error();
      break;
    case ir::ActionKind::Jump: {
      emit_call(g, lay, r.action.target);
      if (main) {
        e.jmp_imm(BPF_JEQ, R0, kVerdictContinue, next);
        emit_return_verdict_from_r0(g);
      } else {
        e.jmp_imm(BPF_JEQ, R0, kVerdictContinue, next);
        e.emit(exit_insn());
      }
      falls_through = false;
      break;
    }
    case ir::ActionKind::Goto:
      emit_call(g, lay, r.action.target);
      if (main) {
        // The goto'd chain returning means returning from the base chain: its policy applies.
        e.jmp_imm(BPF_JEQ, R0, kVerdictContinue, policy);
        emit_return_verdict_from_r0(g);
      } else {
        e.emit(exit_insn());  // its verdict (or "continue" = return from this chain) is ours
      }
      falls_through = false;
      break;
    case ir::ActionKind::Return:
      if (main) e.ja(policy);
      else {
        e.emit(mov64_imm(R0, kVerdictContinue));
        e.emit(exit_insn());
      }
      falls_through = false;
      break;
  }
  e.bind(next);
  (void)conditional;
  return falls_through || e.used(next);
}

Result<void> emit_chain_body(Gen& g, const Layout& lay, const ChainInfo& ci, Label policy) {
  const bool main = is_main(ci, lay);
  for (size_t i = 0; i < ci.chain->rules.size(); ++i) {
    auto more = emit_rule(g, lay, ci, i, policy);
    if (!more) return more.error();
    if (!*more) {
      if (main && g.e.used(policy)) {
        g.e.bind(policy);
        emit_policy(g, lay.chains[0]);
      }
      return {};
    }
  }
  if (main) {
    g.e.bind(policy);
    emit_policy(g, lay.chains[0]);
  } else {
    emit_count(g, ci.first_slot + static_cast<uint32_t>(ci.chain->rules.size()));  // implicit RETURN
    g.e.emit(mov64_imm(R0, kVerdictContinue));
    g.e.emit(exit_insn());
  }
  return {};
}

void scan_needs(Gen& g, const Layout& lay) {
  for (const auto& ci : lay.chains)
    for (const auto& r : ci.chain->rules)
      for (const auto& m : r.matches) {
        if (const auto* im = std::get_if<ir::IntMatch>(&m.m)) g.need_l4 |= field_needs_l4(im->field);
        if (const auto* sm = std::get_if<ir::SetMatch>(&m.m))
          if (const ir::Set* s = g.table.find_set(sm->set))
            for (const auto& f : s->key) g.need_l4 |= field_needs_l4(f.field);
        if (std::holds_alternative<ir::MacMatch>(m.m)) g.need_mac = true;
      }
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
  scan_needs(g, lay);

  MapSpec counters;
  counters.name = "nfjit_counters";
  counters.type = BPF_MAP_TYPE_PERCPU_ARRAY;
  counters.key_size = 4;
  counters.value_size = sizeof(CounterValue);
  counters.max_entries = static_cast<uint32_t>(p.counters.size());
  counters.role = MapSpec::Role::Counters;
  g.counters_map = p.counters_map = g.add_map(std::move(counters));

  for (auto& ci : lay.chains) ci.entry = g.e.new_label();
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
  Label policy = e.new_label();
  if (auto res = emit_chain_body(g, lay, lay.chains[0], policy); !res) return res.error();
  if (e.used(g.exit_accept)) {
    e.bind(g.exit_accept);
    symbols.push_back({g.exit_accept, "not for this table: accept"});
    e.emit(mov64_imm(R0, ops->verdict(true)));
    e.emit(exit_insn());
  }
  // One subprogram per user chain.
  for (size_t i = 1; i < lay.chains.size(); ++i) {
    e.bind(lay.chains[i].entry);
    symbols.push_back({lay.chains[i].entry, "chain " + lay.chains[i].chain->name});
    e.emit(mov64_reg(R6, R1));
    e.emit(mov64_reg(R7, R2));
    if (auto res = emit_chain_body(g, lay, lay.chains[i], Label{}); !res) return res.error();
  }
  auto insns = e.finish();
  if (!insns) return insns.error();
  p.insns = std::move(*insns);
  for (const auto& [l, name] : symbols) p.symbols.push_back({e.position(l), name});
  if (opt.disasm) p.disassembly = disassemble(p);
  return p;
}

}  // namespace nfjit::codegen
