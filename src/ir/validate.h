// Checks an IR table the way the kernel checks a ruleset before accepting it: every jump/goto names an
// existing user chain (ENOENT), no base chain is a jump target (EINVAL), the chain graph has no loops
// (ELOOP), sets used by rules exist (ENOENT). Messages name the offending rule (Rule::origin).
#pragma once

#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::ir {

Result<void> validate(const Table& t);

}  // namespace nfjit::ir
