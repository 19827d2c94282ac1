// Large rulesets in the server, unprivileged: a set of 100,000 elements loaded in batches as nft sends
// them, listed back whole and in order; batches that fail on it leave it exactly as it was; elements
// changed in one batch are what ElemSet::diff reports; use counts stay right through rule changes.
// (Speed is measured in bench/nft_scale, not here.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>
#include <set>

#include "frontend/nftables/nft_server.h"
#include "nl_client.h"

namespace nfjit::nft::test {
namespace {

const Peer kPeer{4242, 4242, "nft"};

std::vector<Reply> send(NftServer& s, const Bytes& b) {
  return decode(s.handle(b.data(), b.size(), kPeer, SocketOptions{true, false}));
}

uint32_t addr(uint32_t i) { return htonl((198u << 24) | (18u << 16) | i); }  // 198.18.0.0/15

// One message, built by `fill` into a buffer big enough for thousands of elements.
Bytes message(uint16_t type, uint16_t flags, uint32_t seq, const std::function<void(nlmsghdr*)>& fill) {
  Bytes b(1 << 20);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(b.data()), type, NFPROTO_IPV4, flags, seq);
  fill(nlh);
  b.resize(NLMSG_ALIGN(nlh->nlmsg_len));
  return b;
}

// NEWSETELEM of addresses [first, last) into ip t s, elements as nft numbers them (nest types 1, 2, ...).
Bytes elements(uint16_t type, uint32_t first, uint32_t last, uint16_t flags, uint32_t seq) {
  return message(type, flags, seq, [&](nlmsghdr* nlh) {
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "t");
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "s");
    nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (uint32_t i = first; i < last; ++i) {
      nlattr* el = mnl_attr_nest_start(nlh, i - first + 1);
      nlattr* key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
      uint32_t a = addr(i);
      mnl_attr_put(nlh, NFTA_DATA_VALUE, 4, &a);
      mnl_attr_nest_end(nlh, key);
      mnl_attr_nest_end(nlh, el);
    }
    mnl_attr_nest_end(nlh, list);
  });
}

Bytes table_and_set(uint32_t size) {
  BatchBuilder b;
  b.begin().msg(NFT_MSG_NEWTABLE, NFPROTO_IPV4, NLM_F_CREATE | NLM_F_ACK, [](nlmsghdr* n) { fill_table(n, "t"); });
  b.msg(NFT_MSG_NEWSET, NFPROTO_IPV4, NLM_F_CREATE | NLM_F_ACK, [size](nlmsghdr* n) {
    nftnl_set* s = nftnl_set_alloc();
    nftnl_set_set_str(s, NFTNL_SET_TABLE, "t");
    nftnl_set_set_str(s, NFTNL_SET_NAME, "s");
    nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 7 /* ipv4_addr */);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
    nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
    nftnl_set_nlmsg_build_payload(n, s);
    nftnl_set_free(s);
  });
  return b.end().bytes();
}

// A batch of element messages of 2,000 elements each (about what one nft message holds).
Bytes element_batch(uint16_t type, uint32_t first, uint32_t last, uint16_t flags, bool close = true) {
  BatchBuilder b;
  b.begin();
  uint32_t seq = 100;
  for (uint32_t i = first; i < last; i += 2000) b.raw(elements(type, i, std::min(last, i + 2000), flags, seq++));
  return close ? b.end().bytes() : b.bytes();
}

// The addresses `nft list set` would get: a GETSETELEM dump, decoded.
std::vector<uint32_t> listed(NftServer& s) {
  Bytes req = message(NFT_MSG_GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, 7, [](nlmsghdr* n) {
    mnl_attr_put_strz(n, NFTA_SET_ELEM_LIST_TABLE, "t");
    mnl_attr_put_strz(n, NFTA_SET_ELEM_LIST_SET, "s");
  });
  std::vector<uint32_t> out;
  for (const Reply& r : send(s, req)) {
    if (r.type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM)) continue;
    nftnl_set* set = nftnl_set_alloc();
    EXPECT_EQ(nftnl_set_elems_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r.bytes.data()), set), 0);
    nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(set);
    for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it)) {
      uint32_t len = 0;
      const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
      uint32_t a = 0;
      EXPECT_EQ(len, 4u);
      std::memcpy(&a, k, 4);
      out.push_back(a);
    }
    nftnl_set_elems_iter_destroy(it);
    nftnl_set_free(set);
  }
  return out;
}

std::vector<uint32_t> range(uint32_t first, uint32_t last) {
  std::vector<uint32_t> v;
  for (uint32_t i = first; i < last; ++i) v.push_back(addr(i));
  return v;
}

int first_error(const std::vector<Reply>& r) {
  for (const auto& x : r)
    if (x.type == NLMSG_ERROR && x.error) return x.error;
  return 0;
}

constexpr uint32_t kBig = 100000;

class BigSet : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(first_error(send(s, table_and_set(kBig + 10))), 0);
    ASSERT_EQ(first_error(send(s, element_batch(NFT_MSG_NEWSETELEM, 0, kBig, NLM_F_CREATE))), 0);
    ASSERT_EQ(s.store().table(NFPROTO_IPV4, "t")->set("s")->elems.size(), kBig);
  }
  NftServer s;
};

TEST_F(BigSet, ListsEveryElementInInsertionOrder) {
  EXPECT_EQ(listed(s), range(0, kBig));
  // One more, one fewer: the listing follows.
  ASSERT_EQ(first_error(send(s, element_batch(NFT_MSG_NEWSETELEM, kBig, kBig + 1, NLM_F_CREATE))), 0);
  ASSERT_EQ(first_error(send(s, element_batch(NFT_MSG_DELSETELEM, 5, 6, 0))), 0);
  auto want = range(0, kBig + 1);
  want.erase(want.begin() + 5);
  EXPECT_EQ(listed(s), want);
}

TEST_F(BigSet, FailingBatchesLeaveItAsItWas) {
  uint32_t genid = s.genid();
  auto before = listed(s);
  // New elements, then one that exists with NLM_F_EXCL: EEXIST, and none of the new ones stay.
  BatchBuilder b;
  b.begin().raw(elements(NFT_MSG_NEWSETELEM, kBig, kBig + 5, NLM_F_CREATE, 2));
  b.raw(elements(NFT_MSG_NEWSETELEM, 77, 78, NLM_F_CREATE | NLM_F_EXCL, 3));
  EXPECT_EQ(first_error(send(s, b.end().bytes())), -EEXIST);
  // Deletes of existing elements, then one of an element that is not there: ENOENT.
  BatchBuilder d;
  d.begin().raw(elements(NFT_MSG_DELSETELEM, 0, 1000, 0, 2));
  d.raw(elements(NFT_MSG_DELSETELEM, kBig + 1, kBig + 2, 0, 3));
  EXPECT_EQ(first_error(send(s, d.end().bytes())), -ENOENT);
  // Past the set's size: ENFILE, after 9 that fitted.
  EXPECT_EQ(first_error(send(s, element_batch(NFT_MSG_NEWSETELEM, kBig, kBig + 11, NLM_F_CREATE))), -ENFILE);
  // A batch that is never closed commits nothing.
  send(s, element_batch(NFT_MSG_DELSETELEM, 0, kBig, 0, /*close=*/false));
  EXPECT_EQ(s.genid(), genid);
  EXPECT_EQ(listed(s), before);
  EXPECT_EQ(s.store().table(NFPROTO_IPV4, "t")->set("s")->elems.size(), kBig);
}

TEST_F(BigSet, DeleteAndAddBackInOneBatch) {
  BatchBuilder b;
  b.begin().raw(elements(NFT_MSG_DELSETELEM, 10, 20, 0, 2));
  b.raw(elements(NFT_MSG_NEWSETELEM, 15, 20, NLM_F_CREATE, 3));
  ASSERT_EQ(first_error(send(s, b.end().bytes())), 0);
  auto want = range(0, kBig);
  want.erase(want.begin() + 10, want.begin() + 20);
  for (uint32_t i = 15; i < 20; ++i) want.push_back(addr(i));
  EXPECT_EQ(listed(s), want) << "re-added elements are listed last, as a later insertion";
  // Flush, then the set is empty and takes new elements.
  BatchBuilder f;
  f.begin().msg(NFT_MSG_DELSETELEM, NFPROTO_IPV4, NLM_F_ACK, [](nlmsghdr* n) {
    mnl_attr_put_strz(n, NFTA_SET_ELEM_LIST_TABLE, "t");
    mnl_attr_put_strz(n, NFTA_SET_ELEM_LIST_SET, "s");
  });
  ASSERT_EQ(first_error(send(s, f.end().bytes())), 0);
  EXPECT_TRUE(listed(s).empty());
  ASSERT_EQ(first_error(send(s, element_batch(NFT_MSG_NEWSETELEM, 3, 4, NLM_F_CREATE))), 0);
  EXPECT_EQ(listed(s), range(3, 4));
}

// ElemSet on its own: copies share, changes are the copy's, diff is what changed, settle folds it in.
ElemObj elem(uint32_t i) {
  ElemObj e;
  e.elem = NftnlElem(nftnl_set_elem_alloc(), nftnl_set_elem_free);
  uint32_t a = addr(i);
  nftnl_set_elem_set(e.elem.get(), NFTNL_SET_ELEM_KEY, &a, 4);
  e.id = std::string(reinterpret_cast<const char*>(&a), 4);
  return e;
}
std::vector<std::string> ids(const ElemSet& s) {
  std::vector<std::string> out;
  for (const auto& e : s) out.push_back(e.id);
  return out;
}

TEST(ElemSet, CopiesChangeOnTheirOwnAndDiffIsNet) {
  ElemSet base;
  for (uint32_t i = 0; i < 5000; ++i) base.add(elem(i));
  base.settle();
  ElemSet copy = base;
  ASSERT_TRUE(copy.remove(elem(1).id));
  ASSERT_TRUE(copy.remove(elem(2).id));
  copy.add(elem(9000));
  copy.add(elem(2));       // removed and added back: no change
  copy.add(elem(9001));
  ASSERT_TRUE(copy.remove(elem(9001).id));  // added and removed again: no change
  EXPECT_FALSE(copy.remove(elem(1).id));
  EXPECT_EQ(copy.find(elem(1).id), nullptr);
  EXPECT_NE(copy.find(elem(2).id), nullptr);
  EXPECT_EQ(copy.size(), 5000u);
  EXPECT_EQ(base.size(), 5000u);
  EXPECT_NE(base.find(elem(1).id), nullptr) << "the committed version is untouched";
  std::vector<const ElemObj*> added, removed;
  ASSERT_TRUE(copy.diff(base, added, removed));
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0]->id, elem(9000).id);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0]->id, elem(1).id);

  // Settling while `base` still shares the elements copies them: base keeps its version.
  ElemSet settled = copy;
  settled.settle();
  EXPECT_EQ(ids(settled), ids(copy));
  EXPECT_EQ(base.size(), 5000u);
  EXPECT_NE(base.find(elem(1).id), nullptr);
  EXPECT_FALSE(settled.diff(base, added, removed)) << "no longer the same base";
  ElemSet flushed = base;
  flushed.clear();
  EXPECT_FALSE(flushed.diff(base, added, removed));
}

TEST(ElemSet, ManyRemovalsKeepOrderAndLookups) {
  ElemSet s;
  for (uint32_t i = 0; i < 10000; ++i) s.add(elem(i));
  s.settle();
  std::vector<std::string> want;
  for (uint32_t round = 0; round < 4; ++round) {
    // Remove most of what is left (tombstones pile up, then get compacted), add a few new ones.
    for (uint32_t i = 0; i < 10000; ++i)
      if (i % 5 != round) s.remove(elem(i).id);
    for (uint32_t i = 0; i < 10; ++i) s.add(elem(20000 + round * 10 + i));
    s.settle();
  }
  for (uint32_t round = 0; round < 4; ++round)
    for (uint32_t i = 0; i < 10; ++i) want.push_back(elem(20000 + round * 10 + i).id);
  EXPECT_EQ(ids(s), want);
  EXPECT_EQ(s.size(), want.size());
  for (const auto& id : want) EXPECT_NE(s.find(id), nullptr);
  EXPECT_EQ(s.find(elem(0).id), nullptr);
}

// `use` of chains and sets, kept as rules come and go (NFTA_CHAIN_USE in a chain dump).
uint32_t chain_use(NftServer& s, const char* chain) {
  return s.store().table(NFPROTO_INET, "t")->chain_use(*s.store().table(NFPROTO_INET, "t")->chain(chain));
}

TEST(UseCounts, FollowRulesAndJumps) {
  NftServer s;
  BatchBuilder b;
  b.begin()
      .msg(NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, [](nlmsghdr* n) { fill_table(n, "t"); })
      .msg(NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, [](nlmsghdr* n) { fill_base_chain(n, "t", "in", NF_INET_LOCAL_IN, 0, NF_ACCEPT); })
      .msg(NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, [](nlmsghdr* n) { fill_chain(n, "t", "sub"); });
  for (int i = 0; i < 3000; ++i)
    b.msg(NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND,
          [i](nlmsghdr* n) { fill_rule(n, "t", i % 3 ? "in" : "sub", 0, 0, i % 3 == 1 ? "sub" : nullptr); });
  ASSERT_EQ(first_error(send(s, b.end().bytes())), 0);
  EXPECT_EQ(chain_use(s, "in"), 2000u);
  EXPECT_EQ(chain_use(s, "sub"), 1000u + 1000u) << "its rules and the jumps to it";
  // A chain jumped to cannot go; flushing the jumping chain releases it.
  BatchBuilder del;
  del.begin().msg(NFT_MSG_DELCHAIN, NFPROTO_INET, NLM_F_ACK, [](nlmsghdr* n) { fill_chain(n, "t", "sub"); });
  EXPECT_EQ(first_error(send(s, del.end().bytes())), -EBUSY);
  BatchBuilder flush;
  flush.begin().msg(NFT_MSG_DELRULE, NFPROTO_INET, NLM_F_ACK, [](nlmsghdr* n) {
    nftnl_rule* r = nftnl_rule_alloc();
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "in");
    nftnl_rule_nlmsg_build_payload(n, r);
    nftnl_rule_free(r);
  });
  ASSERT_EQ(first_error(send(s, flush.end().bytes())), 0);
  EXPECT_EQ(chain_use(s, "in"), 0u);
  EXPECT_EQ(chain_use(s, "sub"), 1000u);
  BatchBuilder del2;
  del2.begin().msg(NFT_MSG_DELCHAIN, NFPROTO_INET, NLM_F_ACK, [](nlmsghdr* n) { fill_chain(n, "t", "sub"); });
  EXPECT_EQ(first_error(send(s, del2.end().bytes())), 0);
  EXPECT_EQ(s.store().table(NFPROTO_INET, "t")->chain("sub"), nullptr);
}

}  // namespace
}  // namespace nfjit::nft::test
