// Message framing as net/netfilter/nfnetlink.c does it: nfnetlink_rcv() picks batch or single-message
// processing; nfnetlink_rcv_batch() applies a batch all-or-nothing and delivers the queued acks after
// commit/abort; netlink_rcv_skb() acks single requests.
#include "frontend/nftables/nft_server.h"

#include <time.h>

#include <algorithm>
#include <cstring>

#include "frontend/nftables/nft_abi.h"
#include "frontend/nftables/transaction.h"

namespace nfjit::nft {

namespace {

constexpr size_t kMinNfMsg = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));

bool is_batch_type(uint16_t t) {
  switch (t) {
    case NFT_MSG_NEWTABLE: case NFT_MSG_DELTABLE: case NFT_MSG_NEWCHAIN: case NFT_MSG_DELCHAIN:
    case NFT_MSG_NEWRULE: case NFT_MSG_DELRULE: case NFT_MSG_NEWSET: case NFT_MSG_DELSET:
    case NFT_MSG_NEWSETELEM: case NFT_MSG_DELSETELEM: case NFT_MSG_NEWOBJ: case NFT_MSG_DELOBJ:
    case NFT_MSG_NEWFLOWTABLE: case NFT_MSG_DELFLOWTABLE: case kMsgDestroyTable: case kMsgDestroyChain:
    case kMsgDestroyRule: case kMsgDestroySet: case kMsgDestroySetElem: case kMsgDestroyObj:
    case kMsgDestroyFlowtable:
      return true;
    default:
      return false;
  }
}

BatchMsg describe_msg(const nlmsghdr* nlh, const Store& after) {
  BatchMsg m;
  m.nlh = nlh;
  m.type = NFNL_MSG_TYPE(nlh->nlmsg_type);
  m.family = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family;
  // Every object message names its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, ...).
  Attrs a = Attrs::parse(nlh);
  if (a[1] && m.family != NFPROTO_UNSPEC) m.table = attr_str(a[1]);
  if ((m.type == NFT_MSG_NEWSETELEM || m.type == NFT_MSG_DELSETELEM || m.type == kMsgDestroySetElem) &&
      a[NFTA_SET_ELEM_LIST_SET])
    m.set = attr_str(a[NFTA_SET_ELEM_LIST_SET]);
  if (m.type == NFT_MSG_NEWRULE && m.table) {
    if (a[NFTA_RULE_CHAIN]) m.chain = attr_str(a[NFTA_RULE_CHAIN]);
    if (a[NFTA_RULE_HANDLE]) {
      m.rule_handle = attr_be64(a[NFTA_RULE_HANDLE]);  // a replacement keeps its handle
    } else if (const TableObj* t = after.table(m.family, *m.table)) {
      m.rule_handle = t->next_handle - 1;  // the handle this message just allocated
    }
  }
  return m;
}

}  // namespace

namespace {
double mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
}  // namespace

uint64_t NftServer::now_ms() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

namespace {

// Zeroes the alignment padding after every attribute payload, recursing into NLA_F_NESTED attributes.
// Clients need not terminate strings (the kernel bounds them by nla_len with nla_strscpy), and libmnl
// 1.0.4 leaves padding uninitialised, while libnftnl's parsers strdup() string attributes: without this
// a name such as `counter name "cnt_ssh"` picks up whatever bytes follow it. A name whose length is a
// multiple of 4 and has no NUL still has no terminator here; libnftnl then reads into the next
// attribute and the lookup fails (ENOENT) rather than matching anything.
void zero_attrs(uint8_t* p, size_t len) {
  size_t off = 0;
  while (len - off >= NLA_HDRLEN) {
    auto* a = reinterpret_cast<nlattr*>(p + off);
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off) return;
    size_t aligned = std::min(static_cast<size_t>(NLA_ALIGN(a->nla_len)), len - off);
    std::memset(p + off + a->nla_len, 0, aligned - a->nla_len);
    if (a->nla_type & NLA_F_NESTED) zero_attrs(p + off + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
    off += aligned;
  }
}

void zero_attribute_padding(uint8_t* buf, size_t len) {
  size_t off = 0;
  while (len - off >= NLMSG_HDRLEN) {
    auto* nlh = reinterpret_cast<nlmsghdr*>(buf + off);
    if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len - off) return;
    const size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
    if (nlh->nlmsg_len > hdr) zero_attrs(buf + off + hdr, nlh->nlmsg_len - hdr);
    off += std::min(static_cast<size_t>(NLMSG_ALIGN(nlh->nlmsg_len)), len - off);
  }
}

}  // namespace

std::vector<Datagram> NftServer::handle(const uint8_t* buf, size_t len, const Peer& peer,
                                        const SocketOptions& opt) {
  std::vector<Datagram> out;
  // libmnl walks attributes up to NLMSG_ALIGN(nlmsg_len), which may pass the end of an unaligned
  // datagram, and strings need not be terminated: work on a zero-padded copy (found by the fuzzer).
  std::vector<uint8_t> padded(buf, buf + len);
  padded.resize(len + NLMSG_ALIGNTO + NLA_HDRLEN + 8, 0);
  zero_attribute_padding(padded.data(), len);
  buf = padded.data();
  auto* nlh = reinterpret_cast<const nlmsghdr*>(buf);
  // nfnetlink_rcv(): a runt or a header longer than the datagram is dropped without an answer.
  if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN || len < nlh->nlmsg_len) return out;
  if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
    handle_batch(buf, len, peer, opt, out);
    return out;
  }
  // netlink_rcv_skb(): each message in turn.
  size_t off = 0;
  while (len - off >= NLMSG_HDRLEN) {
    nlh = reinterpret_cast<const nlmsghdr*>(buf + off);
    if (nlh->nlmsg_len < NLMSG_HDRLEN || len - off < nlh->nlmsg_len) break;
    Status st;
    bool no_ack = false;
    if (compat_ && (nlh->nlmsg_flags & NLM_F_REQUEST) && nlh->nlmsg_type >= NLMSG_MIN_TYPE &&
        NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFT_COMPAT) {
      // Only the kernel knows which xt extensions and revisions it has: its answer, ack included.
      if (auto replies = compat_(nlh, peer)) {
        for (auto& d : *replies) out.push_back(std::move(d));
        size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
        if (step == 0 || step > len - off) break;
        off += step;
        continue;
      }
    }
    if ((nlh->nlmsg_flags & NLM_F_REQUEST) && nlh->nlmsg_type >= NLMSG_MIN_TYPE)
      st = handle_request(nlh, peer, out, no_ack);
    if (!no_ack && ((nlh->nlmsg_flags & NLM_F_ACK) || st))
      out.push_back(build_ack(nlh, st ? &*st : nullptr, peer.portid, opt));
    size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
    if (step == 0 || step > len - off) break;
    off += step;
  }
  return out;
}

Status NftServer::handle_request(const nlmsghdr* nlh, const Peer& peer, std::vector<Datagram>& out,
                                 bool& no_ack) {
  // nfnetlink_rcv_msg(): only nf_tables is served here.
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return nl_error(EINVAL);
  if (nlh->nlmsg_len < kMinNfMsg) return std::nullopt;
  uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
  if (type >= NFT_MSG_MAX + 9 /* 6.18's NFT_MSG_MAX */) return nl_error(EINVAL);
  if (is_batch_type(type)) return nl_error(EINVAL);
  if (type == NFT_MSG_GETGEN) {
    MsgWriter w;
    put_gen(w, MsgHead{0, nlh->nlmsg_seq, peer.portid, static_cast<uint16_t>(store_.genid & 0xffff)},
            store_.genid, peer);
    out.push_back(w.take());
    return std::nullopt;
  }
  if (nlh->nlmsg_flags & NLM_F_DUMP) {
    Status st = dump(nlh, peer, out);
    if (!st) no_ack = true;  // a started dump is answered by its NLMSG_DONE, not an ACK
    return st;
  }
  return get_one(nlh, peer, out);
}

void NftServer::handle_batch(const uint8_t* buf, size_t len, const Peer& peer, const SocketOptions& opt,
                             std::vector<Datagram>& out) {
  auto* begin = reinterpret_cast<const nlmsghdr*>(buf);
  if (len < kMinNfMsg || begin->nlmsg_len < kMinNfMsg) return;
  // nfnetlink_rcv_skb_batch(): NFNL_BATCH_GENID, and the subsystem in res_id (either byte order).
  const nlattr* genid_attr = nullptr;
  if (mnl_attr_parse(begin, sizeof(nfgenmsg), [](const nlattr* a, void* d) -> int {
        if (mnl_attr_get_type(a) == NFNL_BATCH_GENID) {
          if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return MNL_CB_ERROR;
          *static_cast<const nlattr**>(d) = a;
        }
        return MNL_CB_OK;
      }, &genid_attr) < 0) {
    NlError e = nl_error(EINVAL);
    out.push_back(build_ack(begin, &e, peer.portid, opt));
    return;
  }
  auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(begin));
  uint16_t res_id = nfg->res_id == NFNL_SUBSYS_NFTABLES ? NFNL_SUBSYS_NFTABLES : ntohs(nfg->res_id);
  if (res_id != NFNL_SUBSYS_NFTABLES) {
    // Other subsystems have no batch support (or are not ours): EINVAL past the last id, else EOPNOTSUPP.
    NlError e = nl_error(res_id >= NFNL_SUBSYS_COUNT ? EINVAL : EOPNOTSUPP);
    out.push_back(build_ack(begin, &e, peer.portid, opt));
    return;
  }
  if (genid_attr && ntohl(mnl_attr_get_u32(genid_attr)) != store_.genid) {
    NlError e = nl_error(ERESTART);
    out.push_back(build_ack(begin, &e, peer.portid, opt));
    return;
  }

  stats_ = BatchStats{};
  double t0 = mono_ms();
  bool events_wanted = has_listeners_ ? has_listeners_() : true;
  Transaction tx(store_, peer, now_ms(), events_wanted);
  enum { kFailure = 1, kDone = 2 };
  int status = 0;
  std::vector<std::pair<const nlmsghdr*, Status>> acks;
  std::vector<BatchMsg> msgs;
  size_t off = std::min<size_t>(NLMSG_ALIGN(begin->nlmsg_len), len);
  while (len - off >= NLMSG_HDRLEN) {
    auto* nlh = reinterpret_cast<const nlmsghdr*>(buf + off);
    if (nlh->nlmsg_len < NLMSG_HDRLEN || len - off < nlh->nlmsg_len || nlh->nlmsg_len < kMinNfMsg) {
      acks.clear();  // malformed framing: the whole batch fails without per-message errors
      status |= kFailure;
      break;
    }
    Status err;
    uint16_t type = nlh->nlmsg_type;
    if (!(nlh->nlmsg_flags & NLM_F_REQUEST)) {
      err = nl_error(EINVAL);
    } else if (type == NFNL_MSG_BATCH_BEGIN) {
      acks.clear();
      status |= kFailure;
      break;
    } else if (type == NFNL_MSG_BATCH_END) {
      status |= kDone;
      break;
    } else if (type < NLMSG_MIN_TYPE || NFNL_SUBSYS_ID(type) != res_id ||
               !is_batch_type(NFNL_MSG_TYPE(type))) {
      err = nl_error(EINVAL);
    } else {
      err = tx.apply(nlh);
      if (!err) msgs.push_back(describe_msg(nlh, tx.store()));
    }
    if ((nlh->nlmsg_flags & NLM_F_ACK) || err) {
      acks.emplace_back(nlh, err);
      if (err) status |= kFailure;
    }
    off += std::min<size_t>(NLMSG_ALIGN(nlh->nlmsg_len), len - off);
  }

  double t1 = mono_ms();
  stats_.messages = msgs.size();
  stats_.apply_ms = t1 - t0;
  if (status == kDone && tx.changed() && gate_) {
    if (auto refusal = gate_(store_, tx.store(), msgs)) {
      // The daemon could not put the new version in force: the batch fails as the kernel's would.
      const nlmsghdr* at = refusal->at ? refusal->at : (msgs.empty() ? nullptr : msgs.back().nlh);
      bool placed = false;
      for (auto& [m, st] : acks)
        if (m == at) st = refusal->error, placed = true;
      if (!placed && at) {
        // It asked for no ACK: an error is still reported, in batch order.
        auto pos = acks.begin();
        while (pos != acks.end() && pos->first < at) ++pos;
        acks.insert(pos, {at, refusal->error});
      }
      status |= kFailure;
    }
  }
  double t2 = mono_ms();
  stats_.gate_ms = t2 - t1;
  if (status == kDone && tx.changed()) {
    // Commit: the generation moves on, events go out (echoed ones to the sender first), then NEWGEN.
    Store& next = tx.store();
    next.genid = tx.next_genid();
    store_ = std::move(next);
    store_.settle();  // the old version is gone: fold the batch's element changes in place
    for (auto& ev : tx.events()) {
      if (ev.echo) out.push_back(ev.msg);
      if (notify_) notify_(ev.msg);
    }
    MsgWriter w;
    put_gen(w, MsgHead{0, begin->nlmsg_seq, peer.portid, static_cast<uint16_t>(store_.genid & 0xffff)},
            store_.genid, peer);
    Datagram gen = w.take();
    if (begin->nlmsg_flags & NLM_F_ECHO) out.push_back(gen);
    if (notify_) notify_(gen);
    if (changed_) changed_(store_);
  }
  for (auto& [nlh, st] : acks) out.push_back(build_ack(nlh, st ? &*st : nullptr, peer.portid, opt));
  stats_.commit_ms = mono_ms() - t2;
}

}  // namespace nfjit::nft
