#include "daemon/netlink_ruleset.h"

#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <time.h>

#include <cstring>
#include <set>

#include "daemon/reject_status.h"
#include "daemon/log.h"
#include "frontend/nftables/nft_abi.h"

namespace nfjit::daemon {
namespace {

// Milliseconds since the last lap (for the --debug timings).
class Stopwatch {
 public:
  double lap() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (now.tv_sec - last_.tv_sec) * 1e3 + (now.tv_nsec - last_.tv_nsec) / 1e6;
    last_ = now;
    return ms;
  }
  Stopwatch() { lap(); }

 private:
  timespec last_{};
};

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
  server_.on_dump_begin([this] { forget_counter_reads(); });
}

std::string NftRuleset::key_for(uint8_t family, const std::string& table) {
  return std::string("nft-") + family_name(family) + "-" + table;
}

std::optional<nft::CommitRefusal> NftRuleset::gate(const nft::Store& before, const nft::Store& after,
                                                   const std::vector<nft::BatchMsg>& msgs) {
  struct Changed {
    const std::function<void()>& f;
    ~Changed() {
      if (f) f();
    }
  } changed{on_change_};
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
    // What the batch changed, from the set's own record of it: O(changes), whatever the set's size.
    std::vector<const nft::ElemObj*> added, removed;
    if (!sa->elems.diff(sb->elems, added, removed)) return false;
    auto add = nft::set_elements(*sa, added);
    auto del = nft::set_elements(*sb, removed);
    if (!add || !del) return false;
    for (const auto& ir_name : ir_names->second) {
      const ir::Set* irs = nullptr;
      for (const auto& s : lowered.table.sets)
        if (s.name == ir_name) irs = &s;
      if (!irs) return false;
      if (auto ok = engine_.update_set(key, *irs, *add, *del); !ok) {
        logf(LOG_ERR, "nft table %s: live update of set %s failed (%s); reloading the table",
             label(id.first, id.second).c_str(), name.c_str(), ok.error().message.c_str());
        return false;
      }
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
    lower_cache_.erase(id);
    return std::nullopt;
  }
  Stopwatch clock;
  if (update_sets_live(before, after, id, msgs)) {
    logf(LOG_DEBUG, "nft table %s: live set update in %.2f ms", label(family, name).c_str(), clock.lap());
    return std::nullopt;
  }

  // What the table counted so far, for a kernel copy or a first BPF program to start from. A BPF table
  // replaced by BPF needs none (the install returns the old program's exact totals), so it is read
  // only when needed: at 10,000 rules it is 10,000 map lookups.
  std::optional<Snapshot> snap;
  auto counts = [&]() -> const Snapshot& {
    if (!snap) snap = snapshot(before, id);
    return *snap;
  };
  if (!had_bpf) counts();
  double snapshot_ms = clock.lap();
  std::vector<nft::Refusal> refusals;
  std::string reason;
  // The IR of unchanged rules comes from the running table's lowering (moved out of it: from here on
  // only its counter and set maps are used); the cache is kept only if the new result is.
  nft::LowerCache& cache = lower_cache_[id];
  cache.source = had_bpf ? &old->second.lowered : nullptr;
  auto lowered = lower_ ? lower_(after, family, name, &refusals, &cache)
                        : Result<nft::LoweredTable>(make_error(EOPNOTSUPP, ""));
  cache.source = nullptr;
  bool kept = false;
  struct DropCacheUnlessKept {
    nft::LowerCache& cache;
    bool& kept;
    ~DropCacheUnlessKept() {
      if (!kept) cache.entries.clear();
    }
  } drop_cache{cache, kept};
  double lower_ms = clock.lap();
  if (!lower_) {
    reason = "nf_tables lowering is not available in this nfjitd";
  } else if (!lowered) {
    reason = lowered.error().message;
  } else if (auto prev = install_bpf(id, *t, lowered->table, had_kernel, had_kernel ? counts() : Snapshot{}); !prev) {
    reason = "BPF install failed: " + prev.error().message;
  } else {
    double install_ms = clock.lap();
    TableState st;
    st.where = Where::kBpf;
    st.lowered = std::move(*lowered);
    // The elements live in the BPF maps now; the kept IR only names the sets and their keys.
    for (auto& s : st.lowered.table.sets) std::vector<ir::SetElement>().swap(s.elements);
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
      } else if (auto c = counts().find(k); c != counts().end()) {
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
    kept = true;
    logf(LOG_DEBUG, "nft table %s: counters %.2f ms, lowered in %.2f ms, installed in %.2f ms, rest %.2f ms",
         label(family, name).c_str(), snapshot_ms, lower_ms, install_ms, clock.lap());
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
  const Snapshot& so_far = counts();
  nft::CounterSource from_snapshot = [&so_far](const nft::CounterKey& k) -> std::optional<nft::CounterValue> {
    auto c = so_far.find({k.chain, k.rule_handle, k.expr_index});
    if (c == so_far.end()) return nft::CounterValue{};
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
  forget_counter_reads();
  logf(LOG_DEBUG, "nft table %s: counters %.2f ms, lowering %.2f ms, kernel copy %.2f ms", label(family, name).c_str(),
       snapshot_ms, lower_ms, clock.lap());
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
  forget_counter_reads();  // fresh values, and positions of `s` (the listing's store may differ)
  for_each_counter(*t, [&](const nft::ChainObj& c, size_t, const nft::RuleObj& r, uint32_t idx) {
    if (auto v = counter(s, nft::CounterKey{id.first, id.second, c.name, r.handle, idx}, true))
      out[{c.name, r.handle, idx}] = *v;
  });
  forget_counter_reads();
  return out;
}

void NftRuleset::forget_counter_reads() const {
  kernel_cache_.clear();
  bpf_cache_.clear();
  position_cache_.clear();
}

std::optional<nft::CounterValue> NftRuleset::counter(const nft::Store& s, const nft::CounterKey& k, bool) const {
  TableId id{k.family, k.table};
  auto it = tables_.find(id);
  if (it == tables_.end()) return std::nullopt;
  const TableState& st = it->second;
  if (st.where == Where::kKernel) {
    // The kernel's rules are ours replayed in order: the same chain and position.
    auto positions = position_cache_.find(id);
    if (positions == position_cache_.end()) {
      positions = position_cache_.emplace(id, std::map<std::pair<std::string, uint64_t>, size_t>{}).first;
      if (const nft::TableObj* t = s.table(k.family, k.table))
        for (const auto& c : t->chains)
          for (size_t i = 0; i < c.rules.size(); ++i) positions->second[{c.name, c.rules[i].handle}] = i;
    }
    auto p = positions->second.find({k.chain, k.rule_handle});
    if (p == positions->second.end()) return std::nullopt;
    size_t pos = p->second;
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
  auto totals = bpf_cache_.find(id);
  if (totals == bpf_cache_.end()) {
    auto fresh = engine_.counters(key_for(k.family, k.table));
    if (!fresh) return v;
    totals = bpf_cache_.emplace(id, std::move(*fresh)).first;
  }
  auto c = totals->second.find(ref->second);
  if (c != totals->second.end()) v = v + nft::CounterValue{c->second.packets, c->second.bytes};
  return v;
}

std::string NftRuleset::status() const {
  std::string out;
  for (const auto& [id, st] : tables_) {
    ir::Family fam = id.first == NFPROTO_IPV4 ? ir::Family::Ipv4
                     : id.first == NFPROTO_IPV6 ? ir::Family::Ipv6
                     : id.first == NFPROTO_INET ? ir::Family::Inet
                                                : ir::Family::Netdev;
    out += "nf_tables " + label(id.first, id.second) + ": " + st.why +
           RejectStatus::instance().describe(fam, id.second, st.where == Where::kBpf) + "\n";
  }
  return out;
}

}  // namespace nfjit::daemon
