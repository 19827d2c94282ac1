#include "runtime/conntrack_enabler.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace nfjit::runtime {

namespace {

constexpr const char* kChain = "enable";

// Sends one nf_tables batch built by `build` and waits for every ack; returns the first error.
template <typename Build>
Result<void> send_batch(Build build, bool ignore_enoent) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 2);
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
  uint32_t seq = 1;
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);
  build(batch, seq);
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);

  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl(mnl_socket_open(NETLINK_NETFILTER), mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_nlmsg_batch_stop(batch);
    return make_error(err, std::string("conntrack enabler: cannot open nfnetlink: ") + strerror(err));
  }
  ssize_t sent = mnl_socket_sendto(nl.get(), mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch));
  mnl_nlmsg_batch_stop(batch);
  if (sent < 0) {
    int err = errno;
    return make_error(err, std::string("conntrack enabler: send failed: ") + strerror(err));
  }
  // Every message carries NLM_F_ACK; read until all acks (or an error) arrived.
  uint32_t portid = mnl_socket_get_portid(nl.get());
  char rbuf[MNL_SOCKET_BUFFER_SIZE];
  int first_err = 0;
  for (uint32_t acks = 0; acks < seq - 3;) {
    ssize_t n = mnl_socket_recvfrom(nl.get(), rbuf, sizeof rbuf);
    if (n <= 0) break;
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(rbuf); mnl_nlmsg_ok(nlh, static_cast<int>(n));
         nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&n))) {
      if (nlh->nlmsg_pid != portid) continue;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        ++acks;
        if (e->error && !first_err && !(ignore_enoent && e->error == -ENOENT)) first_err = -e->error;
        if (e->error) acks = seq;  // the batch aborted: no more acks follow
      }
    }
  }
  if (first_err)
    return make_error(first_err, std::string("conntrack enabler: the kernel refused the nf_tables batch: ") +
                                     strerror(first_err));
  return {};
}

void put_table(mnl_nlmsg_batch* b, uint32_t& seq, uint16_t type, uint16_t flags) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, kConntrackTable);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(b)), type, NFPROTO_INET,
                                        flags | NLM_F_ACK, seq++);
  nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
  mnl_nlmsg_batch_next(b);
}

}  // namespace

Result<void> enable_conntrack() {
  // Delete-then-create in one transaction makes a second call replace rather than duplicate the rule.
  (void)disable_conntrack();
  return send_batch(
      [](mnl_nlmsg_batch* b, uint32_t& seq) {
        put_table(b, seq, NFT_MSG_NEWTABLE, NLM_F_CREATE);

        nftnl_chain* c = nftnl_chain_alloc();
        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, kConntrackTable);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, kChain);  // no hook: a regular chain, never run
        nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(b)), NFT_MSG_NEWCHAIN,
                                              NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq++);
        nftnl_chain_nlmsg_build_payload(nlh, c);
        nftnl_chain_free(c);
        mnl_nlmsg_batch_next(b);

        // ct state -> reg1 ; reg1 != 0  (the ct load is what takes the conntrack reference)
        nftnl_rule* r = nftnl_rule_alloc();
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, kConntrackTable);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, kChain);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_expr* ct = nftnl_expr_alloc("ct");
        nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
        nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, ct);
        nftnl_expr* cmp = nftnl_expr_alloc("cmp");
        nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
        uint32_t zero = 0;
        nftnl_expr_set(cmp, NFTNL_EXPR_CMP_DATA, &zero, sizeof zero);
        nftnl_rule_add_expr(r, cmp);
        nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(b)), NFT_MSG_NEWRULE, NFPROTO_INET,
                                    NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, seq++);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        nftnl_rule_free(r);
        mnl_nlmsg_batch_next(b);
      },
      false);
}

Result<void> disable_conntrack() {
  return send_batch([](mnl_nlmsg_batch* b, uint32_t& seq) { put_table(b, seq, NFT_MSG_DELTABLE, 0); }, true);
}

}  // namespace nfjit::runtime
