// REJECT at a netfilter hook. A BPF_NETFILTER program cannot emit a packet, so the rule is counted and the
// packet dropped like DROP, after the program has copied what the reply needs into the LOG ring as a
// RejectRecord; nfjitd reads it and sends the RST / ICMP error the kernel's nf_reject_ipv{4,6}.c would
// (src/runtime/reject_reply.*, src/daemon/reject_sender.*, docs/reject.md).
#pragma once

#include <cstdint>

#include "codegen/gen.h"
#include "codegen/reject_record.h"

namespace nfjit::codegen {

// Emits the record for rule `r` (counter slot `slot`); the caller then counts and drops. Netfilter
// attachments only: elsewhere an EOPNOTSUPP naming the rule.
Result<void> emit_reject_record(Gen& g, const ir::Rule& r, uint32_t slot);

}  // namespace nfjit::codegen
