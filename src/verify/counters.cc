#include "verify/counters.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace nfjit::verify {

Count operator-(const Count& a, const Count& b) { return {a.packets - b.packets, a.bytes - b.bytes}; }

Counters parse_save_counters(const std::string& save) {
  Counters out;
  std::istringstream in(save);
  std::string line, table;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      table = line.substr(1);
      continue;
    }
    Count c;
    if (line[0] == ':') {  // ":INPUT DROP [12:345]"
      char name[64], pol[16];
      if (std::sscanf(line.c_str(), ":%63s %15s [%" SCNu64 ":%" SCNu64 "]", name, pol, &c.packets, &c.bytes) >= 2) {
        auto& ch = out[{table, name}];
        ch.has_policy = std::string(pol) != "-";
        ch.policy = c;
      }
      continue;
    }
    char chain[64];
    if (line[0] == '[' && std::sscanf(line.c_str(), "[%" SCNu64 ":%" SCNu64 "] -A %63s", &c.packets, &c.bytes, chain) == 3)
      out[{table, chain}].rules.push_back(c);
  }
  return out;
}

}  // namespace nfjit::verify
