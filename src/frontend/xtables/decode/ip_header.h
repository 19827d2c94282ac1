// The fixed part of a rule (ipt_ip / ip6t_ip6: -s -d -i -o -p -f) as IR matches and as -S text,
// following ip_packet_match() / ip6_packet_match().
#pragma once

#include <string>
#include <vector>

#include "frontend/xtables/abi.h"
#include "frontend/xtables/decode/extension.h"

namespace nfjit::xt {

// `ip` is the start of the entry (ipt_ip / ip6t_ip6 come first).
Result<std::vector<ir::Match>> decode_ip_part(const FamilyAbi& abi, Bytes ip);
std::string describe_ip_part(const FamilyAbi& abi, Bytes ip);
// The IPT_F_GOTO / IP6T_F_GOTO flag.
bool ip_part_goto(const FamilyAbi& abi, Bytes ip);

}  // namespace nfjit::xt
