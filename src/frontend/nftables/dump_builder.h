// Serialises stored objects into the messages the kernel emits for them, in the kernel's attribute
// order (nf_tables_fill_*_info in net/netfilter/nf_tables_api.c). Used by dumps, GET replies and
// notifications alike.
#pragma once

#include <span>

#include "frontend/nftables/counters.h"
#include "frontend/nftables/netlink_msg.h"
#include "frontend/nftables/store.h"

namespace nfjit::nft {

struct MsgHead {
  uint16_t flags = 0;     // NLM_F_MULTI for dumps; CREATE/EXCL/APPEND... for notifications
  uint32_t seq = 0;
  uint32_t portid = 0;
  uint16_t res_id = 0;    // genid & 0xffff
};

void put_table(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t);
void put_chain(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const ChainObj& c);
// `prev_handle`: NFTA_RULE_POSITION as the kernel adds it to NEWRULE notifications.
void put_rule(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const ChainObj& c,
              const RuleObj& r, const CounterSource* counters, uint64_t prev_handle = 0);
void put_set(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const SetObj& s);
// Elements of `s` in one message.
void put_elems(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const SetObj& s,
               std::span<const ElemObj* const> elems, uint64_t now_ms);
void put_obj(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t, const ObjObj& o);
void put_flowtable(MsgWriter& w, uint16_t type, const MsgHead& h, const TableObj& t,
                   const FlowtableObj& f);
void put_gen(MsgWriter& w, const MsgHead& h, uint32_t genid, const Peer& peer);

}  // namespace nfjit::nft
