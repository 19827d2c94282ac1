// NEWTABLE / DELTABLE / DESTROYTABLE, after nf_tables_newtable() and nf_tables_deltable().
#include <algorithm>
#include <set>

#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {

constexpr uint16_t kNotifyFlags = NLM_F_CREATE | NLM_F_EXCL;

bool supported_family(uint8_t f) {
  return f == NFPROTO_INET || f == NFPROTO_IPV4 || f == NFPROTO_ARP || f == NFPROTO_NETDEV ||
         f == NFPROTO_BRIDGE || f == NFPROTO_IPV6;
}

void notify_table(Transaction& tx, const Transaction::Msg& m, uint16_t type, const TableObj& t) {
  tx.notify(m, type, kNotifyFlags, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_table(w, ty, h, t); });
}

// nft_flush_table(): rules, sets, flowtables, objects, chains, then the table, each with its event.
void flush_table(Transaction& tx, const Transaction::Msg& m, TableObj& t) {
  for (auto& c : t.chains) remove_all_rules(tx, m, t, c);
  std::set<std::string> named;
  for (size_t i = t.sets.size(); i-- > 0;)
    if (!t.sets[i].anonymous() && named.insert(t.sets[i].name).second) notify_set_removal(tx, m, t, t.sets[i]);
  t.erase_sets(named);
  for (auto& f : t.flowtables)
    tx.notify(m, NFT_MSG_DELFLOWTABLE, 0,
              [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_flowtable(w, ty, h, t, f); });
  for (auto& o : t.objs)
    tx.notify(m, NFT_MSG_DELOBJ, 0, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_obj(w, ty, h, t, o); });
  t.flowtables.clear();
  t.objs.clear();
  for (auto& c : t.chains)
    tx.notify(m, NFT_MSG_DELCHAIN, 0, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_chain(w, ty, h, t, c); });
  t.chains.clear();
  notify_table(tx, m, NFT_MSG_DELTABLE, t);
}

}  // namespace

Status new_table(Transaction& tx, const Transaction::Msg& m) {
  const nlattr* name = m.a[NFTA_TABLE_NAME];
  if (!name) return nl_error(EINVAL);
  if (mnl_attr_get_payload_len(name) > kNameMaxLen) return nl_error(ERANGE, name);
  UniqueTable parsed(nftnl_table_alloc());
  if (nftnl_table_nlmsg_parse(m.nlh, parsed.get()) < 0) return nl_error(EINVAL);
  if (!supported_family(m.family)) return nl_error(EOPNOTSUPP);

  uint32_t flags = 0;
  if (const nlattr* f = m.a[NFTA_TABLE_FLAGS]) {
    flags = attr_be32(f);
    if (flags & ~kTableFlagsMask) return nl_error(EOPNOTSUPP);
  }
  TableObj* t = tx.s().table(m.family, attr_str(name));
  if (t) {
    if (m.flags() & NLM_F_EXCL) return nl_error(EEXIST, name);
    if (m.flags() & NLM_F_REPLACE) return nl_error(EOPNOTSUPP);
    // nf_tables_updtable(): only the dormant flag may change; same flags is a no-op without an event.
    if (!m.a[NFTA_TABLE_FLAGS] || flags == t->flags) return std::nullopt;
    if ((flags ^ t->flags) & (NFT_TABLE_F_OWNER | kTableFPersist)) return nl_error(EOPNOTSUPP);
    t->flags = flags;
    tx.mark_changed();
    notify_table(tx, m, NFT_MSG_NEWTABLE, *t);
    return std::nullopt;
  }
  TableObj nt;
  nt.family = m.family;
  nt.name = attr_str(name);
  nt.flags = flags;
  if (const nlattr* ud = m.a[NFTA_TABLE_USERDATA]) {
    if (mnl_attr_get_payload_len(ud) > kUserdataMaxLen) return nl_error(ERANGE, ud);
    auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(ud));
    nt.userdata.assign(p, p + mnl_attr_get_payload_len(ud));
  }
  nt.handle = tx.s().next_table_handle++;
  tx.s().tables.push_back(std::move(nt));
  tx.mark_changed();
  notify_table(tx, m, NFT_MSG_NEWTABLE, tx.s().tables.back());
  return std::nullopt;
}

Status del_table(Transaction& tx, const Transaction::Msg& m, bool destroy) {
  const nlattr* name = m.a[NFTA_TABLE_NAME];
  const nlattr* handle = m.a[NFTA_TABLE_HANDLE];
  auto& tables = tx.s().tables;
  if (m.family == NFPROTO_UNSPEC || (!name && !handle)) {
    // nft_flush(): every table of the family (all families for AF_UNSPEC), or those matching the name.
    for (size_t i = 0; i < tables.size();) {
      TableObj& t = tables[i];
      if ((m.family != NFPROTO_UNSPEC && t.family != m.family) || (name && t.name != attr_str(name))) {
        ++i;
        continue;
      }
      flush_table(tx, m, t);
      tables.erase(tables.begin() + i);
      tx.mark_changed();
    }
    return std::nullopt;
  }
  TableObj* t = handle ? tx.s().table_by_handle(m.family, attr_be64(handle))
                       : tx.s().table(m.family, attr_str(name));
  if (!t) return destroy ? std::nullopt : Status(nl_error(ENOENT, handle ? handle : name));
  if ((m.flags() & NLM_F_NONREC) && t->table_use() > 0) return nl_error(EBUSY);
  flush_table(tx, m, *t);
  tables.erase(tables.begin() + (t - tables.data()));
  tx.mark_changed();
  return std::nullopt;
}

}  // namespace nfjit::nft
