// The code generator's entry point: one base chain of a table (plus every user chain it reaches) for one
// attachment point -> a Program (raw instructions + map specs). See docs/codegen.md.
#pragma once

#include <string>

#include "codegen/classify.h"
#include "codegen/kernel_btf.h"
#include "codegen/program.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::codegen {

struct CompileOptions {
  bool disasm = false;  // fill Program::disassembly
  // A chain longer than this is split into rule blocks of this many rules, one BPF subprogram each
  // (compile.cc says why); 0 = never split. Tests set it low to exercise blocks on short chains.
  uint32_t rules_per_block = 128;
  // Long runs of rules become hash lookups (classify.h); min_rules = 0 keeps every rule linear.
  ClassifyOptions classify;
};

// Compiles base chain `base_chain` of `table` (and every user chain it reaches) for one attachment point.
// What cannot be lowered exactly is an Error with EOPNOTSUPP naming the rule and the reason.
Result<Program> compile(const ir::Table& table, const std::string& base_chain, const AttachPoint& at,
                        const KernelBtf& btf, const CompileOptions& opt = {});

// Readable text, one instruction per line, with labels, map names and kfunc names.
std::string disassemble(const Program& p);

// BPF allows 8 call frames: the main program plus this many nested user chains (jump or goto). A chain
// split into rule blocks takes one more frame; chains are only split where that still fits.
inline constexpr int kMaxChainNesting = 7;

}  // namespace nfjit::codegen
