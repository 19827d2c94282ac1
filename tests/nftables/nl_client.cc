#include <arpa/inet.h>
#include "nl_client.h"

#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <poll.h>

#include <cstring>

namespace nfjit::nft::test {

BatchBuilder& BatchBuilder::begin() {
  size_t off = buf_.size();
  buf_.resize(off + MNL_SOCKET_BUFFER_SIZE);
  nftnl_batch_begin(reinterpret_cast<char*>(buf_.data() + off), seq_++);
  buf_.resize(off + reinterpret_cast<nlmsghdr*>(buf_.data() + off)->nlmsg_len);
  return *this;
}

BatchBuilder& BatchBuilder::end() {
  size_t off = buf_.size();
  buf_.resize(off + MNL_SOCKET_BUFFER_SIZE);
  nftnl_batch_end(reinterpret_cast<char*>(buf_.data() + off), seq_++);
  buf_.resize(off + reinterpret_cast<nlmsghdr*>(buf_.data() + off)->nlmsg_len);
  return *this;
}

BatchBuilder& BatchBuilder::msg(uint16_t type, uint8_t family, uint16_t flags,
                                const std::function<void(nlmsghdr*)>& fill) {
  size_t off = buf_.size();
  buf_.resize(off + MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buf_.data() + off), type, family, flags, seq_++);
  if (fill) fill(nlh);
  buf_.resize(off + NLMSG_ALIGN(nlh->nlmsg_len));
  return *this;
}

BatchBuilder& BatchBuilder::raw(const Bytes& b) {
  buf_.insert(buf_.end(), b.begin(), b.end());
  return *this;
}

void fill_table(nlmsghdr* nlh, const char* name) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
  nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
  nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
}

void fill_base_chain(nlmsghdr* nlh, const char* table, const char* chain, uint32_t hook, int32_t prio,
                     uint32_t policy) {
  nftnl_chain* c = nftnl_chain_alloc();
  nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
  nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
  nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
  nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
  nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
  nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
  nftnl_chain_nlmsg_build_payload(nlh, c);
  nftnl_chain_free(c);
}

void fill_chain(nlmsghdr* nlh, const char* table, const char* chain) {
  nftnl_chain* c = nftnl_chain_alloc();
  nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
  nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
  nftnl_chain_nlmsg_build_payload(nlh, c);
  nftnl_chain_free(c);
}

void fill_rule(nlmsghdr* nlh, const char* table, const char* chain, uint64_t position, uint64_t handle,
               const char* jump_to, const char* comment) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
  if (position) nftnl_rule_set_u64(r, NFTNL_RULE_POSITION, position);
  if (handle) nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
  if (comment) nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, comment, strlen(comment) + 1);
  nftnl_expr* ctr = nftnl_expr_alloc("counter");
  nftnl_expr_set_u64(ctr, NFTNL_EXPR_CTR_PACKETS, 0);
  nftnl_expr_set_u64(ctr, NFTNL_EXPR_CTR_BYTES, 0);
  nftnl_rule_add_expr(r, ctr);
  nftnl_expr* imm = nftnl_expr_alloc("immediate");
  nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  if (jump_to) {
    nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_VERDICT, NFT_JUMP);
    nftnl_expr_set_str(imm, NFTNL_EXPR_IMM_CHAIN, jump_to);
  } else {
    nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
  }
  nftnl_rule_add_expr(r, imm);
  nftnl_rule_nlmsg_build_payload(nlh, r);
  nftnl_rule_free(r);
}

std::vector<Reply> decode(const std::vector<Datagram>& dgrams) {
  std::vector<Reply> out;
  for (const auto& d : dgrams) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(d.data());
    int len = static_cast<int>(d.size());
    while (mnl_nlmsg_ok(nlh, len)) {
      Reply r;
      r.type = nlh->nlmsg_type;
      r.flags = nlh->nlmsg_flags;
      auto* p = reinterpret_cast<const uint8_t*>(nlh);
      r.bytes.assign(p, p + nlh->nlmsg_len);
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        auto* em = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        r.error = em->error;
        if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
          size_t off = sizeof(nlmsgerr) - sizeof(nlmsghdr) +
                       ((nlh->nlmsg_flags & NLM_F_CAPPED) ? sizeof(nlmsghdr) : em->msg.nlmsg_len);
          auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, off));
          int left = static_cast<int>(nlh->nlmsg_len) - static_cast<int>(NLMSG_HDRLEN + NLMSG_ALIGN(off));
          while (mnl_attr_ok(a, left)) {
            if (mnl_attr_get_type(a) == NLMSGERR_ATTR_OFFS) r.bad_attr_offset = mnl_attr_get_u32(a);
            left -= NLA_ALIGN(a->nla_len);
            a = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(a) + NLA_ALIGN(a->nla_len));
          }
        }
      }
      out.push_back(std::move(r));
      nlh = mnl_nlmsg_next(nlh, &len);
    }
  }
  return out;
}

KernelSocket::KernelSocket(bool ext_ack) {
  nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK);
  if (!nl_) return;
  int on = ext_ack ? 1 : 0;
  mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID);
}

KernelSocket::~KernelSocket() {
  if (nl_) mnl_socket_close(nl_);
}

uint32_t KernelSocket::portid() const { return nl_ ? mnl_socket_get_portid(nl_) : 0; }

std::vector<Datagram> KernelSocket::talk(const Bytes& b) {
  std::vector<Datagram> out;
  if (!nl_) return out;
  mnl_socket_sendto(nl_, b.data(), b.size());
  std::vector<uint8_t> buf(1 << 17);
  for (;;) {
    pollfd p{mnl_socket_get_fd(nl_), POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) break;
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n <= 0) break;
    out.emplace_back(buf.begin(), buf.begin() + n);
  }
  return out;
}

}  // namespace nfjit::nft::test
