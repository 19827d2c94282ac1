// lower_table(): one nf_tables table -> ir::Table. Decides what the table as a whole can be (family,
// chain types, hooks), which hooks every chain is reachable from (for "where readable" checks and the xt
// decoders' hook masks), then lowers every rule with a RuleLowerer and records where each rule and
// counter expression went.
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "frontend/nftables/lower/lower.h"
#include "frontend/nftables/lower/rule_lowerer.h"

namespace nfjit::nft {

using lower::Refuse;
using lower::RuleLowerer;
using lower::TableCtx;

namespace {

template <typename F>
void for_each_expr(const RuleObj& r, F f) {
  nftnl_expr_iter* it = nftnl_expr_iter_create(r.exprs.get());
  if (!it) return;
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) f(e);
  nftnl_expr_iter_destroy(it);
}

// Chains a rule can continue in: jump/goto immediates and verdict-map elements.
std::vector<std::string> targets_of(const TableObj& t, const RuleObj& r) {
  std::vector<std::string> out;
  for_each_expr(r, [&](nftnl_expr* e) {
    const char* n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    if (!std::strcmp(n, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)) out.push_back(nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
    if (!std::strcmp(n, "lookup") && nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
      if (const SetObj* s = t.set(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET)))
        for (const auto& el : s->elems)
          if (nftnl_set_elem_is_set(el.elem.get(), NFTNL_SET_ELEM_CHAIN))
            out.push_back(nftnl_set_elem_get_str(el.elem.get(), NFTNL_SET_ELEM_CHAIN));
    }
  });
  return out;
}

std::optional<ir::Hook> inet_hook(uint32_t n) {
  switch (n) {
    case NF_INET_PRE_ROUTING: return ir::Hook::Prerouting;
    case NF_INET_LOCAL_IN: return ir::Hook::Input;
    case NF_INET_FORWARD: return ir::Hook::Forward;
    case NF_INET_LOCAL_OUT: return ir::Hook::Output;
    case NF_INET_POST_ROUTING: return ir::Hook::Postrouting;
  }
  return std::nullopt;
}

}  // namespace

std::string describe_rule(const ChainObj& chain, const RuleObj& rule) {
  std::string s = "chain " + chain.name + " handle " + std::to_string(rule.handle) + ":";
  for_each_expr(rule, [&](nftnl_expr* e) {
    char buf[1024];
    buf[0] = 0;
    nftnl_expr_snprintf(buf, sizeof buf, e, NFTNL_OUTPUT_DEFAULT, 0);
    std::string body = buf;
    while (!body.empty() && body.back() == ' ') body.pop_back();
    s += " [ " + std::string(nftnl_expr_get_str(e, NFTNL_EXPR_NAME)) + " " + body + " ]";
  });
  return s;
}

Result<std::vector<ir::SetElement>> set_elements(const SetObj& set) { return lower::ir_elements(set); }

Result<std::vector<ir::SetElement>> set_elements(const SetObj& set, std::span<const ElemObj* const> elems) {
  if (set.flags & NFT_SET_INTERVAL)
    return make_error(EINVAL, "set " + set.name + ": interval elements convert only as a whole set");
  std::vector<ir::SetElement> out;
  out.reserve(elems.size());
  for (const ElemObj* e : elems) {
    uint32_t len = 0;
    auto* k = static_cast<const uint8_t*>(nftnl_set_elem_get(e->elem.get(), NFTNL_SET_ELEM_KEY, &len));
    if (!k) return make_error(EINVAL, "set " + set.name + ": element without a key");
    out.push_back({std::vector<uint8_t>(k, k + len), {}});
  }
  return out;
}

Result<LoweredTable> lower_table(const Store& store, uint8_t family, const std::string& name) {
  return lower_table(store, family, name, nullptr);
}

Result<LoweredTable> lower_table(const Store& store, uint8_t family, const std::string& name,
                                 std::vector<Refusal>* refusals_out, LowerCache* cache) {
  const TableObj* t = store.table(family, name);
  if (!t) return make_error(ENOENT, "no table " + name);
  LoweredTable lt;
  lt.table.name = name;
  std::vector<Refusal> refusals;
  auto table_refusal = [&](std::string chain, std::string why) { refusals.push_back({std::move(chain), 0, std::move(why)}); };
  switch (family) {
    case NFPROTO_IPV4: lt.table.family = ir::Family::Ipv4; break;
    case NFPROTO_IPV6: lt.table.family = ir::Family::Ipv6; break;
    case NFPROTO_INET: lt.table.family = ir::Family::Inet; break;
    case NFPROTO_NETDEV:
      table_refusal("", "netdev tables are not lowered yet ('meta protocol' and VLAN handling at TCX differ from the IR's NfProto)");
      break;
    default: table_refusal("", "family " + std::to_string(family) + " (arp/bridge) has no IR equivalent");
  }
  if (t->flags & NFT_TABLE_F_DORMANT) table_refusal("", "dormant table");

  TableCtx tc{*t, family, lt.table, lt, {}, {}, 0};
  // Chains and their placement.
  for (const ChainObj& c : t->chains) {
    ir::Chain ic;
    ic.name = c.name;
    if (c.base()) {
      if (c.type == "nat") table_refusal(c.name, "chain " + c.name + " is a nat chain: NAT stays in the kernel's nf_tables");
      else if (c.type != "filter" && c.type != "route") table_refusal(c.name, "chain type " + c.type);
      if (c.flags & NFT_CHAIN_HW_OFFLOAD) table_refusal(c.name, "hardware-offloaded chain");
      auto h = inet_hook(c.hook->hooknum);
      if (!h || family == NFPROTO_NETDEV) table_refusal(c.name, "hook " + std::to_string(c.hook->hooknum) + " of chain " + c.name);
      ir::BaseChain b;
      b.hook = h.value_or(ir::Hook::Input);
      b.priority = c.hook->priority;
      b.policy = c.policy && *c.policy == NF_DROP ? ir::Policy::Drop : ir::Policy::Accept;
      b.devices = c.hook->devices;
      ic.base = b;
      if (h) tc.hooks_of[c.name].insert(*h);
    }
    lt.table.chains.push_back(std::move(ic));
  }
  // Reachability: hooks flow along jumps, gotos and verdict-map targets.
  std::deque<std::string> work;
  for (const auto& [c, _] : tc.hooks_of) work.push_back(c);
  while (!work.empty()) {
    std::string c = work.front();
    work.pop_front();
    const ChainObj* co = t->chain(c);
    if (!co) continue;
    for (const RuleObj& r : co->rules)
      for (const std::string& to : targets_of(*t, r)) {
        auto& dst = tc.hooks_of[to];
        size_t before = dst.size();
        for (ir::Hook h : tc.hooks_of[c]) dst.insert(h);
        if (dst.size() != before) work.push_back(to);
      }
  }

  if (cache && (cache->family != family || cache->table != name || !cache->source)) cache->entries.clear();
  LowerCache next;
  if (refusals.empty()) {
    for (size_t ci = 0; ci < t->chains.size(); ++ci) {
      const ChainObj& c = t->chains[ci];
      ir::Chain& ic = lt.table.chains[ci];
      const std::set<ir::Hook>& hooks = tc.hooks_of[c.name];
      ic.rules.reserve(c.rules.size());
      for (const RuleObj& r : c.rules) {
        // Rules referring to named sets are lowered again every time (see LowerCache); an anonymous set
        // cannot change while a rule is bound to it, so it is part of the rule.
        bool cacheable = cache && std::all_of(r.bound_sets.begin(), r.bound_sets.end(), [&](const std::string& n) {
                           const SetObj* so = t->set(n);
                           return so && so->anonymous();
                         });
        LowerCache::Entry e;
        bool hit = false;
        if (cacheable) {
          auto it = cache->entries.find(r.exprs.get());
          if (it != cache->entries.end()) {
            const LowerCache::Entry& old = it->second;
            auto& src = cache->source->table.chains;
            hit = old.chain == c.name && old.handle == r.handle && old.hooks == hooks && old.chain_index < src.size() &&
                  src[old.chain_index].name == c.name && old.first + old.count <= src[old.chain_index].rules.size();
            if (hit) {
              auto& from = src[old.chain_index].rules;
              e = std::move(it->second);
              e.chain_index = ci;
              e.first = ic.rules.size();
              ic.rules.insert(ic.rules.end(), std::make_move_iterator(from.begin() + old.first),
                              std::make_move_iterator(from.begin() + old.first + old.count));
              cache->entries.erase(it);
            }
          }
        }
        if (!hit) {
          std::string origin = describe_rule(c, r);
          RuleLowerer rl(tc, c, r, origin);
          size_t ir_sets = lt.table.sets.size();
          try {
            rl.run();
          } catch (const Refuse& why) {
            refusals.push_back({c.name, r.handle, why.reason});
            continue;
          }
          // A rule whose lookups made IR sets shares them with the table: lowered again every time.
          if (lt.table.sets.size() != ir_sets) cacheable = false;
          e = LowerCache::Entry{r.exprs, c.name, r.handle, hooks, ci, ic.rules.size(), rl.rules().size(),
                                rl.counter_rules(), rl.objref_counters()};
          ic.rules.insert(ic.rules.end(), std::make_move_iterator(rl.rules().begin()),
                          std::make_move_iterator(rl.rules().end()));
        }
        auto& idx = lt.rules[{c.name, r.handle}];
        int32_t base = static_cast<int32_t>(e.first);
        for (size_t i = 0; i < e.count; ++i) idx.push_back(base + static_cast<int32_t>(i));
        for (const auto& [expr, i] : e.counter_rules) lt.counters[{c.name, r.handle, expr}] = {c.name, base + static_cast<int32_t>(i)};
        for (const auto& [obj, i] : e.objref_counters) lt.named_counters[obj].push_back({c.name, base + static_cast<int32_t>(i)});
        if (cacheable) next.entries.emplace(r.exprs.get(), std::move(e));
      }
    }
  }
  if (cache) {
    next.family = family;
    next.table = name;
    next.source = nullptr;  // the caller points it at the result if it keeps it
    *cache = std::move(next);
  }

  if (refusals_out) *refusals_out = refusals;
  if (!refusals.empty()) {
    std::string msg = "table " + name + " is not lowered:";
    for (const auto& r : refusals) {
      msg += "\n  ";
      if (r.handle) msg += "rule handle " + std::to_string(r.handle) + " in chain " + r.chain + ": ";
      msg += r.reason;
    }
    return make_error(EOPNOTSUPP, msg);
  }
  return lt;
}

}  // namespace nfjit::nft
