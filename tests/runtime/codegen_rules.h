// The runtime tests' rules, compiled by the real code generator (codegen::compile with the running
// kernel's BTF): base chains whose rules match the packet's L3 length (ir::Field::Length, one exact
// value; xt_length semantics: IPv4 total length / IPv6 payload length + 40), so that datagrams of a
// chosen payload size hit a chosen rule.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "codegen/compile.h"
#include "ir/ir.h"
#include "runtime/engine.h"

namespace nfjit::test {

// The Engine's compiler: codegen::compile bound to the kernel's BTF (loaded once).
inline runtime::CompileFn codegen_compiler() {
  static const std::shared_ptr<codegen::KernelBtf> btf = [] {
    auto b = codegen::KernelBtf::load();
    if (!b) throw std::runtime_error(b.error().message);
    return std::make_shared<codegen::KernelBtf>(std::move(*b));
  }();
  return [](const ir::Table& t, const std::string& chain, const codegen::AttachPoint& at) {
    return codegen::compile(t, chain, at, *btf);
  };
}

inline ir::Rule length_rule(uint32_t l3_len, ir::ActionKind action) {
  ir::Rule r;
  ir::IntMatch m;
  m.field = ir::Field::Length;
  m.ranges = {{l3_len, l3_len}};
  r.matches.push_back(ir::Match{m, false});
  r.action.kind = action;
  r.origin = std::string("length ") + std::to_string(l3_len) + " " + ir::to_string(action);
  return r;
}

// One base chain "c" holding `rules`.
inline ir::Table length_table(const std::string& name, ir::Family fam, ir::Hook hook, int32_t prio, ir::Policy policy,
                              std::vector<ir::Rule> rules, std::vector<std::string> devices = {}) {
  ir::Table t;
  t.name = name;
  t.family = fam;
  ir::Chain c;
  c.name = "c";
  c.base = ir::BaseChain{hook, prio, policy, std::move(devices)};
  c.rules = std::move(rules);
  t.chains.push_back(std::move(c));
  return t;
}

}  // namespace nfjit::test
