// find_check_entry() for a structurally valid table: every match and target looked up by name and
// revision (ENOENT / EPROTOTYPE / EINVAL as xt_find_match/xt_find_target give them) and checked like
// xt_check_match / xt_check_target (size, table, hooks, protocol, the extension's own checkentry).
#pragma once

#include <optional>
#include <string>

#include "frontend/xtables/blob.h"
#include "frontend/xtables/decode/extension.h"

namespace nfjit::xt {

// The RuleContext of an entry (protocol from its ip part, hooks from comefrom).
RuleContext rule_context(const Table& t, const Entry& e);

struct ExtensionVerdict {
  // Set when an extension nfjit does not know is met first: nfjit cannot tell whether the kernel
  // would accept it, so only the kernel can validate the rest (passthrough), in entry order.
  std::optional<std::string> unknown;  // "match foo revision 2 in entry 7"
  bool unknown_is_target = false;
  std::string unknown_name;
  uint8_t unknown_revision = 0;
};

// Ok: every extension up to the first unknown one (if any) passed the kernel's checks.
// Error: the errno the kernel gives for the first failing extension.
// `passed`: per entry, >= 0 when an identical entry (match_previous) of the table in force passed them
// already; those are not checked again.
Result<ExtensionVerdict> check_extensions(const Table& t, const std::vector<int32_t>* passed = nullptr);

}  // namespace nfjit::xt
