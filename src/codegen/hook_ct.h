// Conntrack state and mark at XDP/TC through the ct lookup kfuncs (hook_ct.cc explains the
// classification). Used by the XDP and TC hook ops and by the rule compiler's admission check.
#pragma once

#include <string>

#include "codegen/gen.h"

namespace nfjit::codegen {

// Set in kOffCtResult next to the state bit when kOffCtMark holds the connection's mark.
inline constexpr uint32_t kCtMarkValid = 1u << 8;

bool is_ct_field(ir::Field f);
// EOPNOTSUPP naming the rule when a ct match of `r` cannot be exact at this XDP/TC hook.
Result<void> check_ct_rule(const Gen& g, const ir::Rule& r);
// Once per packet in parse (r8, r9, r0-r5 clobbered): the lookup and classification into the descriptor.
Result<void> emit_ct_lookup(Gen& g, const std::string& kfunc, bool egress);
// r1 = ct state bits / ct mark from the descriptor, or jump to `absent`.
Result<void> load_ct_meta(Gen& g, ir::Field f, Label absent);

}  // namespace nfjit::codegen
