// The same batches to the real kernel (inside a fresh namespace) and to the server: the errno of every
// ACK/error must match, extack offsets included, and a failed batch must leave both unchanged.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "frontend/nftables/nft_server.h"
#include "netns.h"
#include "nl_client.h"
#include "privileged.h"

namespace nfjit::nft::test {
namespace {

using nfjit::test::EnterNetns;
using nfjit::test::Netns;

struct Case {
  const char* name;
  std::function<Bytes()> batch;
};

BatchBuilder base() {
  BatchBuilder b;
  b.begin()
      .msg(NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, [](nlmsghdr* n) { fill_table(n, "t"); })
      .msg(NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
           [](nlmsghdr* n) { fill_base_chain(n, "t", "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT); });
  return b;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"ok", [] { return base().end().bytes(); }},
      {"chain_in_missing_table",
       [] { return base().msg(NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
                              [](nlmsghdr* n) { fill_chain(n, "nope", "c"); }).end().bytes(); }},
      {"rule_in_missing_chain",
       [] { return base().msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
                              [](nlmsghdr* n) { fill_rule(n, "t", "nope"); }).end().bytes(); }},
      {"rule_position_missing",
       [] { return base().msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
                              [](nlmsghdr* n) { fill_rule(n, "t", "in", 77); }).end().bytes(); }},
      {"replace_missing_handle",
       [] { return base().msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_REPLACE | NLM_F_ACK,
                              [](nlmsghdr* n) { fill_rule(n, "t", "in", 0, 77); }).end().bytes(); }},
      {"jump_to_missing_chain",
       [] { return base().msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
                              [](nlmsghdr* n) { fill_rule(n, "t", "in", 0, 0, "nope"); }).end().bytes(); }},
      {"jump_to_base_chain",
       [] { return base().msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
                              [](nlmsghdr* n) { fill_rule(n, "t", "in", 0, 0, "in"); }).end().bytes(); }},
      {"table_exists_excl",
       [] { return base().msg(NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
                              [](nlmsghdr* n) { fill_table(n, "t"); }).end().bytes(); }},
      {"delete_missing_table",
       [] { return base().msg(NFT_MSG_DELTABLE, NFPROTO_IPV4, NLM_F_ACK,
                              [](nlmsghdr* n) { fill_table(n, "nope"); }).end().bytes(); }},
      {"delete_missing_chain",
       [] { return base().msg(NFT_MSG_DELCHAIN, NFPROTO_INET, NLM_F_ACK,
                              [](nlmsghdr* n) { fill_chain(n, "t", "nope"); }).end().bytes(); }},
      {"batch_without_end", [] { return base().bytes(); }},
      {"getgen_inside_batch",
       [] { return base().msg(NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK, nullptr).end().bytes(); }},
      {"message_without_request_flag",
       [] { return base().msg(NFT_MSG_NEWTABLE, NFPROTO_IPV4, 0, [](nlmsghdr* n) {
                                fill_table(n, "x");
                                n->nlmsg_flags &= ~NLM_F_REQUEST;
                              }).end().bytes(); }},
      {"truncated_last_message",
       [] {
         Bytes b = base().end().bytes();
         b.resize(b.size() - 8);
         return b;
       }},
  };
  return c;
}

class KernelCompare : public ::testing::TestWithParam<size_t> {};

TEST_P(KernelCompare, SameErrnosAndOutcome) {
  NFJIT_REQUIRE_ROOT();
  const Case& c = cases()[GetParam()];
  Bytes batch = c.batch();
  Netns ns("nftcmp");
  std::vector<Reply> kernel;
  {
    EnterNetns in(ns);
    KernelSocket k;
    kernel = decode(k.talk(batch));
  }
  NftServer s;
  auto ours = decode(s.handle(batch.data(), batch.size(), Peer{1, 1, "t"}, SocketOptions{true, false}));
  ASSERT_EQ(ours.size(), kernel.size()) << c.name;
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].type, kernel[i].type) << c.name << " reply " << i;
    EXPECT_EQ(ours[i].error, kernel[i].error) << c.name << " reply " << i;
    EXPECT_EQ(ours[i].bad_attr_offset, kernel[i].bad_attr_offset) << c.name << " reply " << i;
  }
  std::string listing;
  ns.run("nft list ruleset", &listing);
  EXPECT_EQ(s.store().tables.empty(), listing.empty()) << c.name << ": committed on one side only";
}

INSTANTIATE_TEST_SUITE_P(Batches, KernelCompare, ::testing::Range<size_t>(0, 14),
                         [](const auto& info) { return std::string(cases()[info.param].name); });

}  // namespace
}  // namespace nfjit::nft::test
