// Per-rule and per-policy counters as `iptables-legacy-save -c` prints them — in K straight from the
// kernel, in N through the shim from nfjitd (live BPF counters for tables that run as BPF).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nfjit::verify {

struct Count {
  uint64_t packets = 0, bytes = 0;
  bool operator==(const Count&) const = default;
};

struct ChainCounters {
  bool has_policy = false;
  Count policy;
  std::vector<Count> rules;
};

// {table, chain} -> counters.
using Counters = std::map<std::pair<std::string, std::string>, ChainCounters>;

Counters parse_save_counters(const std::string& save);
Count operator-(const Count& a, const Count& b);

}  // namespace nfjit::verify
