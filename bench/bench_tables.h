// The rulesets the benchmarks measure: one base chain INPUT of N rules, each "-s 198.19.X.Y/32 [-p udp]
// --dport P -j DROP" (saddr + dport, optionally the protocol as a third match). The benchmark packet
// (UDP 198.18.0.2:40000 -> 198.18.0.1:9) matches none of them, so every rule is evaluated and the policy
// (accept) applies: the worst case. With `first_matches`, rule 0 matches that packet and accepts: the best
// case.
#pragma once

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "ir/ir.h"

namespace nfjit::bench {

// `tuples` > 1 spreads the source prefix lengths over /32, /31, ... so that the classifier needs that
// many lookups (classify.h).
inline ir::Table make_table(int n, bool first_matches, int matches_per_rule = 3, int tuples = 1) {
  ir::Table t;
  t.name = "filter";
  t.family = ir::Family::Ipv4;
  ir::Chain c;
  c.name = "INPUT";
  c.base = ir::BaseChain{ir::Hook::Input, 0, ir::Policy::Accept, {}};
  for (int i = 0; i < n; ++i) {
    const bool hit = first_matches && i == 0;
    ir::Rule r;
    ir::AddrMatch a;
    a.field = ir::Field::Saddr;
    a.len = 4;
    const int plen = hit ? 32 : 32 - (i % tuples);
    uint32_t host = hit ? (198u << 24) | (18u << 16) | 2
                        : (198u << 24) | (19u << 16) | static_cast<uint32_t>((i << (32 - plen)) & 0xffff);
    uint32_t mask = plen ? ~0u << (32 - plen) : 0;
    uint32_t ip = htonl(host & mask), m = htonl(mask);
    std::memcpy(a.value.data(), &ip, 4);
    std::memcpy(a.mask.data(), &m, 4);
    r.matches.push_back({a, false});
    if (matches_per_rule >= 3)
      r.matches.push_back({ir::IntMatch{ir::Field::L4Proto, ir::IntOp::InRanges, 0xffffffffu, {{17, 17}}}, false});
    uint32_t port = hit ? 9 : 1000 + (i % 60000);
    r.matches.push_back({ir::IntMatch{ir::Field::Dport, ir::IntOp::InRanges, 0xffffffffu, {{port, port}}}, false});
    r.action.kind = hit ? ir::ActionKind::Accept : ir::ActionKind::Drop;
    r.origin = "bench rule " + std::to_string(i);
    c.rules.push_back(std::move(r));
  }
  t.chains.push_back(std::move(c));
  return t;
}

}  // namespace nfjit::bench
