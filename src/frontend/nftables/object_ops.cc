// Named stateful objects (counter, quota, limit, ...) and flowtables: kept as libnftnl parsed them and
// listed back; nf_tables_newobj()/nf_tables_newflowtable() checks for existence and references.
#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {
constexpr uint16_t kNotifyFlags = NLM_F_CREATE | NLM_F_EXCL;
}

Status new_obj(Transaction& tx, const Transaction::Msg& m) {
  if (!m.a[NFTA_OBJ_TYPE] || !m.a[NFTA_OBJ_NAME] || !m.a[NFTA_OBJ_DATA]) return nl_error(EINVAL);
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_OBJ_TABLE, t)) return e;
  uint32_t type = attr_be32(m.a[NFTA_OBJ_TYPE]);
  std::string name = attr_str(m.a[NFTA_OBJ_NAME]);
  NftnlObj o = make_obj();
  if (nftnl_obj_nlmsg_parse(m.nlh, o.get()) < 0) return nl_error(EINVAL);
  if (type == NFT_OBJECT_UNSPEC || type > NFT_OBJECT_MAX) return nl_error(EOPNOTSUPP);
  if (t->obj(name, type)) {
    if (m.flags() & NLM_F_EXCL) return nl_error(EEXIST, m.a[NFTA_OBJ_NAME]);
    if (m.flags() & NLM_F_REPLACE) return nl_error(EOPNOTSUPP);
    return std::nullopt;  // updates of quota/limit parameters are not kept yet
  }
  ObjObj oo{name, type, t->alloc_handle(), o};
  t->objs.push_back(std::move(oo));
  tx.mark_changed();
  tx.notify(m, NFT_MSG_NEWOBJ, kNotifyFlags,
            [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_obj(w, ty, h, *t, t->objs.back()); });
  return std::nullopt;
}

Status del_obj(Transaction& tx, const Transaction::Msg& m, bool destroy) {
  if (!m.a[NFTA_OBJ_TYPE]) return nl_error(EINVAL);
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_OBJ_TABLE, t)) return e;
  uint32_t type = attr_be32(m.a[NFTA_OBJ_TYPE]);
  const nlattr* attr = m.a[NFTA_OBJ_HANDLE] ? m.a[NFTA_OBJ_HANDLE] : m.a[NFTA_OBJ_NAME];
  if (!attr) return nl_error(EINVAL);
  size_t i = 0;
  for (; i < t->objs.size(); ++i) {
    const ObjObj& o = t->objs[i];
    if (o.type != type) continue;
    if (m.a[NFTA_OBJ_HANDLE] ? o.handle == attr_be64(attr) : o.name == attr_str(attr)) break;
  }
  if (i == t->objs.size()) return destroy ? std::nullopt : Status(nl_error(ENOENT, attr));
  // Still referenced by a rule's objref?
  for (const auto& c : t->chains)
    for (const auto& r : c.rules) {
      nftnl_expr_iter* it = nftnl_expr_iter_create(r.exprs.get());
      bool used = false;
      for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it))
        if (std::string(nftnl_expr_get_str(e, NFTNL_EXPR_NAME)) == "objref" &&
            nftnl_expr_is_set(e, NFTNL_EXPR_OBJREF_IMM_NAME) &&
            t->objs[i].name == nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME) &&
            nftnl_expr_get_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE) == type)
          used = true;
      nftnl_expr_iter_destroy(it);
      if (used) return nl_error(EBUSY, attr);
    }
  tx.notify(m, NFT_MSG_DELOBJ, 0, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_obj(w, ty, h, *t, t->objs[i]); });
  t->objs.erase(t->objs.begin() + i);
  tx.mark_changed();
  return std::nullopt;
}

Status new_flowtable(Transaction& tx, const Transaction::Msg& m) {
  if (!m.a[NFTA_FLOWTABLE_TABLE] || !m.a[NFTA_FLOWTABLE_NAME]) return nl_error(EINVAL);
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_FLOWTABLE_TABLE, t)) return e;
  std::string name = attr_str(m.a[NFTA_FLOWTABLE_NAME]);
  if (t->flowtable(name)) {
    if (m.flags() & NLM_F_EXCL) return nl_error(EEXIST, m.a[NFTA_FLOWTABLE_NAME]);
    if (m.flags() & NLM_F_REPLACE) return nl_error(EOPNOTSUPP);
    return std::nullopt;
  }
  if (!m.a[NFTA_FLOWTABLE_HOOK]) return nl_error(EINVAL);
  NftnlFlowtable f = make_flowtable();
  if (nftnl_flowtable_nlmsg_parse(m.nlh, f.get()) < 0) return nl_error(EINVAL);
  nftnl_flowtable_unset(f.get(), NFTNL_FLOWTABLE_HANDLE);
  t->flowtables.push_back(FlowtableObj{name, t->alloc_handle(), f});
  tx.mark_changed();
  tx.notify(m, NFT_MSG_NEWFLOWTABLE, kNotifyFlags, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) {
    put_flowtable(w, ty, h, *t, t->flowtables.back());
  });
  return std::nullopt;
}

Status del_flowtable(Transaction& tx, const Transaction::Msg& m, bool destroy) {
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_FLOWTABLE_TABLE, t)) return e;
  const nlattr* attr = m.a[NFTA_FLOWTABLE_HANDLE] ? m.a[NFTA_FLOWTABLE_HANDLE] : m.a[NFTA_FLOWTABLE_NAME];
  if (!attr) return nl_error(EINVAL);
  size_t i = 0;
  for (; i < t->flowtables.size(); ++i)
    if (m.a[NFTA_FLOWTABLE_HANDLE] ? t->flowtables[i].handle == attr_be64(attr)
                                   : t->flowtables[i].name == attr_str(attr))
      break;
  if (i == t->flowtables.size()) return destroy ? std::nullopt : Status(nl_error(ENOENT, attr));
  tx.notify(m, NFT_MSG_DELFLOWTABLE, 0,
            [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_flowtable(w, ty, h, *t, t->flowtables[i]); });
  t->flowtables.erase(t->flowtables.begin() + i);
  tx.mark_changed();
  return std::nullopt;
}

}  // namespace nfjit::nft
