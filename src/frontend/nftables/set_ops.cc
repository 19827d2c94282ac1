// NEWSET / DELSET / DESTROYSET, after nf_tables_newset() and nf_tables_delset(), including the
// anonymous-set name allocation ("__set%d" -> the lowest free number in the table).
#include <cstdio>
#include <cstring>
#include <set>

#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {

constexpr uint16_t kNotifyFlags = NLM_F_CREATE | NLM_F_EXCL;
constexpr uint32_t kSetFlags = NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL | NFT_SET_TIMEOUT |
                               NFT_SET_MAP | NFT_SET_EVAL | NFT_SET_OBJECT | NFT_SET_CONCAT | NFT_SET_EXPR;

// nf_tables_set_alloc_name(): "%d" names take the lowest number no set of the table uses.
Status alloc_name(TableObj& t, const std::string& pattern, std::string& out, const nlattr* attr) {
  size_t p = pattern.find('%');
  if (p == std::string::npos) {
    out = pattern;
    return std::nullopt;
  }
  if (p + 1 >= pattern.size() || pattern[p + 1] != 'd' || pattern.find('%', p + 2) != std::string::npos ||
      pattern.size() >= 16 /* NFT_SET_MAX_ANONLEN */)
    return nl_error(EINVAL, attr);
  int n = t.lowest_free_set_number(pattern);
  char buf[kNameMaxLen];
  std::snprintf(buf, sizeof buf, pattern.c_str(), n);
  out = buf;
  return std::nullopt;
}

// The properties that must match when NEWSET names an existing set (nft_set_is_same()).
bool same_set(const SetObj& s, uint32_t flags, nftnl_set* n) {
  auto get = [](nftnl_set* x, uint16_t a) { return nftnl_set_is_set(x, a) ? nftnl_set_get_u32(x, a) : 0; };
  return s.flags == flags && get(s.attrs.get(), NFTNL_SET_KEY_TYPE) == get(n, NFTNL_SET_KEY_TYPE) &&
         get(s.attrs.get(), NFTNL_SET_KEY_LEN) == get(n, NFTNL_SET_KEY_LEN) &&
         get(s.attrs.get(), NFTNL_SET_DATA_TYPE) == get(n, NFTNL_SET_DATA_TYPE) &&
         get(s.attrs.get(), NFTNL_SET_DATA_LEN) == get(n, NFTNL_SET_DATA_LEN) &&
         get(s.attrs.get(), NFTNL_SET_OBJ_TYPE) == get(n, NFTNL_SET_OBJ_TYPE);
}

void notify_set(Transaction& tx, const Transaction::Msg& m, uint16_t type, const TableObj& t,
                const SetObj& s) {
  tx.notify(m, type, kNotifyFlags, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_set(w, ty, h, t, s); });
}

}  // namespace

void remove_set(Transaction& tx, const Transaction::Msg& m, TableObj& t, size_t index) {
  notify_set(tx, m, NFT_MSG_DELSET, t, t.sets[index]);
  t.erase_sets({t.sets[index].name});
  tx.mark_changed();
}

void notify_set_removal(Transaction& tx, const Transaction::Msg& m, const TableObj& t, const SetObj& s) {
  notify_set(tx, m, NFT_MSG_DELSET, t, s);
  tx.mark_changed();
}

Status new_set(Transaction& tx, const Transaction::Msg& m) {
  const auto& a = m.a;
  if (!a[NFTA_SET_TABLE] || !a[NFTA_SET_NAME] || !a[NFTA_SET_KEY_LEN] || !a[NFTA_SET_ID])
    return nl_error(EINVAL);
  uint32_t klen = attr_be32(a[NFTA_SET_KEY_LEN]);
  if (klen == 0 || klen > NFT_DATA_VALUE_MAXLEN) return nl_error(EINVAL, a[NFTA_SET_KEY_LEN]);
  uint32_t flags = a[NFTA_SET_FLAGS] ? attr_be32(a[NFTA_SET_FLAGS]) : 0;
  if (flags & ~kSetFlags) return nl_error(EOPNOTSUPP);
  auto both = [&](uint32_t x) { return (flags & x) == x; };
  if (both(NFT_SET_MAP | NFT_SET_OBJECT) || both(NFT_SET_EVAL | NFT_SET_OBJECT) ||
      (flags & (NFT_SET_ANONYMOUS | NFT_SET_TIMEOUT | NFT_SET_EVAL)) == (NFT_SET_ANONYMOUS | NFT_SET_TIMEOUT) ||
      both(NFT_SET_CONSTANT | NFT_SET_TIMEOUT))
    return nl_error(EOPNOTSUPP);
  if (const nlattr* dt = a[NFTA_SET_DATA_TYPE]) {
    if (!(flags & NFT_SET_MAP)) return nl_error(EINVAL);
    uint32_t dtype = attr_be32(dt);
    if ((dtype & NFT_DATA_RESERVED_MASK) == NFT_DATA_RESERVED_MASK && dtype != NFT_DATA_VERDICT)
      return nl_error(EINVAL);
    if (dtype != NFT_DATA_VERDICT) {
      if (!a[NFTA_SET_DATA_LEN]) return nl_error(EINVAL);
      uint32_t dlen = attr_be32(a[NFTA_SET_DATA_LEN]);
      if (dlen == 0 || dlen > NFT_DATA_VALUE_MAXLEN) return nl_error(EINVAL);
    }
  } else if (flags & NFT_SET_MAP) {
    return nl_error(EINVAL);
  }
  if (const nlattr* ot = a[NFTA_SET_OBJ_TYPE]) {
    if (!(flags & NFT_SET_OBJECT)) return nl_error(EINVAL);
    uint32_t objtype = attr_be32(ot);
    if (objtype == NFT_OBJECT_UNSPEC || objtype > NFT_OBJECT_MAX) return nl_error(EOPNOTSUPP);
  } else if (flags & NFT_SET_OBJECT) {
    return nl_error(EINVAL);
  }
  if ((a[NFTA_SET_TIMEOUT] || a[NFTA_SET_GC_INTERVAL]) && !(flags & NFT_SET_TIMEOUT))
    return nl_error(EOPNOTSUPP);

  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_SET_TABLE, t)) return e;
  NftnlSet parsed = make_set();
  if (nftnl_set_nlmsg_parse(m.nlh, parsed.get()) < 0) return nl_error(EINVAL);
  std::string name = attr_str(a[NFTA_SET_NAME]);
  if (mnl_attr_get_payload_len(a[NFTA_SET_NAME]) > kNameMaxLen) return nl_error(ERANGE, a[NFTA_SET_NAME]);

  if (SetObj* s = t->set(name)) {
    if (m.flags() & NLM_F_EXCL) return nl_error(EEXIST, a[NFTA_SET_NAME]);
    if (m.flags() & NLM_F_REPLACE) return nl_error(EOPNOTSUPP);
    if (s->anonymous()) return nl_error(EOPNOTSUPP);
    if (!same_set(*s, flags, parsed.get())) return nl_error(EEXIST);
    tx.set_ids[{t->name, attr_be32(a[NFTA_SET_ID])}] = s->name;
    return std::nullopt;
  }
  if (!(m.flags() & NLM_F_CREATE)) return nl_error(ENOENT);

  SetObj s;
  if (auto e = alloc_name(*t, name, s.name, a[NFTA_SET_NAME])) return e;
  s.flags = flags;
  for (uint16_t attr : {NFTNL_SET_TABLE, NFTNL_SET_NAME, NFTNL_SET_HANDLE, NFTNL_SET_ID, NFTNL_SET_FLAGS})
    nftnl_set_unset(parsed.get(), attr);
  s.attrs = std::move(parsed);
  s.handle = t->alloc_handle();
  tx.set_ids[{t->name, attr_be32(a[NFTA_SET_ID])}] = s.name;
  SetObj& added = t->add_set(std::move(s));
  tx.mark_changed();
  notify_set(tx, m, NFT_MSG_NEWSET, *t, added);
  return std::nullopt;
}

Status del_set(Transaction& tx, const Transaction::Msg& m, bool destroy) {
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_SET_TABLE, t)) return e;
  SetObj* s = nullptr;
  const nlattr* attr = nullptr;
  if ((attr = m.a[NFTA_SET_HANDLE]))
    s = t->set_by_handle(attr_be64(attr));
  else if ((attr = m.a[NFTA_SET_NAME]))
    s = t->set(attr_str(attr));
  else
    return nl_error(EINVAL);
  if (!s) return destroy ? std::nullopt : Status(nl_error(ENOENT, attr));
  if (t->set_use(*s) > 0 || ((m.flags() & NLM_F_NONREC) && !s->elems.empty()))
    return nl_error(EBUSY, attr);
  remove_set(tx, m, *t, s - t->sets.data());
  return std::nullopt;
}

}  // namespace nfjit::nft
