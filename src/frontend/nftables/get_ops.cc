// GET requests: dumps (NLM_F_DUMP) of tables, chains, rules, sets, elements, objects and flowtables,
// and single-object GETs, answered from the committed Store in the kernel's message format and
// datagram framing (data datagrams of at most 32 KiB, then NLMSG_DONE in a datagram of its own).
#include "frontend/nftables/nft_abi.h"
#include "frontend/nftables/nft_server.h"
#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {

constexpr size_t kDumpDatagram = 32768;

// Collects dump messages and cuts them into datagrams the way netlink_dump() fills skbs.
class DumpPacker {
 public:
  explicit DumpPacker(std::vector<Datagram>& out) : out_(out) {}
  MsgWriter& writer() { return w_; }
  // Call after each message: starts a new datagram when the current one is full.
  void flush_if_full() {
    if (w_.bytes().size() >= kDumpDatagram) flush();
  }
  void flush() {
    if (!w_.empty()) out_.push_back(w_.take());
    w_ = MsgWriter();
  }
  void finish(uint32_t seq, uint32_t portid, bool done_alone = true) {
    if (done_alone) flush();
    std::vector<uint8_t> tail = w_.take();
    append_done(tail, seq, portid);
    out_.push_back(std::move(tail));
  }

 private:
  std::vector<Datagram>& out_;
  MsgWriter w_;
};

bool family_matches(uint8_t want, uint8_t have) { return want == NFPROTO_UNSPEC || want == have; }

}  // namespace

Status NftServer::dump(const nlmsghdr* nlh, const Peer& peer, std::vector<Datagram>& out) {
  if (dump_begin_) dump_begin_();
  uint8_t family = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family;
  Attrs a = Attrs::parse(nlh);
  MsgHead h{NLM_F_MULTI, nlh->nlmsg_seq, peer.portid, static_cast<uint16_t>(store_.genid & 0xffff)};
  DumpPacker pk(out);
  MsgWriter& w = pk.writer();
  uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
  auto table_filter = [&](int attr, const TableObj& t) {
    return family_matches(family, t.family) && (!a[attr] || attr_str(a[attr]) == t.name);
  };
  switch (type) {
    case NFT_MSG_GETTABLE:
      for (const auto& t : store_.tables)
        if (family_matches(family, t.family)) {
          put_table(w, NFT_MSG_NEWTABLE, h, t);
          pk.flush_if_full();
        }
      break;
    case NFT_MSG_GETCHAIN:
      for (const auto& t : store_.tables)
        if (table_filter(NFTA_CHAIN_TABLE, t))
          for (const auto& c : t.chains) {
            put_chain(w, NFT_MSG_NEWCHAIN, h, t, c);
            pk.flush_if_full();
          }
      break;
    case NFT_MSG_GETRULE:
    case kMsgGetRuleReset: {
      MsgHead rh = h;
      rh.flags |= NLM_F_APPEND;
      for (const auto& t : store_.tables)
        if (table_filter(NFTA_RULE_TABLE, t))
          for (const auto& c : t.chains) {
            if (a[NFTA_RULE_CHAIN] && attr_str(a[NFTA_RULE_CHAIN]) != c.name) continue;
            for (const auto& r : c.rules) {
              put_rule(w, NFT_MSG_NEWRULE, rh, t, c, r, &counters_);
              pk.flush_if_full();
            }
          }
      break;
    }
    case NFT_MSG_GETSET:
      for (const auto& t : store_.tables)
        if (table_filter(NFTA_SET_TABLE, t))
          for (const auto& s : t.sets) {
            put_set(w, NFT_MSG_NEWSET, h, t, s);
            pk.flush_if_full();
          }
      break;
    case NFT_MSG_GETSETELEM:
    case kMsgGetSetElemReset: {
      if (!a[NFTA_SET_ELEM_LIST_TABLE] || !a[NFTA_SET_ELEM_LIST_SET]) return nl_error(EINVAL);
      const TableObj* t = store_.table(family, attr_str(a[NFTA_SET_ELEM_LIST_TABLE]));
      if (!t) return nl_error(ENOENT, a[NFTA_SET_ELEM_LIST_TABLE]);
      const SetObj* s = t->set(attr_str(a[NFTA_SET_ELEM_LIST_SET]));
      if (!s) return nl_error(ENOENT, a[NFTA_SET_ELEM_LIST_SET]);
      uint64_t now = now_ms();
      std::vector<const ElemObj*> live;
      live.reserve(s->elems.size());
      for (const auto& e : s->elems)
        if (!e.expires_at_ms || e.expires_at_ms > now) live.push_back(&e);
      // nf_tables_dump_set() emits one message per skb-full of elements, and a last, empty one.
      std::span<const ElemObj* const> all(live);
      for (size_t i = 0; i < live.size(); i += 256) {
        put_elems(w, NFT_MSG_NEWSETELEM, h, *t, *s, all.subspan(i, std::min<size_t>(live.size() - i, 256)), now);
        pk.flush();
      }
      put_elems(w, NFT_MSG_NEWSETELEM, h, *t, *s, {}, now);
      pk.finish(nlh->nlmsg_seq, peer.portid, false);
      return std::nullopt;
    }
    case NFT_MSG_GETOBJ:
    case NFT_MSG_GETOBJ_RESET:
      for (const auto& t : store_.tables)
        if (table_filter(NFTA_OBJ_TABLE, t))
          for (const auto& o : t.objs) {
            if (a[NFTA_OBJ_TYPE] && attr_be32(a[NFTA_OBJ_TYPE]) != o.type) continue;
            put_obj(w, NFT_MSG_NEWOBJ, h, t, o);
            pk.flush_if_full();
          }
      break;
    case NFT_MSG_GETFLOWTABLE:
      for (const auto& t : store_.tables)
        if (table_filter(NFTA_FLOWTABLE_TABLE, t))
          for (const auto& f : t.flowtables) {
            put_flowtable(w, NFT_MSG_NEWFLOWTABLE, h, t, f);
            pk.flush_if_full();
          }
      break;
    default:
      return nl_error(EOPNOTSUPP);
  }
  pk.finish(nlh->nlmsg_seq, peer.portid);
  return std::nullopt;
}

Status NftServer::get_one(const nlmsghdr* nlh, const Peer& peer, std::vector<Datagram>& out) {
  if (dump_begin_) dump_begin_();
  uint8_t family = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family;
  Attrs a = Attrs::parse(nlh);
  MsgHead h{0, nlh->nlmsg_seq, peer.portid, static_cast<uint16_t>(store_.genid & 0xffff)};
  MsgWriter w;
  auto find_table = [&](int attr, const TableObj*& t) -> Status {
    if (!a[attr]) return nl_error(EINVAL);
    t = store_.table(family, attr_str(a[attr]));
    if (!t) return nl_error(ENOENT, a[attr]);
    return std::nullopt;
  };
  const TableObj* t = nullptr;
  switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case NFT_MSG_GETTABLE:
      if (auto e = find_table(NFTA_TABLE_NAME, t)) return e;
      put_table(w, NFT_MSG_NEWTABLE, h, *t);
      break;
    case NFT_MSG_GETCHAIN: {
      if (auto e = find_table(NFTA_CHAIN_TABLE, t)) return e;
      if (!a[NFTA_CHAIN_NAME]) return nl_error(EINVAL);
      const ChainObj* c = t->chain(attr_str(a[NFTA_CHAIN_NAME]));
      if (!c) return nl_error(ENOENT, a[NFTA_CHAIN_NAME]);
      put_chain(w, NFT_MSG_NEWCHAIN, h, *t, *c);
      break;
    }
    case NFT_MSG_GETRULE:
    case kMsgGetRuleReset: {
      if (auto e = find_table(NFTA_RULE_TABLE, t)) return e;
      if (!a[NFTA_RULE_CHAIN]) return nl_error(EINVAL);
      const ChainObj* c = t->chain(attr_str(a[NFTA_RULE_CHAIN]));
      if (!c) return nl_error(ENOENT, a[NFTA_RULE_CHAIN]);
      if (!a[NFTA_RULE_HANDLE]) return nl_error(EINVAL);
      uint64_t handle = attr_be64(a[NFTA_RULE_HANDLE]);
      const RuleObj* r = nullptr;
      for (const auto& x : c->rules)
        if (x.handle == handle) r = &x;
      if (!r) return nl_error(ENOENT, a[NFTA_RULE_HANDLE]);
      put_rule(w, NFT_MSG_NEWRULE, h, *t, *c, *r, &counters_);
      break;
    }
    case NFT_MSG_GETSET: {
      if (auto e = find_table(NFTA_SET_TABLE, t)) return e;
      if (!a[NFTA_SET_NAME]) return nl_error(EINVAL);
      const SetObj* s = t->set(attr_str(a[NFTA_SET_NAME]));
      if (!s) return nl_error(ENOENT, a[NFTA_SET_NAME]);
      put_set(w, NFT_MSG_NEWSET, h, *t, *s);
      break;
    }
    default:
      // Single-element GETSETELEM, GETOBJ and GETFLOWTABLE by name are not served yet.
      return nl_error(EOPNOTSUPP);
  }
  out.push_back(w.take());
  return std::nullopt;
}

}  // namespace nfjit::nft
