// Lowering of one nf_tables table (as the Store keeps it) to the IR, for the runtime to run as BPF.
//
// Exactness first (docs/CONTRIBUTING.md): every expression sequence is recognised exactly or the whole
// table is refused with the rule and the reason; a refused table stays in the kernel's nf_tables. See
// docs/nftables.md "Lowering to the IR" for the patterns recognised and how rules map to IR rules.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "frontend/nftables/store.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::nft {

// An IR counter slot: chain name and rule index in that chain (runtime::CounterKey's shape).
using IrRuleRef = std::pair<std::string, int32_t>;

struct LoweredTable {
  ir::Table table;
  // Every nft rule (chain, handle) -> the IR rules it became, in order (one nft rule may need several:
  // a `counter` in the middle, several statements, a verdict map).
  std::map<std::pair<std::string, uint64_t>, std::vector<int32_t>> rules;
  // Every `counter` expression (chain, rule handle, index of the expression in the rule) -> the IR rule
  // whose counter counts exactly the packets that reach it. Listings read live counters through this.
  std::map<std::tuple<std::string, uint64_t, uint32_t>, IrRuleRef> counters;
  // Named counter objects (`counter name "x"` = objref): every IR rule counting for it (values add up).
  std::map<std::string, std::vector<IrRuleRef>> named_counters;
  // nft set name -> the IR sets made from it (one per distinct key-field list it is looked up with), so
  // element updates can be applied to the live maps.
  std::map<std::string, std::vector<std::string>> sets;
};

// One reason a table cannot run as BPF.
struct Refusal {
  std::string chain;
  uint64_t handle = 0;   // 0: the table or chain itself
  std::string reason;
};

// Where the rules of one table's last lowering went, so that lowering the table again after a change
// (one rule added to 10,000) redoes only the rules that changed and takes the others' IR rules from the
// last result (`source`, moved out of it, not copied). A rule is reused when it is the same rule (its
// expressions are shared between Store versions, and the cache holds them so their address is never
// reused), in the same chain with the same handle and reachable from the same hooks, and refers to no
// named set and made no IR set (a lookup's IR depends on the set's elements and on the other lookups of
// the table; an anonymous set bound to a rule cannot change).
//
// lower_table() consumes `source` and leaves the entries describing its own result; the caller keeps
// that result as the next `source`, or clears the entries if it does not keep it.
class LowerCache {
 public:
  struct Entry {
    NftnlRule exprs;
    std::string chain;
    uint64_t handle = 0;
    std::set<ir::Hook> hooks;
    size_t chain_index = 0, first = 0, count = 0;  // its IR rules in the result
    std::map<uint32_t, size_t> counter_rules;
    std::vector<std::pair<std::string, size_t>> objref_counters;
  };
  std::map<const nftnl_rule*, Entry> entries;
  uint8_t family = 0;
  std::string table;
  LoweredTable* source = nullptr;  // the result the entries describe; null: nothing to reuse
};

// Lowers table `name` of `family` (NFPROTO_IPV4/IPV6/INET...). EOPNOTSUPP names every rule that cannot be
// lowered exactly (the first one in the first line), ENOENT if the table does not exist.
Result<LoweredTable> lower_table(const Store& store, uint8_t family, const std::string& name);

// The same, with every refusal listed separately (for `nfjit status` and tests), and with `cache`
// (may be null) reused and then replaced by this lowering's rules.
Result<LoweredTable> lower_table(const Store& store, uint8_t family, const std::string& name,
                                 std::vector<Refusal>* refusals, LowerCache* cache = nullptr);

// A readable form of a rule for messages and IR `origin`: "chain input handle 7: [ meta load l4proto =>
// reg 1 ] [ cmp eq reg 1 0x00000006 ] ..." (libnftnl's debug rendering of each expression, as
// `nft --debug=netlink` prints them; exact `nft list` syntax would need libnftables' whole printer).
std::string describe_rule(const ChainObj& chain, const RuleObj& rule);

// IR elements of an nft set looked up with `key` (the same conversion lower_table uses): interval sets'
// start/end elements become [lo, hi] pairs. For live updates of a lowered table's sets.
Result<std::vector<ir::SetElement>> set_elements(const SetObj& set);
// The same for some elements of a set that is not an interval set (each element converts on its own):
// what a batch added or removed (ElemSet::diff), for live map updates.
Result<std::vector<ir::SetElement>> set_elements(const SetObj& set, std::span<const ElemObj* const> elems);

}  // namespace nfjit::nft
