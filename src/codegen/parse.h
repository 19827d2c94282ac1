// Header parsing, done once at the start of the main program: fills the packet descriptor
// (packet_desc.h) from the link-layer header (hooks that have one), IPv4 (with options) or IPv6 (with its
// extension headers), and the transport header when some rule reads ports, TCP flags or ICMP fields.
#pragma once

#include "codegen/gen.h"

namespace nfjit::codegen {

// Packets the table never sees (another family, not IP, or a malformed IP header the stack would drop
// before netfilter) jump to g.exit_accept.
Result<void> emit_parse(Gen& g);

// How many IPv6 extension headers the parser walks before giving up on finding the transport header.
inline constexpr int kMaxIpv6ExtHeaders = 8;

}  // namespace nfjit::codegen
