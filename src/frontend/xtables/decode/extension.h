// The xt match/target extensions nfjit knows: how the kernel registers them (so SET_REPLACE validation
// and GET_ENTRIES answers are the kernel's), how to check their data like their checkentry() does, and
// how to decode them into the IR. This is the decoder API shared with the nftables front-end (its
// xt compat expressions carry the same name/revision/data): find_extension() then decode_match() /
// decode_target() with a RuleContext built from the rule's protocol.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::xt {

// What an extension sees of the rule it is in (the kernel's xt_mtchk_param / xt_tgchk_param).
struct RuleContext {
  ir::Family family = ir::Family::Ipv4;
  std::string table;          // "filter", "mangle", ...
  uint32_t hook_mask = 0;     // hooks the rule is reachable from (1 << NF_INET_*)
  uint16_t proto = 0;         // the rule's -p (0 = any)
  bool proto_inverted = false;
  bool v6_proto_flag = true;  // ip6t: IP6T_F_PROTO set (ip6t_REJECT's tcp-reset check wants it)
};

using Bytes = std::span<const uint8_t>;
// 0, or the positive errno the extension's checkentry() returns for this data.
using CheckFn = int (*)(Bytes data, const RuleContext&);
// The IR for a match; Error{EOPNOTSUPP, reason} when the IR cannot express it exactly.
using MatchDecodeFn = Result<std::vector<ir::Match>> (*)(Bytes data, const RuleContext&);
using TargetDecodeFn = Result<ir::Action> (*)(Bytes data, const RuleContext&);
// The options as `iptables -S` prints them, e.g. "-m tcp --dport 22" or "-j REJECT --reject-with tcp-reset".
using DescribeFn = std::string (*)(Bytes data, const RuleContext&);

constexpr uint8_t kFamV4 = 1, kFamV6 = 2, kFamBoth = 3;

struct Extension {
  bool target = false;
  const char* name = "";
  uint8_t revision = 0;
  uint8_t families = kFamBoth;
  bool unspec = false;        // registered as NFPROTO_UNSPEC (decides ENOENT vs EPROTOTYPE on a bad revision)
  uint32_t size = 0;          // matchsize / targetsize before XT_ALIGN
  uint32_t usersize = 0;      // bytes of data GET_ENTRIES copies back (0 = all of size); the rest reads as 0
  const char* table = nullptr;  // only valid in this table
  uint32_t hooks = 0;         // only valid from these hooks (0 = any)
  uint16_t proto = 0;         // needs -p proto, not inverted (0 = any)
  CheckFn check = nullptr;
  MatchDecodeFn decode_match = nullptr;
  TargetDecodeFn decode_target = nullptr;
  DescribeFn describe = nullptr;
};

// The extension registered under (kind, name, revision) for the family, or nullptr.
const Extension* find_extension(bool target, std::string_view name, uint8_t revision, ir::Family family);
// Whether nfjit has any revision of this name for the family (for the ENOENT/EPROTOTYPE choice).
bool has_extension_name(bool target, std::string_view name, ir::Family family);
// Why an extension nfjit does not lower cannot be lowered (a specific reason for the well-known ones).
std::string unsupported_reason(bool target, std::string_view name, uint8_t revision);

// Error for "the IR cannot express this exactly".
inline Error not_lowerable(std::string reason) { return make_error(EOPNOTSUPP, std::move(reason)); }

// Per-family tables of extensions, one function per decoder file; registry.cc joins them.
std::span<const Extension> tcpudp_extensions();
std::span<const Extension> icmp_extensions();
std::span<const Extension> multiport_extensions();
std::span<const Extension> iprange_extensions();
std::span<const Extension> conntrack_extensions();
std::span<const Extension> mark_extensions();
std::span<const Extension> packet_field_extensions();  // length, ttl/hl, dscp/tos, mac
std::span<const Extension> misc_match_extensions();    // comment, limit, pkttype
std::span<const Extension> verdict_target_extensions();  // REJECT, LOG

}  // namespace nfjit::xt
