// A seeded generator of valid iptables-save / ip6tables-save dumps for `nfjit verify`: filter tables
// (sometimes raw/mangle too) whose rules mix every match the xtables front-end lowers — addresses and
// prefixes, interfaces with wildcards, protocols, port ranges and lists, TCP flags, ICMP types,
// conntrack/state, iprange, length, ttl/hl, dscp/tos, mac, limit, fragments, mark (not settable from
// outside, so some rules are listed as not driven) — user chains reached by jump and goto, RETURN, LOG,
// and random policies. The same seed gives the same text.
#pragma once

#include <cstdint>
#include <string>

namespace nfjit::verify_test {

// `with_limit`: also -m limit rules. Off in the clean-suite seeds while nfjit's token bucket counts in
// nanoseconds and xt_limit in jiffies (they disagree at refill boundaries; see VerifyFindings).
std::string generate_ruleset(uint64_t seed, int family, int rules = 24, bool with_limit = false);

}  // namespace nfjit::verify_test
