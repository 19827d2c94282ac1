// NEWCHAIN / DELCHAIN / DESTROYCHAIN, after nf_tables_newchain(), nf_tables_updchain() and
// nf_tables_delchain().

#include <cstring>

#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {

constexpr uint16_t kNotifyFlags = NLM_F_CREATE | NLM_F_EXCL;

// Which hooks a family has (nf_tables_chain_type / nft_chain_validate_hooks()).
bool hook_valid(uint8_t family, uint32_t hooknum) {
  switch (family) {
    case NFPROTO_IPV4:
    case NFPROTO_IPV6:
    case NFPROTO_BRIDGE: return hooknum < NF_INET_NUMHOOKS;
    case NFPROTO_INET: return hooknum < NF_INET_NUMHOOKS || hooknum == NF_INET_INGRESS;
    case NFPROTO_NETDEV: return hooknum == NF_NETDEV_INGRESS || hooknum == 1 /* NF_NETDEV_EGRESS */;
    case NFPROTO_ARP: return hooknum <= 2;
    default: return false;
  }
}

// Returns 0 when `type` exists for the family and accepts the hook, else the kernel's errno.
int check_chain_type(uint8_t family, const std::string& type, uint32_t hooknum) {
  if (type == "filter") return 0;
  bool l3 = family == NFPROTO_IPV4 || family == NFPROTO_IPV6 || family == NFPROTO_INET;
  if (type == "nat") {
    if (!l3) return ENOENT;
    return (hooknum == NF_INET_PRE_ROUTING || hooknum == NF_INET_LOCAL_IN || hooknum == NF_INET_LOCAL_OUT ||
            hooknum == NF_INET_POST_ROUTING) ? 0 : EOPNOTSUPP;
  }
  if (type == "route") {
    if (!l3) return ENOENT;
    return hooknum == NF_INET_LOCAL_OUT ? 0 : EOPNOTSUPP;
  }
  return ENOENT;
}

struct ParsedHook {
  ChainHook hook;
  const nlattr* attr = nullptr;
};

// Parses NFTA_CHAIN_HOOK through libnftnl's chain parser (already run into `c`).
Status parse_hook(const Transaction::Msg& m, nftnl_chain* c, ParsedHook& out) {
  out.attr = m.a[NFTA_CHAIN_HOOK];
  if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) || !nftnl_chain_is_set(c, NFTNL_CHAIN_PRIO))
    return nl_error(EINVAL, out.attr);
  out.hook.hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
  out.hook.priority = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
  if (!hook_valid(m.family, out.hook.hooknum)) return nl_error(EOPNOTSUPP, out.attr);
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEVICES)) {
    auto* devs = static_cast<const char* const*>(nftnl_chain_get(c, NFTNL_CHAIN_DEVICES));
    for (size_t i = 0; devs && devs[i]; ++i) out.hook.devices.emplace_back(devs[i]);
  } else if (nftnl_chain_is_set(c, NFTNL_CHAIN_DEV)) {
    out.hook.devices.emplace_back(nftnl_chain_get_str(c, NFTNL_CHAIN_DEV));
  }
  return std::nullopt;
}

void notify_chain(Transaction& tx, const Transaction::Msg& m, uint16_t type, const TableObj& t,
                  const ChainObj& c) {
  tx.notify(m, type, kNotifyFlags,
            [&](MsgWriter& w, uint16_t ty, const MsgHead& h) { put_chain(w, ty, h, t, c); });
}

}  // namespace

Status new_chain(Transaction& tx, const Transaction::Msg& m) {
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_CHAIN_TABLE, t)) return e;
  UniqueChain parsed(nftnl_chain_alloc());
  if (nftnl_chain_nlmsg_parse(m.nlh, parsed.get()) < 0) return nl_error(EINVAL);
  nftnl_chain* pc = parsed.get();

  const nlattr* name = m.a[NFTA_CHAIN_NAME];
  ChainObj* c = nullptr;
  if (const nlattr* h = m.a[NFTA_CHAIN_HANDLE]) {
    c = t->chain_by_handle(attr_be64(h));
    if (!c) return nl_error(ENOENT, h);
  } else if (name) {
    if (mnl_attr_get_payload_len(name) > kNameMaxLen) return nl_error(ERANGE, name);
    c = t->chain(attr_str(name));
  } else if (!m.a[NFTA_CHAIN_ID]) {
    return nl_error(EINVAL);
  }

  std::optional<uint32_t> policy;
  if (const nlattr* p = m.a[NFTA_CHAIN_POLICY]) {
    if (c && !c->base()) return nl_error(EOPNOTSUPP, p);
    if (!c && !m.a[NFTA_CHAIN_HOOK]) return nl_error(EOPNOTSUPP, p);
    policy = attr_be32(p);
    if (*policy != NF_DROP && *policy != NF_ACCEPT) return nl_error(EINVAL, p);
  }
  uint32_t flags = c ? c->flags : 0;
  if (const nlattr* f = m.a[NFTA_CHAIN_FLAGS]) flags = attr_be32(f);
  if (flags & ~NFT_CHAIN_FLAGS) return nl_error(EOPNOTSUPP);

  if (c) {
    if (m.flags() & NLM_F_EXCL) return nl_error(EEXIST, name);
    if (m.flags() & NLM_F_REPLACE) return nl_error(EOPNOTSUPP);
    // nf_tables_updchain(): flags and hooks cannot change, only the policy (and the name, by handle).
    if ((c->flags ^ flags) & ~NFT_CHAIN_BASE) return nl_error(EOPNOTSUPP);
    if (const nlattr* ha = m.a[NFTA_CHAIN_HOOK]) {
      if (!c->base()) return nl_error(EEXIST, ha);
      ParsedHook ph;
      if (auto e = parse_hook(m, pc, ph)) return e;
      if (ph.hook.hooknum != c->hook->hooknum || ph.hook.priority != c->hook->priority)
        return nl_error(EEXIST, ha);
      if (nftnl_chain_is_set(pc, NFTNL_CHAIN_TYPE) && c->type != nftnl_chain_get_str(pc, NFTNL_CHAIN_TYPE))
        return nl_error(EEXIST, m.a[NFTA_CHAIN_TYPE]);
    }
    bool renamed = m.a[NFTA_CHAIN_HANDLE] && name && attr_str(name) != c->name;
    if (renamed) {
      if (t->chain(attr_str(name))) return nl_error(EEXIST, name);
      c->name = attr_str(name);
    }
    if ((policy && policy != c->policy) || renamed) {
      if (policy) c->policy = policy;
      tx.mark_changed();
      notify_chain(tx, m, NFT_MSG_NEWCHAIN, *t, *c);
    }
    return std::nullopt;
  }

  if (!name) return nl_error(EOPNOTSUPP);  // anonymous (binding) chains are not supported yet
  ChainObj nc;
  nc.name = attr_str(name);
  nc.flags = flags;
  if (m.a[NFTA_CHAIN_HOOK]) {
    ParsedHook ph;
    if (auto e = parse_hook(m, pc, ph)) return e;
    nc.type = nftnl_chain_is_set(pc, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(pc, NFTNL_CHAIN_TYPE) : "filter";
    if (int err = check_chain_type(m.family, nc.type, ph.hook.hooknum))
      return nl_error(err, m.a[NFTA_CHAIN_TYPE] ? m.a[NFTA_CHAIN_TYPE] : ph.attr);
    nc.hook = std::move(ph.hook);
    nc.policy = policy.value_or(NF_ACCEPT);
    nc.flags |= NFT_CHAIN_BASE;
  }
  if (const nlattr* ud = m.a[NFTA_CHAIN_USERDATA]) {
    if (mnl_attr_get_payload_len(ud) > kUserdataMaxLen) return nl_error(ERANGE, ud);
    auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(ud));
    nc.userdata.assign(p, p + mnl_attr_get_payload_len(ud));
  }
  nc.handle = t->alloc_handle();
  if (const nlattr* id = m.a[NFTA_CHAIN_ID]) tx.chain_ids[{t->name, attr_be32(id)}] = nc.name;
  t->chains.push_back(std::move(nc));
  tx.mark_changed();
  notify_chain(tx, m, NFT_MSG_NEWCHAIN, *t, t->chains.back());
  return std::nullopt;
}

Status del_chain(Transaction& tx, const Transaction::Msg& m, bool destroy) {
  TableObj* t = nullptr;
  if (auto e = tx.find_table(m, NFTA_CHAIN_TABLE, t)) return e;
  ChainObj* c = nullptr;
  const nlattr* attr = nullptr;
  if ((attr = m.a[NFTA_CHAIN_HANDLE])) {
    c = t->chain_by_handle(attr_be64(attr));
  } else if ((attr = m.a[NFTA_CHAIN_NAME])) {
    c = t->chain(attr_str(attr));
  } else {
    return nl_error(EINVAL);
  }
  if (!c) return destroy ? std::nullopt : Status(nl_error(ENOENT, attr));
  if ((m.flags() & NLM_F_NONREC) && t->chain_use(*c) > 0) return nl_error(EBUSY, attr);
  // Rules go with the chain; jumps from elsewhere keep it alive.
  uint32_t use = t->chain_use(*c) - c->rules.size();
  if (use > 0) return nl_error(EBUSY, attr);
  remove_all_rules(tx, m, *t, *c);
  notify_chain(tx, m, NFT_MSG_DELCHAIN, *t, *c);
  t->chains.erase(t->chains.begin() + (c - t->chains.data()));
  tx.mark_changed();
  return std::nullopt;
}

}  // namespace nfjit::nft
