#include "oracle.h"

#include <regex>
#include <sstream>

namespace nfjit::test {

TableCounts parse_nft_counters(const std::string& listing) {
  TableCounts out;
  static const std::regex chain_re(R"(^\s*chain\s+(\S+)\s*\{)");
  static const std::regex counter_re(R"(counter packets (\d+) bytes (\d+))");
  std::istringstream in(listing);
  std::string line, chain;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, chain_re)) {
      chain = m[1];
      out[chain];
      continue;
    }
    if (chain.empty()) continue;
    if (std::regex_search(line, m, counter_re))
      out[chain].rules.push_back({std::stoull(m[1]), std::stoull(m[2])});
  }
  return out;
}

TableCounts parse_iptables_save_counters(const std::string& save, const std::string& table) {
  TableCounts out;
  static const std::regex policy_re(R"(^:(\S+) (\S+) \[(\d+):(\d+)\])");
  static const std::regex rule_re(R"(^\[(\d+):(\d+)\] -A (\S+))");
  std::istringstream in(save);
  std::string line;
  bool inside = false;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "*" + table) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (line == "COMMIT") break;
    if (std::regex_search(line, m, policy_re)) {
      auto& c = out[m[1]];
      if (m[2] != "-") {
        c.has_policy = true;
        c.policy = {std::stoull(m[3]), std::stoull(m[4])};
      }
    } else if (std::regex_search(line, m, rule_re)) {
      out[m[3]].rules.push_back({std::stoull(m[1]), std::stoull(m[2])});
    }
  }
  return out;
}

std::string to_string(const TableCounts& t) {
  std::ostringstream o;
  for (const auto& [name, c] : t) {
    o << name << ":";
    if (c.has_policy) o << " policy[" << c.policy.packets << ":" << c.policy.bytes << "]";
    for (size_t i = 0; i < c.rules.size(); ++i)
      o << " #" << i + 1 << "[" << c.rules[i].packets << ":" << c.rules[i].bytes << "]";
    o << "\n";
  }
  return o.str();
}

}  // namespace nfjit::test
