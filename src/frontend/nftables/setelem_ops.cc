// NEWSETELEM / DELSETELEM / DESTROYSETELEM, after nf_tables_newsetelem()/nft_add_set_elem() and
// nf_tables_delsetelem(). Elements are kept in insertion order; identity is key (+ interval-end flag,
// + key_end).

#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {

constexpr uint16_t kNotifyFlags = NLM_F_CREATE | NLM_F_EXCL;

std::vector<uint8_t> elem_bytes(nftnl_set_elem* e, uint16_t attr) {
  if (!nftnl_set_elem_is_set(e, attr)) return {};
  uint32_t len = 0;
  auto* p = static_cast<const uint8_t*>(nftnl_set_elem_get(e, attr, &len));
  return {p, p + len};
}

std::string identity(nftnl_set_elem* e) {
  auto bytes = [e](uint16_t attr) {
    uint32_t len = 0;
    const char* p = nftnl_set_elem_is_set(e, attr) ? static_cast<const char*>(nftnl_set_elem_get(e, attr, &len)) : nullptr;
    return p ? std::string(p, len) : std::string();
  };
  std::string id = bytes(NFTNL_SET_ELEM_KEY);
  uint32_t flags = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;
  id.push_back((flags & NFT_SET_ELEM_INTERVAL_END) ? 1 : 0);
  id += bytes(NFTNL_SET_ELEM_KEY_END);
  return id;
}

// Same data/verdict/object as an existing element?
bool same_payload(nftnl_set_elem* a, nftnl_set_elem* b) {
  for (uint16_t attr : {NFTNL_SET_ELEM_DATA, NFTNL_SET_ELEM_OBJREF})
    if (elem_bytes(a, attr) != elem_bytes(b, attr)) return false;
  auto verdict = [](nftnl_set_elem* e) {
    return nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT) ? static_cast<int64_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)) : INT64_MIN;
  };
  return verdict(a) == verdict(b) && elem_bytes(a, NFTNL_SET_ELEM_CHAIN) == elem_bytes(b, NFTNL_SET_ELEM_CHAIN);
}

// The set an element message names (by name, else by batch id).
Status find_set(Transaction& tx, const Transaction::Msg& m, TableObj& t, SetObj*& s) {
  const nlattr* name = m.a[NFTA_SET_ELEM_LIST_SET];
  if (name) s = t.set(attr_str(name));
  if (!s && m.a[NFTA_SET_ELEM_LIST_SET_ID]) {
    auto f = tx.set_ids.find({t.name, attr_be32(m.a[NFTA_SET_ELEM_LIST_SET_ID])});
    if (f != tx.set_ids.end()) s = t.set(f->second);
  }
  if (!s) return nl_error(name ? ENOENT : EINVAL, name);
  return std::nullopt;
}

// Parses the element list with libnftnl; `raw` gets the NFTA_LIST_ELEM attributes for extack.
Status parse_elems(const Transaction::Msg& m, std::vector<NftnlElem>& out, std::vector<const nlattr*>& raw) {
  const nlattr* list = m.a[NFTA_SET_ELEM_LIST_ELEMENTS];
  raw = nested_attrs(list);
  // nft numbers the element nests 1, 2, 3... (the kernel never looks at their type) while libnftnl's
  // parser accepts only NFTA_LIST_ELEM: parse a copy whose nests are all typed NFTA_LIST_ELEM.
  std::vector<uint8_t> copy(reinterpret_cast<const uint8_t*>(m.nlh),
                            reinterpret_cast<const uint8_t*>(m.nlh) + m.nlh->nlmsg_len);
  size_t list_off = reinterpret_cast<const uint8_t*>(list) - reinterpret_cast<const uint8_t*>(m.nlh);
  for (const nlattr* r : raw) {
    size_t off = reinterpret_cast<const uint8_t*>(r) - reinterpret_cast<const uint8_t*>(m.nlh);
    auto* a = reinterpret_cast<nlattr*>(copy.data() + off);
    a->nla_type = (a->nla_type & NLA_F_NESTED) | NFTA_LIST_ELEM;
  }
  (void)list_off;
  NftnlSet tmp = make_set();
  if (nftnl_set_elems_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(copy.data()), tmp.get()) < 0)
    return nl_error(EINVAL, list);
  nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(tmp.get());
  for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it))
    out.push_back(NftnlElem(tmp, e));  // aliasing: the element lives as long as its parsed list
  nftnl_set_elems_iter_destroy(it);
  return std::nullopt;
}

Status check_elem(const TableObj& t, const SetObj& s, nftnl_set_elem* e, const nlattr* raw) {
  uint32_t flags = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;
  if (flags & ~(NFT_SET_ELEM_INTERVAL_END | 2 /* NFT_SET_ELEM_CATCHALL */)) return nl_error(EOPNOTSUPP, raw);
  if (!(s.flags & NFT_SET_INTERVAL) && (flags & NFT_SET_ELEM_INTERVAL_END)) return nl_error(EINVAL, raw);
  if (!nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY) && !(flags & 2)) return nl_error(EINVAL, raw);
  uint32_t klen = nftnl_set_get_u32(s.attrs.get(), NFTNL_SET_KEY_LEN);
  for (uint16_t k : {NFTNL_SET_ELEM_KEY, NFTNL_SET_ELEM_KEY_END}) {
    auto key = elem_bytes(e, k);
    if (!nftnl_set_elem_is_set(e, k)) continue;
    if (key.size() > NFT_DATA_VALUE_MAXLEN) return nl_error(EOVERFLOW, raw);
    if (key.size() != klen) return nl_error(EINVAL, raw);
  }
  bool has_data = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA) || nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT);
  if (s.flags & NFT_SET_MAP) {
    if (!has_data && !(flags & NFT_SET_ELEM_INTERVAL_END)) return nl_error(EINVAL, raw);
  } else if (has_data) {
    return nl_error(EINVAL, raw);
  }
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) {
    const ChainObj* c = t.chain(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
    if (!c) return nl_error(ENOENT, raw);
    if (c->base()) return nl_error(EOPNOTSUPP, raw);
  }
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT) && !(s.flags & NFT_SET_TIMEOUT))
    return nl_error(EINVAL, raw);
  return std::nullopt;
}

void notify_elem(Transaction& tx, const Transaction::Msg& m, uint16_t type, const TableObj& t,
                 const SetObj& s, const ElemObj& e) {
  const ElemObj* one = &e;
  tx.notify(m, type, kNotifyFlags, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) {
    put_elems(w, ty, h, t, s, {&one, 1}, tx.now_ms());
  });
}

}  // namespace

Status new_setelem(Transaction& tx, const Transaction::Msg& m) {
  if (!m.a[NFTA_SET_ELEM_LIST_ELEMENTS]) return nl_error(EINVAL);
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_SET_ELEM_LIST_TABLE, t)) return e;
  SetObj* s = nullptr;
  if (auto e = find_set(tx, m, *t, s)) return e;
  if ((s->flags & (NFT_SET_CONSTANT | NFT_SET_ANONYMOUS)) && t->set_use(*s) > 0) return nl_error(EBUSY);
  std::vector<NftnlElem> elems;
  std::vector<const nlattr*> raw;
  if (auto e = parse_elems(m, elems, raw)) return e;
  uint32_t size = nftnl_set_is_set(s->attrs.get(), NFTNL_SET_DESC_SIZE) ? nftnl_set_get_u32(s->attrs.get(), NFTNL_SET_DESC_SIZE) : 0;
  for (size_t i = 0; i < elems.size(); ++i) {
    nftnl_set_elem* e = elems[i].get();
    const nlattr* r = i < raw.size() ? raw[i] : nullptr;
    if (auto err = check_elem(*t, *s, e, r)) return err;
    ElemObj eo{elems[i], identity(e), 0};
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
      eo.expires_at_ms = tx.now_ms() + nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
    if (const ElemObj* same = s->elems.find(eo.id)) {
      if (!same_payload(same->elem.get(), e)) return nl_error(EBUSY, r);
      if (m.flags() & NLM_F_EXCL) return nl_error(EEXIST, r);
      continue;
    }
    if (size && s->elems.size() >= size) return nl_error(ENFILE, r);
    std::string id = eo.id;
    s->elems.add(std::move(eo));
    tx.mark_changed();
    if (tx.wants_events(m)) notify_elem(tx, m, NFT_MSG_NEWSETELEM, *t, *s, *s->elems.find(id));
  }
  return std::nullopt;
}

Status del_setelem(Transaction& tx, const Transaction::Msg& m, bool destroy) {
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_SET_ELEM_LIST_TABLE, t)) return e;
  SetObj* s = nullptr;
  if (auto e = find_set(tx, m, *t, s)) return e;
  if (!m.a[NFTA_SET_ELEM_LIST_ELEMENTS]) {
    // Flush: every element goes (constant sets bound to a rule cannot change).
    if ((s->flags & NFT_SET_CONSTANT) && t->set_use(*s) > 0) return nl_error(EBUSY);
    if (tx.wants_events(m))
      for (const auto& e : s->elems) notify_elem(tx, m, NFT_MSG_DELSETELEM, *t, *s, e);
    if (!s->elems.empty()) tx.mark_changed();
    s->elems.clear();
    return std::nullopt;
  }
  if ((s->flags & (NFT_SET_CONSTANT | NFT_SET_ANONYMOUS)) && t->set_use(*s) > 0) return nl_error(EBUSY);
  std::vector<NftnlElem> elems;
  std::vector<const nlattr*> raw;
  if (auto e = parse_elems(m, elems, raw)) return e;
  for (size_t i = 0; i < elems.size(); ++i) {
    auto id = identity(elems[i].get());
    const ElemObj* it = s->elems.find(id);
    if (!it) {
      if (destroy) continue;
      return nl_error(ENOENT, i < raw.size() ? raw[i] : nullptr);
    }
    if (tx.wants_events(m)) notify_elem(tx, m, NFT_MSG_DELSETELEM, *t, *s, *it);
    s->elems.remove(id);
    tx.mark_changed();
  }
  return std::nullopt;
}

}  // namespace nfjit::nft
