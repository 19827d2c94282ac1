#include "daemon/netlink_ruleset.h"

#include <linux/netfilter.h>

#include <set>

#include "daemon/log.h"

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

}  // namespace

NftRuleset::NftRuleset(nft::NftServer& server, runtime::Engine& engine, NftLowerFn lower)
    : server_(server), engine_(engine), lower_(std::move(lower)) {
  server_.on_ruleset_changed([this](const nft::Store& s) { on_changed(s); });
  server_.set_counter_source([this](const nft::CounterKey& k) { return counter(k); });
}

std::string NftRuleset::key_for(uint8_t family, const std::string& table) {
  return std::string("nft-") + family_name(family) + "-" + table;
}

void NftRuleset::on_changed(const nft::Store& store) {
  std::set<std::string> present;
  for (const auto& t : store.tables) {
    std::string key = key_for(t.family, t.name);
    present.insert(key);
    TableState st;
    std::string label = std::string(family_name(t.family)) + " " + t.name;
    if (!lower_) {
      st.why = "NOT ENFORCED: nf_tables lowering is not available in this nfjitd; the table is only listed";
    } else {
      std::vector<nft::Refusal> refusals;
      auto lowered = lower_(store, t.family, t.name, &refusals);
      if (!lowered) {
        st.why = "NOT ENFORCED: " + lowered.error().message;
      } else if (auto ok = engine_.install(key, lowered->table); !ok) {
        st.why = "NOT ENFORCED: " + ok.error().message;
      } else {
        st.enforced = true;
        st.why = "BPF (" + key + ")";
        st.lowered = std::move(*lowered);
      }
    }
    if (!st.enforced) logf(LOG_ERR, "nft table %s: %s", label.c_str(), st.why.c_str());
    tables_[key] = std::move(st);
  }
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.enforced) {
      if (auto ok = engine_.remove(it->first); !ok)
        logf(LOG_ERR, "removing %s: %s", it->first.c_str(), ok.error().message.c_str());
    }
    it = tables_.erase(it);
  }
  // A table that lowered before but not now was installed under its key: take it out rather than
  // leave an old version filtering.
  for (auto& [key, st] : tables_) {
    if (!st.enforced) {
      auto keys = engine_.keys();
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) (void)engine_.remove(key);
    }
  }
}

std::optional<nft::CounterValue> NftRuleset::counter(const nft::CounterKey& k) const {
  auto it = tables_.find(key_for(k.family, k.table));
  if (it == tables_.end() || !it->second.enforced) return std::nullopt;
  auto ref = it->second.lowered.counters.find({k.chain, k.rule_handle, k.expr_index});
  if (ref == it->second.lowered.counters.end()) return std::nullopt;
  auto totals = engine_.counters(it->first);
  if (!totals) return std::nullopt;
  auto v = totals->find(ref->second);
  if (v == totals->end()) return std::nullopt;
  return nft::CounterValue{v->second.packets, v->second.bytes};
}

std::string NftRuleset::status() const {
  std::string out;
  for (const auto& [key, st] : tables_) out += "nf_tables " + key.substr(4) + ": " + st.why + "\n";
  return out;
}

}  // namespace nfjit::daemon
