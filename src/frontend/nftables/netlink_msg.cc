#include "frontend/nftables/netlink_msg.h"

#include <linux/netfilter/nf_tables.h>

#include <cstring>

namespace nfjit::nft {

namespace {
// Room for the largest single message we build; the kernel itself caps a dump message at a page-ish
// skb, and a rule with many expressions stays far below this.
constexpr size_t kMaxMsg = 1 << 18;

// One zeroed scratch area per thread, lent to one open message at a time.
struct Scratch {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kMaxMsg);
  bool lent = false;
};
thread_local Scratch t_scratch;
}  // namespace

MsgWriter::MsgWriter(MsgWriter&& o) noexcept
    : buf_(std::move(o.buf_)), scratch_(o.scratch_), own_scratch_(o.own_scratch_), cur_(o.cur_) {
  o.scratch_ = nullptr;
  o.cur_ = nullptr;
}

MsgWriter& MsgWriter::operator=(MsgWriter&& o) noexcept {
  if (this != &o) {
    release_scratch();
    buf_ = std::move(o.buf_);
    scratch_ = o.scratch_;
    own_scratch_ = o.own_scratch_;
    cur_ = o.cur_;
    o.scratch_ = nullptr;
    o.cur_ = nullptr;
  }
  return *this;
}

MsgWriter::~MsgWriter() { release_scratch(); }

void MsgWriter::release_scratch() {
  if (!scratch_) return;
  if (own_scratch_) {
    delete[] scratch_;
  } else {
    std::memset(scratch_, 0, kMaxMsg);  // abandoned mid-message: how much was written is unknown
    t_scratch.lent = false;
  }
  scratch_ = nullptr;
  cur_ = nullptr;
}

nlmsghdr* MsgWriter::begin(uint16_t type, uint16_t flags, uint32_t seq, uint32_t portid, uint8_t family,
                           uint16_t res_id) {
  release_scratch();
  if (!t_scratch.lent) {
    t_scratch.lent = true;
    scratch_ = t_scratch.bytes.data();
    own_scratch_ = false;
  } else {
    scratch_ = new uint8_t[kMaxMsg]();
    own_scratch_ = true;
  }
  cur_ = mnl_nlmsg_put_header(scratch_);
  cur_->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
  cur_->nlmsg_flags = flags;
  cur_->nlmsg_seq = seq;
  cur_->nlmsg_pid = portid;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(cur_, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(res_id);
  return cur_;
}

void MsgWriter::end() {
  size_t len = cur_->nlmsg_len;
  strip_nested_flag(scratch_ + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)),
                    len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(nfgenmsg)));
  size_t aligned = NLMSG_ALIGN(len);
  buf_.insert(buf_.end(), scratch_, scratch_ + aligned);
  if (own_scratch_) {
    delete[] scratch_;
  } else {
    // Everything a message writes lies inside its length: zeroing that restores the scratch area.
    std::memset(scratch_, 0, aligned);
    t_scratch.lent = false;
  }
  scratch_ = nullptr;
  cur_ = nullptr;
}

void strip_nested_flag(uint8_t* data, size_t len) {
  size_t off = 0;
  while (off + sizeof(nlattr) <= len) {
    auto* a = reinterpret_cast<nlattr*>(data + off);
    if (a->nla_len < sizeof(nlattr) || off + a->nla_len > len) return;
    if (a->nla_type & NLA_F_NESTED) {
      a->nla_type &= ~NLA_F_NESTED;
      strip_nested_flag(data + off + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
    }
    off += NLA_ALIGN(a->nla_len);
  }
}

Datagram build_ack(const nlmsghdr* req, const NlError* e, uint32_t portid, const SocketOptions& opt) {
  int err = e ? -e->err : 0;
  uint16_t flags = 0;
  size_t copy = sizeof(nlmsghdr);
  if (err && !opt.cap_ack)
    copy = req->nlmsg_len;
  else
    flags |= NLM_F_CAPPED;
  bool tlvs = opt.ext_ack && e && (!e->msg.empty() || (err && (e->bad_attr || e->miss_type)));
  if (tlvs) flags |= NLM_F_ACK_TLVS;

  Datagram out(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nlmsgerr) - sizeof(nlmsghdr) + copy) + 4096 +
               (e ? e->msg.size() : 0));
  nlmsghdr* nlh = mnl_nlmsg_put_header(out.data());
  nlh->nlmsg_type = NLMSG_ERROR;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = req->nlmsg_seq;
  nlh->nlmsg_pid = portid;
  auto* em = static_cast<nlmsgerr*>(
      mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr) - sizeof(nlmsghdr) + copy));
  em->error = err;
  std::memcpy(&em->msg, req, copy);
  if (tlvs) {
    if (!e->msg.empty()) mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, e->msg.c_str());
    if (err && e->bad_attr) {
      auto off = reinterpret_cast<const uint8_t*>(e->bad_attr) - reinterpret_cast<const uint8_t*>(req);
      mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, static_cast<uint32_t>(off));
    }
    if (err && e->miss_type) mnl_attr_put_u32(nlh, NLMSGERR_ATTR_MISS_TYPE, e->miss_type);
  }
  out.resize(nlh->nlmsg_len);
  return out;
}

void append_done(std::vector<uint8_t>& out, uint32_t seq, uint32_t portid) {
  size_t off = out.size();
  out.resize(off + NLMSG_HDRLEN + sizeof(int));
  nlmsghdr* nlh = mnl_nlmsg_put_header(out.data() + off);
  nlh->nlmsg_type = NLMSG_DONE;
  nlh->nlmsg_flags = NLM_F_MULTI;
  nlh->nlmsg_seq = seq;
  nlh->nlmsg_pid = portid;
  *static_cast<int*>(mnl_nlmsg_put_extra_header(nlh, sizeof(int))) = 0;
}

}  // namespace nfjit::nft
