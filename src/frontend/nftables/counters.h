// Live counters for listings. The kernel dumps the packets/bytes its counter expressions saw; nfjit's
// counters live in BPF maps owned by the runtime, so the daemon plugs a source in here. Without one the
// values stored with the rule (what the client sent, usually zero) are listed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace nfjit::nft {

struct CounterValue {
  uint64_t packets = 0, bytes = 0;
};

// One `counter` expression: the rule's handle and the expression's index inside the rule.
struct CounterKey {
  uint8_t family = 0;
  std::string table, chain;
  uint64_t rule_handle = 0;
  uint32_t expr_index = 0;
};

using CounterSource = std::function<std::optional<CounterValue>(const CounterKey&)>;

}  // namespace nfjit::nft
