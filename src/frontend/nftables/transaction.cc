#include "frontend/nftables/transaction.h"

#include <cstring>

namespace nfjit::nft {

Attrs Attrs::parse(const nlmsghdr* nlh) {
  Attrs out;
  mnl_attr_parse(
      nlh, sizeof(nfgenmsg),
      [](const nlattr* a, void* data) -> int {
        auto* tb = static_cast<std::array<const nlattr*, kMax + 1>*>(data);
        int type = mnl_attr_get_type(a);
        if (type <= kMax) (*tb)[type] = a;
        return MNL_CB_OK;
      },
      &out.tb);
  return out;
}

std::string attr_str(const nlattr* a) {
  const char* p = static_cast<const char*>(mnl_attr_get_payload(a));
  return std::string(p, strnlen(p, mnl_attr_get_payload_len(a)));
}
uint32_t attr_be32(const nlattr* a) {
  return mnl_attr_get_payload_len(a) >= 4 ? ntohl(mnl_attr_get_u32(a)) : 0;
}
uint64_t attr_be64(const nlattr* a) {
  return mnl_attr_get_payload_len(a) >= 8 ? be64toh(mnl_attr_get_u64(a)) : 0;
}

std::vector<const nlattr*> nested_attrs(const nlattr* nest) {
  std::vector<const nlattr*> out;
  if (!nest) return out;
  auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
  int len = static_cast<int>(mnl_attr_get_payload_len(nest));
  while (mnl_attr_ok(a, len)) {
    out.push_back(a);
    len -= NLA_ALIGN(a->nla_len);
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(a) + NLA_ALIGN(a->nla_len));
  }
  return out;
}

Transaction::Transaction(const Store& committed, const Peer& peer, uint64_t now_ms, bool events_wanted)
    : s_(committed), peer_(peer), now_ms_(now_ms), events_wanted_(events_wanted) {}

Status Transaction::find_table(const Msg& m, int table_attr, TableObj*& out) {
  const nlattr* a = m.a[table_attr];
  if (!a) return nl_error(EINVAL);
  out = s_.table(m.family, attr_str(a));
  if (!out) return nl_error(ENOENT, a);
  return std::nullopt;
}

Status Transaction::apply(const nlmsghdr* orig) {
  // libnftnl strdup()s string attributes, which the kernel accepts without a terminating NUL: parse a
  // copy followed by zero bytes so such a string ends inside our buffer (found by the fuzzer).
  std::vector<uint8_t> copy(reinterpret_cast<const uint8_t*>(orig),
                            reinterpret_cast<const uint8_t*>(orig) + orig->nlmsg_len);
  copy.resize(copy.size() + NLA_HDRLEN + 8, 0);
  auto* nlh = reinterpret_cast<const nlmsghdr*>(copy.data());
  Status st = dispatch(nlh);
  if (st && st->bad_attr) {
    // extack offsets are relative to the request the client sent.
    size_t off = reinterpret_cast<const uint8_t*>(st->bad_attr) - copy.data();
    st->bad_attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(orig) + off);
  }
  return st;
}

Status Transaction::dispatch(const nlmsghdr* nlh) {
  Msg m{nlh, static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family, Attrs::parse(nlh)};
  switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case NFT_MSG_NEWTABLE: return new_table(*this, m);
    case NFT_MSG_DELTABLE: return del_table(*this, m, false);
    case kMsgDestroyTable: return del_table(*this, m, true);
    case NFT_MSG_NEWCHAIN: return new_chain(*this, m);
    case NFT_MSG_DELCHAIN: return del_chain(*this, m, false);
    case kMsgDestroyChain: return del_chain(*this, m, true);
    case NFT_MSG_NEWRULE: return new_rule(*this, m);
    case NFT_MSG_DELRULE: return del_rule(*this, m, false);
    case kMsgDestroyRule: return del_rule(*this, m, true);
    case NFT_MSG_NEWSET: return new_set(*this, m);
    case NFT_MSG_DELSET: return del_set(*this, m, false);
    case kMsgDestroySet: return del_set(*this, m, true);
    case NFT_MSG_NEWSETELEM: return new_setelem(*this, m);
    case NFT_MSG_DELSETELEM: return del_setelem(*this, m, false);
    case kMsgDestroySetElem: return del_setelem(*this, m, true);
    case NFT_MSG_NEWOBJ: return new_obj(*this, m);
    case NFT_MSG_DELOBJ: return del_obj(*this, m, false);
    case kMsgDestroyObj: return del_obj(*this, m, true);
    case NFT_MSG_NEWFLOWTABLE: return new_flowtable(*this, m);
    case NFT_MSG_DELFLOWTABLE: return del_flowtable(*this, m, false);
    case kMsgDestroyFlowtable: return del_flowtable(*this, m, true);
    default:
      // Not a batch callback (GET*, NEWGEN...): nfnetlink refuses it inside a batch.
      return nl_error(EINVAL);
  }
}

}  // namespace nfjit::nft
