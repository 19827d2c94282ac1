// The server on its own: batches built with libnftnl, answers decoded. No privileges needed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "frontend/nftables/nft_server.h"
#include "nl_client.h"

namespace nfjit::nft::test {
namespace {

const Peer kPeer{4242, 4242, "nft"};

std::vector<Reply> send(NftServer& s, const Bytes& b) {
  return decode(s.handle(b.data(), b.size(), kPeer, SocketOptions{true, false}));
}

Bytes table_and_chain_batch() {
  BatchBuilder b;
  b.begin()
      .msg(NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, [](nlmsghdr* n) { fill_table(n, "t"); })
      .msg(NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
           [](nlmsghdr* n) { fill_base_chain(n, "t", "in", NF_INET_LOCAL_IN, 0, NF_DROP); })
      .end();
  return b.bytes();
}

std::vector<uint64_t> rule_handles(const NftServer& s, const char* chain) {
  std::vector<uint64_t> out;
  for (const auto& r : s.store().table(NFPROTO_INET, "t")->chain(chain)->rules) out.push_back(r.handle);
  return out;
}

TEST(NftServer, GetGenReportsGenerationAndPeer) {
  NftServer s;
  Bytes req(NLMSG_HDRLEN + 4);
  auto* nlh = reinterpret_cast<nlmsghdr*>(req.data());
  nlh->nlmsg_len = req.size();
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  auto r = send(s, req);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN);
  EXPECT_EQ(s.genid(), 1u);
  send(s, table_and_chain_batch());
  EXPECT_EQ(s.genid(), 2u);
}

TEST(NftServer, BatchAcksEveryMessageAndCommits) {
  NftServer s;
  auto r = send(s, table_and_chain_batch());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].type, NLMSG_ERROR);
  EXPECT_EQ(r[0].error, 0);
  EXPECT_EQ(r[1].error, 0);
  const TableObj* t = s.store().table(NFPROTO_INET, "t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->handle, 1u);
  ASSERT_EQ(t->chains.size(), 1u);
  EXPECT_EQ(t->chains[0].handle, 1u);
  EXPECT_EQ(t->chains[0].policy, NF_DROP);
}

TEST(NftServer, ErrorAnywhereRollsBackTheWholeBatch) {
  NftServer s;
  BatchBuilder b;
  b.begin()
      .msg(NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, [](nlmsghdr* n) { fill_table(n, "t"); })
      .msg(NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
           [](nlmsghdr* n) { fill_chain(n, "missing", "c"); })
      .end();
  auto r = send(s, b.bytes());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].error, 0);
  EXPECT_EQ(r[1].error, -ENOENT);
  EXPECT_NE(r[1].bad_attr_offset, 0u) << "extack must name NFTA_CHAIN_TABLE";
  EXPECT_TRUE(s.store().tables.empty());
  EXPECT_EQ(s.genid(), 1u);
}

TEST(NftServer, TruncatedBatchCommitsNothing) {
  NftServer s;
  BatchBuilder b;
  b.begin().msg(NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, [](nlmsghdr* n) { fill_table(n, "t"); });
  send(s, b.bytes());
  EXPECT_TRUE(s.store().tables.empty());
  EXPECT_EQ(s.genid(), 1u);
}

TEST(NftServer, RulePositionsInsertAppendReplace) {
  NftServer s;
  send(s, table_and_chain_batch());  // chain handle 1
  auto one = [&](uint16_t flags, uint64_t pos, uint64_t handle) {
    BatchBuilder b;
    b.begin()
        .msg(NFT_MSG_NEWRULE, NFPROTO_INET, flags | NLM_F_ACK,
             [&](nlmsghdr* n) { fill_rule(n, "t", "in", pos, handle); })
        .end();
    return send(s, b.bytes());
  };
  one(NLM_F_CREATE | NLM_F_APPEND, 0, 0);                          // [2]
  one(NLM_F_CREATE | NLM_F_APPEND, 0, 0);                          // [2 3]
  one(NLM_F_CREATE, 3, 0);                                         // insert before 3: [2 4 3]
  one(NLM_F_CREATE | NLM_F_APPEND, 2, 0);                          // append after 2: [2 5 4 3]
  one(NLM_F_CREATE, 0, 0);                                         // insert at head: [6 2 5 4 3]
  EXPECT_EQ(rule_handles(s, "in"), (std::vector<uint64_t>{6, 2, 5, 4, 3}));
  auto r = one(NLM_F_REPLACE, 0, 5);                               // replace keeps the handle
  EXPECT_EQ(r.back().error, 0);
  EXPECT_EQ(rule_handles(s, "in"), (std::vector<uint64_t>{6, 2, 5, 4, 3}));
  r = one(NLM_F_CREATE, 99, 0);
  EXPECT_EQ(r.back().error, -ENOENT);
  r = one(NLM_F_REPLACE, 0, 99);
  EXPECT_EQ(r.back().error, -ENOENT);
  EXPECT_EQ(rule_handles(s, "in").size(), 5u);
}

TEST(NftServer, JumpKeepsTargetChainAlive) {
  NftServer s;
  send(s, table_and_chain_batch());
  BatchBuilder b;
  b.begin()
      .msg(NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, [](nlmsghdr* n) { fill_chain(n, "t", "sub"); })
      .msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
           [](nlmsghdr* n) { fill_rule(n, "t", "in", 0, 0, "sub"); })
      .end();
  auto r = send(s, b.bytes());
  EXPECT_EQ(r.back().error, 0);
  BatchBuilder d;
  d.begin().msg(NFT_MSG_DELCHAIN, NFPROTO_INET, NLM_F_ACK, [](nlmsghdr* n) { fill_chain(n, "t", "sub"); }).end();
  r = send(s, d.bytes());
  EXPECT_EQ(r.back().error, -EBUSY);
  EXPECT_NE(s.store().table(NFPROTO_INET, "t")->chain("sub"), nullptr);
}

TEST(NftServer, DumpListsRulesWithCommentsAndLiveCounters) {
  NftServer s;
  send(s, table_and_chain_batch());
  BatchBuilder b;
  b.begin()
      .msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
           [](nlmsghdr* n) { fill_rule(n, "t", "in", 0, 0, nullptr, "hello"); })
      .end();
  send(s, b.bytes());
  s.set_counter_source([](const CounterKey& k) -> std::optional<CounterValue> {
    if (k.chain == "in" && k.expr_index == 0) return CounterValue{7, 700};
    return std::nullopt;
  });
  Bytes req(NLMSG_HDRLEN + 4);
  auto* nlh = reinterpret_cast<nlmsghdr*>(req.data());
  nlh->nlmsg_len = req.size();
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto r = send(s, req);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r.back().type, NLMSG_DONE);
  nftnl_rule* parsed = nftnl_rule_alloc();
  ASSERT_GE(nftnl_rule_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r[0].bytes.data()), parsed), 0);
  EXPECT_STREQ(nftnl_rule_get_str(parsed, NFTNL_RULE_CHAIN), "in");
  uint32_t len = 0;
  EXPECT_STREQ(static_cast<const char*>(nftnl_rule_get_data(parsed, NFTNL_RULE_USERDATA, &len)), "hello");
  nftnl_expr_iter* it = nftnl_expr_iter_create(parsed);
  nftnl_expr* ctr = nftnl_expr_iter_next(it);
  EXPECT_EQ(nftnl_expr_get_u64(ctr, NFTNL_EXPR_CTR_PACKETS), 7u);
  EXPECT_EQ(nftnl_expr_get_u64(ctr, NFTNL_EXPR_CTR_BYTES), 700u);
  nftnl_expr_iter_destroy(it);
  nftnl_rule_free(parsed);
}

}  // namespace
}  // namespace nfjit::nft::test
