#include "daemon/netlink_ruleset.h"

#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>
#include <set>

#include "daemon/log.h"
#include "frontend/nftables/nft_abi.h"

namespace nfjit::daemon {
namespace {

const char* family_name(uint8_t f) {
  switch (f) {
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_IPV6: return "ip6";
    case NFPROTO_INET: return "inet";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_BRIDGE: return "bridge";
    case NFPROTO_NETDEV: return "netdev";
    default: return "unknown";
  }
}

std::string label(uint8_t family, const std::string& name) { return std::string(family_name(family)) + " " + name; }

// Calls fn(chain, rule index in chain, rule, expression index) for every counter expression of a table.
template <typename Fn>
void for_each_counter(const nft::TableObj& t, Fn fn) {
  for (const auto& c : t.chains) {
    for (size_t i = 0; i < c.rules.size(); ++i) {
      nftnl_expr_iter* it = nftnl_expr_iter_create(c.rules[i].exprs.get());
      uint32_t idx = 0;
      for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it), ++idx)
        if (std::strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0) fn(c, i, c.rules[i], idx);
      nftnl_expr_iter_destroy(it);
    }
  }
}

bool is_elem_msg(uint16_t type) {
  return type == NFT_MSG_NEWSETELEM || type == NFT_MSG_DELSETELEM || type == nft::kMsgDestroySetElem;
}

nft::CounterValue operator+(nft::CounterValue a, nft::CounterValue b) {
  return {a.packets + b.packets, a.bytes + b.bytes};
}

}  // namespace

NftRuleset::NftRuleset(nft::NftServer& server, runtime::Engine& engine, NftLowerFn lower, KernelNftables& kernel,
                       bool strict)
    : server_(server), engine_(engine), lower_(std::move(lower)), kernel_(kernel), strict_(strict) {
  server_.set_commit_gate([this](const nft::Store& before, const nft::Store& after,
                                 const std::vector<nft::BatchMsg>& msgs) { return gate(before, after, msgs); });
  server_.set_counter_source([this](const nft::CounterKey& k) { return counter(server_.store(), k, false); });
  server_.on_dump_begin([this] { kernel_cache_.clear(); });
}

std::string NftRuleset::key_for(uint8_t family, const std::string& table) {
  return std::string("nft-") + family_name(family) + "-" + table;
}

std::optional<nft::CommitRefusal> NftRuleset::gate(const nft::Store& before, const nft::Store& after,
                                                   const std::vector<nft::BatchMsg>& msgs) {
  // The tables this batch touched; a message naming no table (flush ruleset, delete by handle) may have
  // touched any of them.
  std::set<TableId> touched;
  bool all = false;
  for (const auto& m : msgs) {
    if (m.table) touched.insert({m.family, *m.table});
    else all = true;
  }
  if (all) {
    for (const auto& t : before.tables) touched.insert({t.family, t.name});
    for (const auto& t : after.tables) touched.insert({t.family, t.name});
  }
  std::vector<TableId> done;
  for (const auto& id : touched) {
    if (!before.table(id.first, id.second) && !after.table(id.first, id.second)) continue;
    if (auto refusal = apply(before, after, id, msgs)) {
      logf(LOG_ERR, "nft table %s: batch refused: %s", label(id.first, id.second).c_str(),
           refusal->error.msg.c_str());
      // Put back what this batch already moved, newest first.
      for (auto it = done.rbegin(); it != done.rend(); ++it)
        if (auto undo = apply(after, before, *it, {}))
          logf(LOG_ERR, "nft table %s: could not restore the previous version: %s",
               label(it->first, it->second).c_str(), undo->error.msg.c_str());
      return refusal;
    }
    done.push_back(id);
  }
  return std::nullopt;
}

bool NftRuleset::update_sets_live(const nft::Store& before, const nft::Store& after, const TableId& id,
                                  const std::vector<nft::BatchMsg>& msgs) {
  auto st = tables_.find(id);
  if (st == tables_.end() || st->second.where != Where::kBpf || msgs.empty()) return false;
  std::set<std::string> sets;
  for (const auto& m : msgs) {
    if (!m.table || m.family != id.first || *m.table != id.second) continue;
    if (!is_elem_msg(m.type)) return false;
    if (m.set.empty()) return false;
    sets.insert(m.set);
  }
  if (sets.empty()) return false;
  const nft::TableObj* tb = before.table(id.first, id.second);
  const nft::TableObj* ta = after.table(id.first, id.second);
  if (!tb || !ta) return false;
  std::string key = key_for(id.first, id.second);
  auto& lowered = st->second.lowered;
  for (const auto& name : sets) {
    const nft::SetObj* sb = tb->set(name);
    const nft::SetObj* sa = ta->set(name);
    // Plain sets only: interval elements come in start/end pairs and map elements choose IR rules.
    if (!sb || !sa || sb->flags != sa->flags || (sa->flags & (NFT_SET_INTERVAL | NFT_SET_MAP | NFT_SET_OBJECT)))
      return false;
    auto ir_names = lowered.sets.find(name);
    if (ir_names == lowered.sets.end()) return false;
    std::set<std::vector<uint8_t>> ids_before, ids_after;
    for (const auto& e : sb->elems) ids_before.insert(e.id);
    for (const auto& e : sa->elems) ids_after.insert(e.id);
    nft::SetObj added = *sa, removed = *sb;
    added.elems.clear();
    removed.elems.clear();
    for (const auto& e : sa->elems)
      if (!ids_before.count(e.id)) added.elems.push_back(e);
    for (const auto& e : sb->elems)
      if (!ids_after.count(e.id)) removed.elems.push_back(e);
    auto add = nft::set_elements(added);
    auto del = nft::set_elements(removed);
    if (!add || !del) return false;
    for (const auto& ir_name : ir_names->second) {
      ir::Set* irs = nullptr;
      for (auto& s : lowered.table.sets)
        if (s.name == ir_name) irs = &s;
      if (!irs) return false;
      if (auto ok = engine_.update_set(key, *irs, *add, *del); !ok) {
        logf(LOG_ERR, "nft table %s: live update of set %s failed (%s); reloading the table",
             label(id.first, id.second).c_str(), name.c_str(), ok.error().message.c_str());
        return false;
      }
      auto& els = irs->elements;
      for (const auto& d : *del) std::erase(els, d);
      els.insert(els.end(), add->begin(), add->end());
    }
  }
  return true;
}

std::optional<nft::CommitRefusal> NftRuleset::apply(const nft::Store& before, const nft::Store& after,
                                                    const TableId& id, const std::vector<nft::BatchMsg>& msgs) {
  const auto& [family, name] = id;
  std::string key = key_for(family, name);
  const nft::TableObj* t = after.table(family, name);
  auto old = tables_.find(id);
  bool had_bpf = old != tables_.end() && old->second.where == Where::kBpf;
  bool had_kernel = old != tables_.end() && old->second.where == Where::kKernel;
  // The message a refusal is reported on: the last one of the batch about this table.
  const nlmsghdr* last_msg = nullptr;
  for (const auto& m : msgs)
    if (!m.table || (m.family == family && *m.table == name)) last_msg = m.nlh;
  auto refuse = [&](int err, std::string msg, const nlmsghdr* at) {
    return nft::CommitRefusal{nft::nl_error(err, nullptr, std::move(msg)), at ? at : last_msg};
  };

  if (!t) {
    if (had_kernel) {
      if (auto ok = kernel_.replace(family, name, true, nullptr, {}); !ok)
        return refuse(ok.error().err, ok.error().message, nullptr);
    }
    if (had_bpf) {
      if (auto ok = engine_.remove(key); !ok)
        logf(LOG_ERR, "removing %s: %s", key.c_str(), ok.error().message.c_str());
    }
    if (old != tables_.end()) tables_.erase(old);
    return std::nullopt;
  }
  if (update_sets_live(before, after, id, msgs)) return std::nullopt;

  Snapshot counts = snapshot(before, id);
  std::vector<nft::Refusal> refusals;
  std::string reason;
  if (!lower_) {
    reason = "nf_tables lowering is not available in this nfjitd";
  } else if (auto lowered = lower_(after, family, name, &refusals); !lowered) {
    reason = lowered.error().message;
  } else if (auto prev = install_bpf(id, *t, lowered->table, had_kernel, counts); !prev) {
    reason = "BPF install failed: " + prev.error().message;
  } else {
    TableState st;
    st.where = Where::kBpf;
    st.lowered = std::move(*lowered);
    for (const auto& [k, ref] : st.lowered.counters) {
      nft::CounterValue v{};
      if (had_bpf) {
        // Exact carry-over: what the replaced program counted, read after the swap.
        auto b = old->second.base.find(k);
        if (b != old->second.base.end()) v = b->second;
        auto oref = old->second.lowered.counters.find(k);
        if (oref != old->second.lowered.counters.end()) {
          auto c = prev->find(oref->second);
          if (c != prev->end()) v = v + nft::CounterValue{c->second.packets, c->second.bytes};
        }
      } else if (auto c = counts.find(k); c != counts.end()) {
        v = c->second;
      }
      if (v.packets || v.bytes) st.base[k] = v;
    }
    if (had_kernel) {
      // BPF filters already; only now does the kernel's copy go.
      if (auto ok = kernel_.replace(family, name, true, nullptr, {}); !ok) {
        (void)engine_.remove(key);
        return refuse(ok.error().err, ok.error().message, nullptr);
      }
    }
    std::string points;
    for (const auto& p : engine_.attachment_names(key)) points += (points.empty() ? "" : ", ") + p;
    st.why = "BPF (" + points + ")";
    tables_[id] = std::move(st);
    return std::nullopt;
  }

  if (strict_) {
    // Report it on the message that brought the first refused rule, as the kernel reports a bad rule.
    const nlmsghdr* at = nullptr;
    if (!refusals.empty())
      for (const auto& m : msgs)
        if (m.type == NFT_MSG_NEWRULE && m.table && *m.table == name && m.family == family &&
            m.chain == refusals.front().chain && m.rule_handle == refusals.front().handle)
          at = m.nlh;
    return refuse(EOPNOTSUPP, "nfjit --strict refuses table " + label(family, name) + ": " + reason, at);
  }
  // Into the kernel's nf_tables, counters continuing from where they were.
  nft::CounterSource from_snapshot = [&counts](const nft::CounterKey& k) -> std::optional<nft::CounterValue> {
    auto c = counts.find({k.chain, k.rule_handle, k.expr_index});
    if (c == counts.end()) return nft::CounterValue{};
    return c->second;
  };
  if (auto ok = kernel_.replace(family, name, had_kernel, t, from_snapshot); !ok)
    return refuse(ok.error().err, ok.error().message, nullptr);
  if (had_bpf) {
    if (auto ok = engine_.remove(key); !ok) logf(LOG_ERR, "removing %s: %s", key.c_str(), ok.error().message.c_str());
  }
  TableState st;
  st.where = Where::kKernel;
  st.why = "kernel nf_tables (" + reason + ")";
  logf(LOG_INFO, "nft table %s runs in the kernel's nf_tables: %s", label(family, name).c_str(), reason.c_str());
  tables_[id] = std::move(st);
  kernel_cache_.erase(id);
  return std::nullopt;
}

Result<runtime::CounterTotals> NftRuleset::install_bpf(const TableId& id, const nft::TableObj& t,
                                                       const ir::Table& table, bool had_kernel,
                                                       const Snapshot& counts) {
  std::string key = key_for(id.first, id.second);
  auto r = engine_.install(key, table);
  if (r || !had_kernel || r.error().err != EBUSY) return r;
  // The kernel refuses a BPF hook at a priority another hook holds, and the kernel's copy of this very
  // table holds it. Hand over without a gap: move the kernel copy one priority later (one batch), attach
  // BPF at the real priorities, and the caller deletes the kernel copy. Meanwhile both filter alike.
  nft::TableObj shifted = t;
  for (auto& c : shifted.chains)
    if (c.hook) c.hook->priority += 1;
  nft::CounterSource from_snapshot = [&counts](const nft::CounterKey& k) -> std::optional<nft::CounterValue> {
    auto c = counts.find({k.chain, k.rule_handle, k.expr_index});
    return c == counts.end() ? nft::CounterValue{} : c->second;
  };
  if (auto ok = kernel_.replace(id.first, id.second, true, &shifted, from_snapshot); !ok) return r;
  auto again = engine_.install(key, table);
  if (!again) {
    // Still no room: the kernel keeps the table at its real priorities.
    if (auto ok = kernel_.replace(id.first, id.second, true, &t, from_snapshot); !ok)
      logf(LOG_ERR, "nft table %s: restoring the kernel copy's priorities: %s", label(id.first, id.second).c_str(),
           ok.error().message.c_str());
  }
  return again;
}

NftRuleset::Snapshot NftRuleset::snapshot(const nft::Store& s, const TableId& id) {
  Snapshot out;
  const nft::TableObj* t = s.table(id.first, id.second);
  if (!t || !tables_.count(id)) return out;
  kernel_cache_.erase(id);  // fresh values
  for_each_counter(*t, [&](const nft::ChainObj& c, size_t, const nft::RuleObj& r, uint32_t idx) {
    if (auto v = counter(s, nft::CounterKey{id.first, id.second, c.name, r.handle, idx}, true))
      out[{c.name, r.handle, idx}] = *v;
  });
  return out;
}

std::optional<nft::CounterValue> NftRuleset::counter(const nft::Store& s, const nft::CounterKey& k, bool) const {
  TableId id{k.family, k.table};
  auto it = tables_.find(id);
  if (it == tables_.end()) return std::nullopt;
  const TableState& st = it->second;
  if (st.where == Where::kKernel) {
    // The kernel's rules are ours replayed in order: the same chain and position.
    const nft::TableObj* t = s.table(k.family, k.table);
    const nft::ChainObj* c = t ? t->chain(k.chain) : nullptr;
    if (!c) return std::nullopt;
    size_t pos = 0;
    while (pos < c->rules.size() && c->rules[pos].handle != k.rule_handle) ++pos;
    if (pos == c->rules.size()) return std::nullopt;
    auto cached = kernel_cache_.find(id);
    if (cached == kernel_cache_.end()) {
      auto fresh = const_cast<KernelNftables&>(kernel_).counters(k.family, k.table);
      if (!fresh) {
        logf(LOG_ERR, "reading counters of %s from the kernel: %s", label(k.family, k.table).c_str(),
             fresh.error().message.c_str());
        return std::nullopt;
      }
      cached = kernel_cache_.emplace(id, std::move(*fresh)).first;
    }
    auto v = cached->second.find({k.chain, pos, k.expr_index});
    if (v == cached->second.end()) return std::nullopt;
    return v->second;
  }
  ExprKey ek{k.chain, k.rule_handle, k.expr_index};
  nft::CounterValue v{};
  if (auto b = st.base.find(ek); b != st.base.end()) v = b->second;
  auto ref = st.lowered.counters.find(ek);
  if (ref == st.lowered.counters.end()) return v;
  auto totals = engine_.counters(key_for(k.family, k.table));
  if (!totals) return v;
  auto c = totals->find(ref->second);
  if (c != totals->end()) v = v + nft::CounterValue{c->second.packets, c->second.bytes};
  return v;
}

std::string NftRuleset::status() const {
  std::string out;
  for (const auto& [id, st] : tables_) out += "nf_tables " + label(id.first, id.second) + ": " + st.why + "\n";
  return out;
}

}  // namespace nfjit::daemon
