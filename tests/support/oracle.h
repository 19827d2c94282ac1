// Reading the kernel's own per-rule counters, the oracle every differential test compares nfjit with.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nfjit::test {

struct Count {
  uint64_t packets = 0, bytes = 0;
  bool operator==(const Count&) const = default;
};

struct ChainCounts {
  std::vector<Count> rules;   // in rule order
  bool has_policy = false;    // iptables built-in chains carry a policy counter
  Count policy;
  bool operator==(const ChainCounts&) const = default;
};

using TableCounts = std::map<std::string, ChainCounts>;  // by chain name

// `nft list table ...` text: every rule must carry a `counter` statement; chains by name.
TableCounts parse_nft_counters(const std::string& listing);

// `iptables-save -c` text for one table (the *table ... COMMIT section named `table`).
TableCounts parse_iptables_save_counters(const std::string& save, const std::string& table);

std::string to_string(const TableCounts& t);

}  // namespace nfjit::test
