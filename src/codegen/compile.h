// The code generator's entry point: one base chain of a table (plus every user chain it reaches) for one
// attachment point -> a Program (raw instructions + map specs). See docs/codegen.md.
#pragma once

#include <string>

#include "codegen/kernel_btf.h"
#include "codegen/program.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::codegen {

struct CompileOptions {
  bool disasm = false;  // fill Program::disassembly
};

// Compiles base chain `base_chain` of `table` (and every user chain it reaches) for one attachment point.
// What cannot be lowered exactly is an Error with EOPNOTSUPP naming the rule and the reason.
Result<Program> compile(const ir::Table& table, const std::string& base_chain, const AttachPoint& at,
                        const KernelBtf& btf, const CompileOptions& opt = {});

// Readable text, one instruction per line, with labels, map names and kfunc names.
std::string disassemble(const Program& p);

// BPF allows 8 call frames: the main program plus this many nested user chains (jump or goto).
inline constexpr int kMaxChainNesting = 7;

}  // namespace nfjit::codegen
