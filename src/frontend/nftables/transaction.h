// One nf_tables batch: the messages between NFNL_MSG_BATCH_BEGIN and NFNL_MSG_BATCH_END applied, in
// order, to a private copy of the committed Store. The server commits the copy only when every message
// succeeded and the batch was closed, as nfnetlink_rcv_batch() does; otherwise the copy is dropped.
#pragma once

#include <linux/netfilter/nf_tables.h>

#include <array>
#include <map>
#include <string>

#include "frontend/nftables/dump_builder.h"
#include "frontend/nftables/nft_abi.h"
#include "frontend/nftables/netlink_msg.h"
#include "frontend/nftables/store.h"

namespace nfjit::nft {

// Top-level attributes of one nf_tables message, indexed by type (unknown types are ignored, as the
// kernel's nla_parse_deprecated() ignores them).
struct Attrs {
  static constexpr int kMax = 32;
  std::array<const nlattr*, kMax + 1> tb{};
  const nlattr* operator[](int type) const { return type <= kMax ? tb[type] : nullptr; }
  static Attrs parse(const nlmsghdr* nlh);
};

std::string attr_str(const nlattr* a);
uint32_t attr_be32(const nlattr* a);
uint64_t attr_be64(const nlattr* a);
// The attributes directly inside a nest (libmnl's mnl_attr_for_each_nested, usable from C++).
std::vector<const nlattr*> nested_attrs(const nlattr* nest);

// Notification queued by a successful message, delivered at commit: to multicast listeners, and to the
// sender too when the request carried NLM_F_ECHO.
struct Event {
  std::vector<uint8_t> msg;
  bool echo = false;
};

class Transaction {
 public:
  // `events_wanted`: someone listens to NFNLGRP_NFTABLES; otherwise only echoed (NLM_F_ECHO) events are
  // built, as the kernel builds none without a listener or a report request.
  Transaction(const Store& committed, const Peer& peer, uint64_t now_ms, bool events_wanted = true);

  // Applies one batch message. On error the store copy may be partially changed; the caller aborts.
  Status apply(const nlmsghdr* nlh);

  Store& store() { return s_; }
  std::vector<Event>& events() { return events_; }
  bool changed() const { return changed_; }

  // ---- used by the per-object handlers (table_ops.cc, chain_ops.cc, ...) ----
  struct Msg {
    const nlmsghdr* nlh;
    uint8_t family;
    Attrs a;
    uint16_t flags() const { return nlh->nlmsg_flags; }
  };
  Store& s() { return s_; }
  uint64_t now_ms() const { return now_ms_; }
  // Looks the table of a chain/rule/set/... message up: missing attribute EINVAL, unknown ENOENT.
  Status find_table(const Msg& m, int table_attr, TableObj*& out);
  // Queues the notification for an object the message created, changed or deleted.
  bool wants_events(const Msg& m) const { return events_wanted_ || (m.nlh->nlmsg_flags & NLM_F_ECHO); }
  template <typename Fill>
  void notify(const Msg& m, uint16_t type, uint16_t flag_mask, Fill fill) {
    if (!wants_events(m)) return;
    MsgWriter w;
    MsgHead h{static_cast<uint16_t>(m.nlh->nlmsg_flags & flag_mask), m.nlh->nlmsg_seq, peer_.portid,
              static_cast<uint16_t>(next_genid() & 0xffff)};
    fill(w, type, h);
    events_.push_back(Event{w.take(), (m.nlh->nlmsg_flags & NLM_F_ECHO) != 0});
  }
  void mark_changed() { changed_ = true; }
  uint32_t next_genid() const { return s_.genid + 1 == 0 ? 1 : s_.genid + 1; }

  // Objects created in this batch are referred to by id before they have names/handles.
  std::map<std::pair<std::string, uint32_t>, std::string> set_ids;    // (table, NFTA_SET_ID) -> name
  std::map<std::pair<std::string, uint32_t>, std::string> chain_ids;  // (table, NFTA_CHAIN_ID) -> name
  std::map<std::pair<std::string, uint32_t>, uint64_t> rule_ids;      // (table, NFTA_RULE_ID) -> handle

 private:
  Status dispatch(const nlmsghdr* nlh);
  Store s_;
  Peer peer_;
  uint64_t now_ms_;
  std::vector<Event> events_;
  bool events_wanted_ = true;
  bool changed_ = false;
};

// Per-object message handlers. Each implements the kernel's nf_tables_{new,del}<object>() checks.
Status new_table(Transaction& tx, const Transaction::Msg& m);
Status del_table(Transaction& tx, const Transaction::Msg& m, bool destroy);
Status new_chain(Transaction& tx, const Transaction::Msg& m);
Status del_chain(Transaction& tx, const Transaction::Msg& m, bool destroy);
Status new_rule(Transaction& tx, const Transaction::Msg& m);
Status del_rule(Transaction& tx, const Transaction::Msg& m, bool destroy);
Status new_set(Transaction& tx, const Transaction::Msg& m);
Status del_set(Transaction& tx, const Transaction::Msg& m, bool destroy);
Status new_setelem(Transaction& tx, const Transaction::Msg& m);
Status del_setelem(Transaction& tx, const Transaction::Msg& m, bool destroy);
Status new_obj(Transaction& tx, const Transaction::Msg& m);
Status del_obj(Transaction& tx, const Transaction::Msg& m, bool destroy);
Status new_flowtable(Transaction& tx, const Transaction::Msg& m);
Status del_flowtable(Transaction& tx, const Transaction::Msg& m, bool destroy);

// Removal helpers shared by table flush and chain/rule deletion (they queue the DEL notifications).
void remove_rule(Transaction& tx, const Transaction::Msg& m, TableObj& t, ChainObj& c, size_t index);
void remove_all_rules(Transaction& tx, const Transaction::Msg& m, TableObj& t, ChainObj& c);
void remove_set(Transaction& tx, const Transaction::Msg& m, TableObj& t, size_t index);
// The DELSET event of a set the caller erases itself (several at once: TableObj::erase_sets).
void notify_set_removal(Transaction& tx, const Transaction::Msg& m, const TableObj& t, const SetObj& s);

}  // namespace nfjit::nft
