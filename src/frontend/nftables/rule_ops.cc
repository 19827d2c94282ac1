// NEWRULE / DELRULE / DESTROYRULE, after nf_tables_newrule() and nf_tables_delrule(): handles,
// positions (insert before / append after a handle or a batch-local rule id), NLM_F_REPLACE, and the
// references a rule's expressions make to chains, sets and objects.
#include <cstring>
#include <set>

#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {

constexpr uint16_t kNotifyFlags = NLM_F_CREATE | NLM_F_EXCL | NLM_F_APPEND | NLM_F_REPLACE;

// Expression types the running kernel knows (net/netfilter/nft_*.c). An unknown name is ENOENT there,
// after a failed module request.
bool kernel_knows_expr(const std::string& n) {
  static const std::set<std::string> known = {
      "payload", "cmp", "bitwise", "byteorder", "range", "lookup", "meta", "ct", "counter", "limit",
      "log", "reject", "immediate", "dynset", "objref", "fib", "nat", "masq", "redir", "queue", "quota",
      "connlimit", "numgen", "hash", "rt", "socket", "osf", "tproxy", "xfrm", "tunnel", "exthdr", "fwd",
      "dup", "synproxy", "notrack", "flow_offload", "match", "target", "last", "inner"};
  return known.count(n) != 0;
}

// Checks every NFTA_LIST_ELEM of NFTA_RULE_EXPRESSIONS names a known expression.
Status check_expr_names(const nlattr* exprs) {
  if (!exprs) return std::nullopt;
  for (const nlattr* a : nested_attrs(exprs)) {
    if (mnl_attr_get_type(a) != NFTA_LIST_ELEM) return nl_error(EINVAL, a);
    const nlattr* name = nullptr;
    for (const nlattr* inner : nested_attrs(a)) {
      if (mnl_attr_get_type(inner) == NFTA_EXPR_NAME) name = inner;
    }
    if (!name) return nl_error(EINVAL, a);
    if (!kernel_knows_expr(attr_str(name))) return nl_error(ENOENT, a);
  }
  return std::nullopt;
}

const char* expr_name(nftnl_expr* e) { return nftnl_expr_get_str(e, NFTNL_EXPR_NAME); }

// Resolves a set named by name or batch id; returns the set's real name or an error.
Status resolve_set(Transaction& tx, TableObj& t, nftnl_expr* e, uint16_t name_attr, uint16_t id_attr,
                   const nlattr* elem, std::string& out) {
  if (nftnl_expr_is_set(e, name_attr)) {
    std::string n = nftnl_expr_get_str(e, name_attr);
    if (t.set(n)) {
      out = n;
      return std::nullopt;
    }
  }
  if (nftnl_expr_is_set(e, id_attr)) {
    auto it = tx.set_ids.find({t.name, nftnl_expr_get_u32(e, id_attr)});
    if (it != tx.set_ids.end() && t.set(it->second)) {
      out = it->second;
      nftnl_expr_set_str(e, name_attr, out.c_str());
      return std::nullopt;
    }
  }
  return nl_error(ENOENT, elem);
}

// Walks the parsed expressions: validates references, rewrites batch ids into names, and records what
// the rule refers to. `elems` are the raw NFTA_LIST_ELEMs, for extack.
Status bind_references(Transaction& tx, TableObj& t, RuleObj& r, const nlattr* exprs_attr) {
  std::vector<const nlattr*> elems;
  elems = nested_attrs(exprs_attr);
  nftnl_expr_iter* it = nftnl_expr_iter_create(r.exprs.get());
  Status st;
  size_t i = 0;
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e && !st; e = nftnl_expr_iter_next(it), ++i) {
    const nlattr* elem = i < elems.size() ? elems[i] : nullptr;
    std::string n = expr_name(e);
    std::string set;
    if (n == "immediate" && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
      int32_t v = static_cast<int32_t>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
      if (v != NFT_JUMP && v != NFT_GOTO) continue;
      std::string target;
      if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)) {
        target = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
      } else if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN_ID)) {
        auto f = tx.chain_ids.find({t.name, nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_CHAIN_ID)});
        if (f != tx.chain_ids.end()) {
          target = f->second;
          nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, target.c_str());
        }
      } else {
        st = nl_error(EINVAL, elem);
        break;
      }
      const ChainObj* c = t.chain(target);
      if (!c) st = nl_error(ENOENT, elem);
      else if (c->base()) st = nl_error(EOPNOTSUPP, elem);
      else r.jump_targets.push_back(target);
    } else if (n == "lookup") {
      if (!(st = resolve_set(tx, t, e, NFTNL_EXPR_LOOKUP_SET, NFTNL_EXPR_LOOKUP_SET_ID, elem, set)))
        r.bound_sets.push_back(set);
    } else if (n == "dynset") {
      if (!(st = resolve_set(tx, t, e, NFTNL_EXPR_DYNSET_SET_NAME, NFTNL_EXPR_DYNSET_SET_ID, elem, set)))
        r.bound_sets.push_back(set);
    } else if (n == "objref") {
      if (nftnl_expr_is_set(e, NFTNL_EXPR_OBJREF_IMM_NAME)) {
        if (!t.obj(nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME),
                   nftnl_expr_get_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE)))
          st = nl_error(ENOENT, elem);
      } else if (!(st = resolve_set(tx, t, e, NFTNL_EXPR_OBJREF_SET_NAME, NFTNL_EXPR_OBJREF_SET_ID, elem,
                                    set))) {
        r.bound_sets.push_back(set);
      }
    }
  }
  nftnl_expr_iter_destroy(it);
  return st;
}

size_t index_of_handle(const ChainObj& c, uint64_t h) {
  for (size_t i = 0; i < c.rules.size(); ++i)
    if (c.rules[i].handle == h) return i;
  return SIZE_MAX;
}

Status find_chain(Transaction& tx, const Transaction::Msg& m, TableObj& t, ChainObj*& c) {
  if (const nlattr* a = m.a[NFTA_RULE_CHAIN]) {
    c = t.chain(attr_str(a));
    if (!c) return nl_error(ENOENT, a);
  } else if (const nlattr* id = m.a[NFTA_RULE_CHAIN_ID]) {
    auto f = tx.chain_ids.find({t.name, attr_be32(id)});
    c = f == tx.chain_ids.end() ? nullptr : t.chain(f->second);
    if (!c) return nl_error(ENOENT, id);
  } else {
    return nl_error(EINVAL);
  }
  return std::nullopt;
}

void notify_rule(Transaction& tx, const Transaction::Msg& m, uint16_t type, const TableObj& t,
                 const ChainObj& c, size_t index) {
  uint64_t prev = (type == NFT_MSG_NEWRULE && index > 0) ? c.rules[index - 1].handle : 0;
  tx.notify(m, type, kNotifyFlags, [&](MsgWriter& w, uint16_t ty, const MsgHead& h) {
    put_rule(w, ty, h, t, c, c.rules[index], nullptr, prev);
  });
}

}  // namespace

namespace {
// An anonymous set lives exactly as long as the rule bound to it.
void drop_unbound_anonymous_sets(Transaction& tx, const Transaction::Msg& m, TableObj& t,
                                 const std::vector<std::string>& sets) {
  for (const auto& s : sets) {
    SetObj* so = t.set(s);
    if (so && so->anonymous() && t.set_use(*so) == 0) remove_set(tx, m, t, so - t.sets.data());
  }
}
}  // namespace

void remove_rule(Transaction& tx, const Transaction::Msg& m, TableObj& t, ChainObj& c, size_t index) {
  notify_rule(tx, m, NFT_MSG_DELRULE, t, c, index);
  std::vector<std::string> sets = c.rules[index].bound_sets;
  t.erase_rule(c, index);
  drop_unbound_anonymous_sets(tx, m, t, sets);
  tx.mark_changed();
}

void remove_all_rules(Transaction& tx, const Transaction::Msg& m, TableObj& t, ChainObj& c) {
  if (c.rules.empty()) return;
  // In list order, as nft_delrule_by_chain() walks it, each rule followed by its anonymous sets (the
  // order remove_rule() gives); one pass, not an erase from the front per rule.
  // Anonymous sets left unbound are erased together at the end (one pass over the table's sets).
  std::set<std::string> gone;
  t.clear_rules(c, [&](size_t i) {
    notify_rule(tx, m, NFT_MSG_DELRULE, t, c, i);
    for (const auto& s : c.rules[i].bound_sets) {
      const SetObj* so = t.set(s);
      if (so && so->anonymous() && t.set_use(*so) == 0 && gone.insert(s).second) notify_set_removal(tx, m, t, *so);
    }
  });
  t.erase_sets(gone);
  tx.mark_changed();
}

Status new_rule(Transaction& tx, const Transaction::Msg& m) {
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_RULE_TABLE, t)) return e;
  ChainObj* c = nullptr;
  if (auto e = find_chain(tx, m, *t, c)) return e;

  // Where the rule goes: replace `at`, or insert at index `at` (before) / `at + 1` (after).
  size_t at = SIZE_MAX;
  bool replace = false;
  if (const nlattr* h = m.a[NFTA_RULE_HANDLE]) {
    at = index_of_handle(*c, attr_be64(h));
    if (at == SIZE_MAX) return nl_error(ENOENT, h);
    if (m.flags() & NLM_F_EXCL) return nl_error(EEXIST, h);
    if (!(m.flags() & NLM_F_REPLACE)) return nl_error(EOPNOTSUPP);
    replace = true;
  } else {
    if (!(m.flags() & NLM_F_CREATE) || (m.flags() & NLM_F_REPLACE)) return nl_error(EINVAL);
    if (const nlattr* p = m.a[NFTA_RULE_POSITION]) {
      at = index_of_handle(*c, attr_be64(p));
      if (at == SIZE_MAX) return nl_error(ENOENT, p);
    } else if (const nlattr* pid = m.a[NFTA_RULE_POSITION_ID]) {
      auto f = tx.rule_ids.find({t->name, attr_be32(pid)});
      if (f != tx.rule_ids.end()) at = index_of_handle(*c, f->second);
      if (at == SIZE_MAX) return nl_error(ENOENT, pid);
    }
  }

  if (auto e = check_expr_names(m.a[NFTA_RULE_EXPRESSIONS])) return e;
  const nlattr* ud = m.a[NFTA_RULE_USERDATA];
  if (ud && mnl_attr_get_payload_len(ud) > kUserdataMaxLen) return nl_error(ERANGE, ud);
  RuleObj r;
  r.exprs = make_rule();
  if (nftnl_rule_nlmsg_parse(m.nlh, r.exprs.get()) < 0) return nl_error(EINVAL);
  for (uint16_t a : {NFTNL_RULE_TABLE, NFTNL_RULE_CHAIN, NFTNL_RULE_HANDLE, NFTNL_RULE_POSITION,
                     NFTNL_RULE_USERDATA, NFTNL_RULE_ID, NFTNL_RULE_POSITION_ID, NFTNL_RULE_COMPAT_PROTO,
                     NFTNL_RULE_COMPAT_FLAGS})
    nftnl_rule_unset(r.exprs.get(), a);
  if (ud) {
    auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(ud));
    r.userdata.assign(p, p + mnl_attr_get_payload_len(ud));
  }
  if (auto e = bind_references(tx, *t, r, m.a[NFTA_RULE_EXPRESSIONS])) return e;

  size_t index;
  if (replace) {
    r.handle = c->rules[at].handle;  // a replaced rule keeps its handle
    index = at;
    std::vector<std::string> old_sets = c->rules[at].bound_sets;
    notify_rule(tx, m, NFT_MSG_DELRULE, *t, *c, at);
    t->replace_rule(*c, at, std::move(r));
    drop_unbound_anonymous_sets(tx, m, *t, old_sets);
  } else {
    r.handle = t->alloc_handle();
    if (m.flags() & NLM_F_APPEND)
      index = at == SIZE_MAX ? c->rules.size() : at + 1;
    else
      index = at == SIZE_MAX ? 0 : at;
    t->insert_rule(*c, index, std::move(r));
  }
  if (const nlattr* id = m.a[NFTA_RULE_ID]) tx.rule_ids[{t->name, attr_be32(id)}] = c->rules[index].handle;
  tx.mark_changed();
  notify_rule(tx, m, NFT_MSG_NEWRULE, *t, *c, index);
  return std::nullopt;
}

Status del_rule(Transaction& tx, const Transaction::Msg& m, bool destroy) {
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_RULE_TABLE, t)) return e;
  ChainObj* c = nullptr;
  if (m.a[NFTA_RULE_CHAIN] || m.a[NFTA_RULE_CHAIN_ID]) {
    if (auto e = find_chain(tx, m, *t, c)) return e;
  }
  if (const nlattr* h = m.a[NFTA_RULE_HANDLE]) {
    if (!c) return nl_error(EINVAL);
    size_t i = index_of_handle(*c, attr_be64(h));
    if (i == SIZE_MAX) return destroy ? std::nullopt : Status(nl_error(ENOENT, h));
    remove_rule(tx, m, *t, *c, i);
    return std::nullopt;
  }
  if (const nlattr* id = m.a[NFTA_RULE_ID]) {
    auto f = tx.rule_ids.find({t->name, attr_be32(id)});
    size_t i = (c && f != tx.rule_ids.end()) ? index_of_handle(*c, f->second) : SIZE_MAX;
    if (i == SIZE_MAX) return nl_error(ENOENT, id);
    remove_rule(tx, m, *t, *c, i);
    return std::nullopt;
  }
  // No handle: flush the chain, or every chain of the table.
  if (c) {
    remove_all_rules(tx, m, *t, *c);
  } else {
    for (auto& ch : t->chains) remove_all_rules(tx, m, *t, ch);
  }
  return std::nullopt;
}

}  // namespace nfjit::nft
