#include "frontend/nftables/dump_builder.h"

#include <libnftnl/expr.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>

namespace nfjit::nft {

namespace {

void put_u64(nlmsghdr* nlh, uint16_t type, uint64_t v) { mnl_attr_put_u64(nlh, type, htobe64(v)); }
void put_u32(nlmsghdr* nlh, uint16_t type, uint32_t v) { mnl_attr_put_u32(nlh, type, htonl(v)); }
void put_bytes(nlmsghdr* nlh, uint16_t type, const std::vector<uint8_t>& b) {
  mnl_attr_put(nlh, type, b.size(), b.data());
}

// NFTA_DATA_VALUE inside `type`, as nft_data_dump() writes a value.
void put_data_value(nlmsghdr* nlh, uint16_t type, const void* data, uint32_t len) {
  nlattr* nest = mnl_attr_nest_start(nlh, type);
  mnl_attr_put(nlh, NFTA_DATA_VALUE, len, data);
  mnl_attr_nest_end(nlh, nest);
}

}  // namespace

void put_table(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t) {
  nlmsghdr* nlh = w.begin(type, h.flags, h.seq, h.portid, t.family, h.res_id);
  mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, t.name.c_str());
  put_u32(nlh, NFTA_TABLE_USE, t.table_use());
  put_u64(nlh, NFTA_TABLE_HANDLE, t.handle);
  put_u32(nlh, NFTA_TABLE_FLAGS, t.flags);
  if (!t.userdata.empty()) put_bytes(nlh, NFTA_TABLE_USERDATA, t.userdata);
  w.end();
}

void put_chain(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const ChainObj& c) {
  nlmsghdr* nlh = w.begin(type, h.flags, h.seq, h.portid, t.family, h.res_id);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, t.name.c_str());
  mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, c.name.c_str());
  put_u64(nlh, NFTA_CHAIN_HANDLE, c.handle);
  if (c.hook) {
    nlattr* nest = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
    put_u32(nlh, NFTA_HOOK_HOOKNUM, c.hook->hooknum);
    put_u32(nlh, NFTA_HOOK_PRIORITY, static_cast<uint32_t>(c.hook->priority));
    if (!c.hook->devices.empty()) {
      // nft_dump_basechain_hook(): the device list, and NFTA_HOOK_DEV as well when there is one.
      nlattr* devs = mnl_attr_nest_start(nlh, NFTA_HOOK_DEVS);
      for (const auto& d : c.hook->devices) mnl_attr_put(nlh, NFTA_DEVICE_NAME, d.size(), d.data());
      mnl_attr_nest_end(nlh, devs);
      if (c.hook->devices.size() == 1) mnl_attr_put_strz(nlh, NFTA_HOOK_DEV, c.hook->devices[0].c_str());
    }
    mnl_attr_nest_end(nlh, nest);
    put_u32(nlh, NFTA_CHAIN_POLICY, c.policy.value_or(NF_ACCEPT));
    mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, c.type.c_str());
  }
  if (c.flags) put_u32(nlh, NFTA_CHAIN_FLAGS, c.flags);
  put_u32(nlh, NFTA_CHAIN_USE, t.chain_use(c));
  if (!c.userdata.empty()) put_bytes(nlh, NFTA_CHAIN_USERDATA, c.userdata);
  w.end();
}

void put_rule(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const ChainObj& c,
              const RuleObj& r, const CounterSource* counters, uint64_t prev_handle) {
  if (counters && *counters) {
    // Live values go into the stored counter expressions right before serialising them.
    nftnl_expr_iter* it = nftnl_expr_iter_create(r.exprs.get());
    uint32_t idx = 0;
    for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it), ++idx) {
      if (std::strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") != 0) continue;
      if (auto v = (*counters)(CounterKey{t.family, t.name, c.name, r.handle, idx})) {
        nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, v->packets);
        nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, v->bytes);
      }
    }
    nftnl_expr_iter_destroy(it);
  }
  nlmsghdr* nlh = w.begin(type, h.flags, h.seq, h.portid, t.family, h.res_id);
  mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, t.name.c_str());
  mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, c.name.c_str());
  put_u64(nlh, NFTA_RULE_HANDLE, r.handle);
  if (prev_handle) put_u64(nlh, NFTA_RULE_POSITION, prev_handle);
  // The stored nftnl_rule carries nothing but its expression list, so this writes NFTA_RULE_EXPRESSIONS.
  nftnl_rule_nlmsg_build_payload(nlh, r.exprs.get());
  if (!r.userdata.empty()) put_bytes(nlh, NFTA_RULE_USERDATA, r.userdata);
  w.end();
}

void put_set(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const SetObj& s) {
  nftnl_set* a = s.attrs.get();
  auto u32_or = [&](uint16_t attr, uint32_t dflt) {
    return nftnl_set_is_set(a, attr) ? nftnl_set_get_u32(a, attr) : dflt;
  };
  nlmsghdr* nlh = w.begin(type, h.flags, h.seq, h.portid, t.family, h.res_id);
  mnl_attr_put_strz(nlh, NFTA_SET_TABLE, t.name.c_str());
  mnl_attr_put_strz(nlh, NFTA_SET_NAME, s.name.c_str());
  put_u64(nlh, NFTA_SET_HANDLE, s.handle);
  put_u32(nlh, NFTA_SET_FLAGS, s.flags);
  put_u32(nlh, NFTA_SET_KEY_TYPE, u32_or(NFTNL_SET_KEY_TYPE, 0));
  put_u32(nlh, NFTA_SET_KEY_LEN, u32_or(NFTNL_SET_KEY_LEN, 0));
  if (s.flags & NFT_SET_MAP) {
    put_u32(nlh, NFTA_SET_DATA_TYPE, u32_or(NFTNL_SET_DATA_TYPE, 0));
    put_u32(nlh, NFTA_SET_DATA_LEN, u32_or(NFTNL_SET_DATA_LEN, 0));
  }
  if ((s.flags & NFT_SET_OBJECT) && nftnl_set_is_set(a, NFTNL_SET_OBJ_TYPE))
    put_u32(nlh, NFTA_SET_OBJ_TYPE, nftnl_set_get_u32(a, NFTNL_SET_OBJ_TYPE));
  if (nftnl_set_is_set(a, NFTNL_SET_TIMEOUT) && nftnl_set_get_u64(a, NFTNL_SET_TIMEOUT))
    put_u64(nlh, NFTA_SET_TIMEOUT, nftnl_set_get_u64(a, NFTNL_SET_TIMEOUT));
  if (nftnl_set_is_set(a, NFTNL_SET_GC_INTERVAL) && nftnl_set_get_u32(a, NFTNL_SET_GC_INTERVAL))
    put_u32(nlh, NFTA_SET_GC_INTERVAL, nftnl_set_get_u32(a, NFTNL_SET_GC_INTERVAL));
  if (u32_or(NFTNL_SET_POLICY, NFT_SET_POL_PERFORMANCE) != NFT_SET_POL_PERFORMANCE)
    put_u32(nlh, NFTA_SET_POLICY, nftnl_set_get_u32(a, NFTNL_SET_POLICY));
  if (nftnl_set_is_set(a, NFTNL_SET_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_set_get_data(a, NFTNL_SET_USERDATA, &len);
    mnl_attr_put(nlh, NFTA_SET_USERDATA, len, ud);
  }
  nlattr* desc = mnl_attr_nest_start(nlh, NFTA_SET_DESC);
  if (nftnl_set_is_set(a, NFTNL_SET_DESC_SIZE) && nftnl_set_get_u32(a, NFTNL_SET_DESC_SIZE))
    put_u32(nlh, NFTA_SET_DESC_SIZE, nftnl_set_get_u32(a, NFTNL_SET_DESC_SIZE));
  if (nftnl_set_is_set(a, NFTNL_SET_DESC_CONCAT)) {
    uint32_t len = 0;
    const auto* fields = static_cast<const uint8_t*>(nftnl_set_get_data(a, NFTNL_SET_DESC_CONCAT, &len));
    if (len > 1) {
      nlattr* concat = mnl_attr_nest_start(nlh, NFTA_SET_DESC_CONCAT);
      for (uint32_t i = 0; i < len && fields[i]; ++i) {
        nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        put_u32(nlh, NFTA_SET_FIELD_LEN, fields[i]);
        mnl_attr_nest_end(nlh, elem);
      }
      mnl_attr_nest_end(nlh, concat);
    }
  }
  mnl_attr_nest_end(nlh, desc);
  w.end();
}

void put_elems(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const SetObj& s,
               std::span<const ElemObj* const> elems, uint64_t now_ms) {
  nlmsghdr* nlh = w.begin(type, h.flags, h.seq, h.portid, t.family, h.res_id);
  mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, t.name.c_str());
  mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s.name.c_str());
  nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
  for (const ElemObj* eo : elems) {
    nftnl_set_elem* e = eo->elem.get();
    nlattr* one = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    uint32_t len = 0;
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY)) {
      const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
      put_data_value(nlh, NFTA_SET_ELEM_KEY, k, len);
    }
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
      const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
      put_data_value(nlh, NFTA_SET_ELEM_KEY_END, k, len);
    }
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
      nlattr* data = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
      nlattr* verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
      put_u32(nlh, NFTA_VERDICT_CODE, nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT));
      if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
        mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
      mnl_attr_nest_end(nlh, verdict);
      mnl_attr_nest_end(nlh, data);
    } else if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
      const void* d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
      put_data_value(nlh, NFTA_SET_ELEM_DATA, d, len);
    }
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_OBJREF))
      mnl_attr_put_strz(nlh, NFTA_SET_ELEM_OBJREF, nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_OBJREF));
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) && nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS))
      put_u32(nlh, NFTA_SET_ELEM_FLAGS, nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS));
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT)) {
      put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT));
      uint64_t left = eo->expires_at_ms > now_ms ? eo->expires_at_ms - now_ms : 0;
      put_u64(nlh, NFTA_SET_ELEM_EXPIRATION, left);
    }
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
      const void* ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
      mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, len, ud);
    }
    mnl_attr_nest_end(nlh, one);
  }
  mnl_attr_nest_end(nlh, list);
  w.end();
}

void put_obj(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const ObjObj& o) {
  nlmsghdr* nlh = w.begin(type, h.flags, h.seq, h.portid, t.family, h.res_id);
  // The stored object holds table, name, type and its data; the handle is ours.
  nftnl_obj_set_u64(o.obj.get(), NFTNL_OBJ_HANDLE, o.handle);
  nftnl_obj_nlmsg_build_payload(nlh, o.obj.get());
  put_u32(nlh, NFTA_OBJ_USE, 0);
  w.end();
}

void put_flowtable(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t,
                   const FlowtableObj& f) {
  nlmsghdr* nlh = w.begin(type, h.flags, h.seq, h.portid, t.family, h.res_id);
  nftnl_flowtable_set_u64(f.ft.get(), NFTNL_FLOWTABLE_HANDLE, f.handle);
  nftnl_flowtable_nlmsg_build_payload(nlh, f.ft.get());
  w.end();
}

void put_gen(MsgWriter& w, const MsgHead& h, uint32_t genid, const Peer& peer) {
  nlmsghdr* nlh = w.begin(NFT_MSG_NEWGEN, h.flags, h.seq, h.portid, AF_UNSPEC, h.res_id);
  put_u32(nlh, NFTA_GEN_ID, genid);
  put_u32(nlh, NFTA_GEN_PROC_PID, peer.pid);
  mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, peer.comm.c_str());
  w.end();
}

}  // namespace nfjit::nft
