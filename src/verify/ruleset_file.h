// The file `nfjit verify` is given, read the way a person wrote it: which kind of dump it is, which
// family, each rule's line as written (for messages), and the interface names its rules use (so that
// the scratch hosts have them).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "nfjit/result.h"

namespace nfjit::verify {

struct DumpRule {
  int line = 0;          // 1-based line in the file
  std::string text;      // "-A INPUT -p tcp --dport 22 -j ACCEPT" as written (counters stripped)
};

struct DumpChain {
  std::string name;
  std::string policy;    // "ACCEPT"/"DROP" for built-in chains, "-" for user chains
  std::vector<DumpRule> rules;
};

struct DumpTable {
  std::string name;
  std::vector<DumpChain> chains;  // in declaration order
  DumpChain* find(const std::string& chain);
  const DumpChain* find(const std::string& chain) const;
};

struct RulesetFile {
  enum class Kind { Iptables, Nft } kind = Kind::Iptables;
  int family = 4;                  // best guess: 6 when the rules name IPv6 addresses or ICMPv6
  bool family_certain = false;     // the guess rests on something IPv-specific in the rules
  std::string text;
  std::vector<DumpTable> tables;
  std::set<std::string> interfaces;  // concrete names to create ("eth+" becomes "eth0" unless one exists)
  const DumpTable* find(const std::string& table) const;
};

// Reads and classifies `path`. Errors: unreadable file, nothing that looks like a ruleset.
Result<RulesetFile> read_ruleset_file(const std::string& path);
// The same for text already in memory.
Result<RulesetFile> parse_ruleset_text(std::string text);

}  // namespace nfjit::verify
