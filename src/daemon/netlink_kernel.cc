#include "daemon/netlink_kernel.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "frontend/nftables/dump_builder.h"

namespace nfjit::daemon {
namespace {

constexpr size_t kBatchBytes = 64u << 20;   // SO_SNDBUFFORCE: a whole table goes in one sendmsg
constexpr size_t kElemsPerMsg = 256;        // elements per NEWSETELEM message

long sys_socket(int d, int t, int p) { return syscall(SYS_socket, d, t, p); }

// Attributes the kernel writes in dumps but refuses or misreads in NEW* requests.
std::set<uint16_t> read_only_attrs(uint16_t type) {
  switch (type) {
    case NFT_MSG_NEWTABLE: return {NFTA_TABLE_USE, NFTA_TABLE_HANDLE};
    case NFT_MSG_NEWCHAIN: return {NFTA_CHAIN_HANDLE, NFTA_CHAIN_USE};
    case NFT_MSG_NEWRULE: return {NFTA_RULE_HANDLE, NFTA_RULE_POSITION};
    case NFT_MSG_NEWSET: return {NFTA_SET_HANDLE};
    case NFT_MSG_NEWOBJ: return {NFTA_OBJ_HANDLE, NFTA_OBJ_USE};
    case NFT_MSG_NEWFLOWTABLE: return {NFTA_FLOWTABLE_HANDLE, NFTA_FLOWTABLE_USE};
    default: return {};
  }
}

// Appends the one message in `built` to `out` as a request: read-only attributes dropped, request
// flags, res_id 0, plus `extra` (an attribute writer) at the end.
template <typename Extra>
void append_request(std::vector<uint8_t>& out, const std::vector<uint8_t>& built, uint16_t flags, uint32_t seq,
                    Extra extra) {
  auto* in = reinterpret_cast<const nlmsghdr*>(built.data());
  uint16_t type = NFNL_MSG_TYPE(in->nlmsg_type);
  auto drop = read_only_attrs(type);
  std::vector<uint8_t> buf(built.size() + 256);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = in->nlmsg_type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  *nfg = *static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(in));
  nfg->res_id = 0;
  for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(in, sizeof(nfgenmsg)));
       mnl_attr_ok(a, static_cast<int>(reinterpret_cast<const char*>(mnl_nlmsg_get_payload_tail(in)) -
                                       reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a)) {
    if (drop.count(mnl_attr_get_type(a))) continue;
    std::memcpy(reinterpret_cast<uint8_t*>(nlh) + nlh->nlmsg_len, a, NLA_ALIGN(a->nla_len));
    nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
  }
  extra(nlh);
  out.insert(out.end(), buf.data(), buf.data() + nlh->nlmsg_len);
}

void append_batch_marker(std::vector<uint8_t>& out, uint16_t type, uint32_t seq) {
  uint8_t buf[64] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
  out.insert(out.end(), buf, buf + nlh->nlmsg_len);
}

// The kernel's error for a failed request: errno and the extended-ack message if it sent one.
Error kernel_error(const nlmsghdr* nlh, const std::string& what) {
  auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  std::string msg;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    size_t off = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - sizeof(nlmsghdr);
    for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, off));
         mnl_attr_ok(a, static_cast<int>(reinterpret_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh)) -
                                         reinterpret_cast<const char*>(a)));
         a = mnl_attr_next(a))
      if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG) msg = static_cast<const char*>(mnl_attr_get_payload(a));
  }
  int err = -e->error;
  return make_error(err, what + ": " + std::strerror(err) + (msg.empty() ? "" : " (" + msg + ")"));
}

}  // namespace

Result<void> KernelNftables::ensure_open() {
  if (fd_.valid()) return {};
  long fd = sys_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return make_error(errno, std::string("kernel nf_tables socket: ") + std::strerror(errno));
  runtime::Fd f(static_cast<int>(fd));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (syscall(SYS_bind, f.get(), &sa, sizeof(sa)) < 0)
    return make_error(errno, std::string("kernel nf_tables bind: ") + std::strerror(errno));
  int size = static_cast<int>(kBatchBytes);
  syscall(SYS_setsockopt, f.get(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
  syscall(SYS_setsockopt, f.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  // Extended acks carry the kernel's reason for a refused table (no CAP_ACK: forwarded errors keep the
  // request echo a client without options expects).
  int one = 1;
  syscall(SYS_setsockopt, f.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  fd_ = std::move(f);
  return {};
}

Result<void> KernelNftables::send(const std::vector<uint8_t>& bytes) {
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  long n = syscall(SYS_sendto, fd_.get(), bytes.data(), bytes.size(), 0, &to, sizeof(to));
  if (n < 0) return make_error(errno, std::string("kernel nf_tables send: ") + std::strerror(errno));
  if (static_cast<size_t>(n) != bytes.size()) return make_error(EMSGSIZE, "kernel nf_tables send: short write");
  return {};
}

Result<std::vector<nft::Datagram>> KernelNftables::drain(bool wait_for_done, uint32_t seq) {
  std::vector<nft::Datagram> out;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    long n = syscall(SYS_recvfrom, fd_.get(), buf.data(), buf.size(), wait_for_done ? 0 : MSG_DONTWAIT, nullptr,
                     nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && !wait_for_done) return out;
      return make_error(errno, std::string("kernel nf_tables receive: ") + std::strerror(errno));
    }
    out.emplace_back(buf.begin(), buf.begin() + n);
    if (!wait_for_done) continue;
    // A dump ends with NLMSG_DONE or an error for our request.
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(out.back().data()); mnl_nlmsg_ok(nlh, static_cast<int>(n));
         nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&n))) {
      if (nlh->nlmsg_seq == seq && (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR)) return out;
    }
  }
}

Result<void> KernelNftables::replace(uint8_t family, const std::string& name, bool had_copy,
                                     const nft::TableObj* t, const nft::CounterSource& counters) {
  if (auto ok = ensure_open(); !ok) return ok.error();
  // Anything left over from an earlier exchange is not ours to interpret.
  (void)drain(false, 0);
  std::vector<uint8_t> batch;
  uint32_t seq = seq_;
  seq_ += 1;
  append_batch_marker(batch, NFNL_MSG_BATCH_BEGIN, seq);
  auto none = [](nlmsghdr*) {};
  if (had_copy) {
    uint8_t buf[512] = {};
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = seq;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = family;
    nfg->version = NFNETLINK_V0;
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name.c_str());
    batch.insert(batch.end(), buf, buf + nlh->nlmsg_len);
  }
  if (t) {
    nft::MsgHead h{0, seq, 0, 0};
    auto built = [&](auto fill) {
      nft::MsgWriter w;
      fill(w);
      return w.take();
    };
    // A first copy must not merge into a table someone made in the kernel without nfjit.
    append_request(batch, built([&](auto& w) { put_table(w, NFT_MSG_NEWTABLE, h, *t); }),
                   NLM_F_CREATE | (had_copy ? 0 : NLM_F_EXCL), seq, none);
    for (const auto& c : t->chains)
      append_request(batch, built([&](auto& w) { put_chain(w, NFT_MSG_NEWCHAIN, h, *t, c); }), NLM_F_CREATE, seq,
                     none);
    for (const auto& o : t->objs)
      append_request(batch, built([&](auto& w) { put_obj(w, NFT_MSG_NEWOBJ, h, *t, o); }), NLM_F_CREATE, seq, none);
    uint32_t set_id = 1;
    for (const auto& s : t->sets) {
      uint32_t id = set_id++;
      append_request(batch, built([&](auto& w) { put_set(w, NFT_MSG_NEWSET, h, *t, s); }), NLM_F_CREATE, seq,
                     [id](nlmsghdr* nlh) { mnl_attr_put_u32(nlh, NFTA_SET_ID, htonl(id)); });
      std::vector<const nft::ElemObj*> elems;
      elems.reserve(s.elems.size());
      for (const auto& e : s.elems) elems.push_back(&e);
      std::span<const nft::ElemObj* const> all(elems);
      for (size_t i = 0; i < elems.size(); i += kElemsPerMsg) {
        auto part = all.subspan(i, std::min(elems.size() - i, kElemsPerMsg));
        append_request(batch, built([&](auto& w) { put_elems(w, NFT_MSG_NEWSETELEM, h, *t, s, part, 0); }),
                       NLM_F_CREATE, seq, none);
      }
    }
    for (const auto& f : t->flowtables)
      append_request(batch, built([&](auto& w) { put_flowtable(w, NFT_MSG_NEWFLOWTABLE, h, *t, f); }),
                     NLM_F_CREATE, seq, none);
    for (const auto& c : t->chains)
      for (const auto& r : c.rules)
        append_request(batch, built([&](auto& w) { put_rule(w, NFT_MSG_NEWRULE, h, *t, c, r, &counters); }),
                       NLM_F_CREATE | NLM_F_APPEND, seq, none);
  }
  append_batch_marker(batch, NFNL_MSG_BATCH_END, seq);
  if (auto ok = send(batch); !ok) return ok.error();
  // nfnetlink runs the batch inside sendmsg(): its errors (no message asked for an ACK) are queued now.
  auto replies = drain(false, 0);
  if (!replies) return replies.error();
  for (const auto& d : *replies) {
    int len = static_cast<int>(d.size());
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(d.data()); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq != seq) continue;
      auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (e->error != 0) return kernel_error(nlh, "the kernel's nf_tables refused the table");
    }
  }
  return {};
}

Result<KernelCounters> KernelNftables::counters(uint8_t family, const std::string& name) {
  if (auto ok = ensure_open(); !ok) return ok.error();
  (void)drain(false, 0);
  uint32_t seq = seq_++;
  uint8_t buf[512] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, name.c_str());
  if (auto ok = send(std::vector<uint8_t>(buf, buf + nlh->nlmsg_len)); !ok) return ok.error();
  auto replies = drain(true, seq);
  if (!replies) return replies.error();
  KernelCounters out;
  std::map<std::string, size_t> position;  // next rule index per chain
  for (const auto& d : *replies) {
    int len = static_cast<int>(d.size());
    for (auto* m = reinterpret_cast<const nlmsghdr*>(d.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq) continue;
      if (m->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (e->error) return kernel_error(m, "dumping the kernel's rules of " + name);
        continue;
      }
      if (NFNL_MSG_TYPE(m->nlmsg_type) != NFT_MSG_NEWRULE) continue;
      nftnl_rule* r = nftnl_rule_alloc();
      if (nftnl_rule_nlmsg_parse(m, r) == 0 && nftnl_rule_is_set(r, NFTNL_RULE_CHAIN)) {
        std::string chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
        size_t pos = position[chain]++;
        nftnl_expr_iter* it = nftnl_expr_iter_create(r);
        uint32_t idx = 0;
        for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it), ++idx) {
          if (std::strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") != 0) continue;
          out[{chain, pos, idx}] = nft::CounterValue{nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS),
                                                     nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES)};
        }
        nftnl_expr_iter_destroy(it);
      }
      nftnl_rule_free(r);
    }
  }
  return out;
}

Result<std::vector<nft::Datagram>> KernelNftables::forward(const uint8_t* msg, size_t len, uint32_t portid) {
  if (auto ok = ensure_open(); !ok) return ok.error();
  (void)drain(false, 0);
  if (auto ok = send(std::vector<uint8_t>(msg, msg + len)); !ok) return ok.error();
  auto replies = drain(false, 0);
  if (!replies) return replies.error();
  for (auto& d : *replies) {
    int left = static_cast<int>(d.size());
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(d.data()); mnl_nlmsg_ok(nlh, left);
         nlh = const_cast<nlmsghdr*>(mnl_nlmsg_next(nlh, &left)))
      nlh->nlmsg_pid = portid;
  }
  return replies;
}

}  // namespace nfjit::daemon
