// A deliberately tiny compiler used by the runtime tests until codegen lands: it turns base chains whose
// rules test only the packet's L3 length (ir::Field::Length, one exact value) into real BPF programs for
// any attachment point, with one per-CPU counter slot per rule plus the policy slot, laid out as
// codegen::Program promises. Everything the runtime does with its output (load, attach, swap, pin,
// count) is the real thing; only the rule language is small.
#pragma once

#include "codegen/program.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::test {

Result<codegen::Program> mini_compile(const ir::Table& t, const std::string& chain, const codegen::AttachPoint& at);

// Helpers to build such tables.
ir::Rule length_rule(uint32_t l3_len, ir::ActionKind action);
ir::Table length_table(const std::string& name, ir::Family fam, ir::Hook hook, int32_t prio, ir::Policy policy,
                       std::vector<ir::Rule> rules, std::vector<std::string> devices = {});

}  // namespace nfjit::test
