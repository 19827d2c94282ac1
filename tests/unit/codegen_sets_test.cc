// Set key encoding for the maps the runtime writes live elements into.
#include <gtest/gtest.h>

#include "codegen/sets.h"

namespace nfjit::codegen {
namespace {

using ir::Field;

TEST(SetEncoding, RangeToPrefixesIsMinimalAndExact) {
  auto p = range_to_prefixes(1000, 1999, 16);
  // Cover exactly [1000, 1999] with aligned blocks.
  unsigned __int128 next = 1000;
  for (auto [v, plen] : p) {
    EXPECT_EQ(v, next);
    next = v + (static_cast<unsigned __int128>(1) << (16 - plen));
  }
  EXPECT_EQ(next, 2000u);
  EXPECT_EQ(p.size(), 7u);  // 1000/13,1008/12,1024/7... the known minimal decomposition
  auto all = range_to_prefixes(0, ~static_cast<unsigned __int128>(0), 128);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].second, 0u);
  auto one = range_to_prefixes(7, 7, 32);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].second, 32u);
}

TEST(SetEncoding, ConcatenationIsPaddedLikeNft) {
  ir::Set s;
  s.name = "pairs";
  s.key = {{Field::Saddr, false, 4}, {Field::Dport, false, 2}, {Field::L4Proto, false, 1}};
  EXPECT_EQ(set_key_bytes(s), 12u);
  auto spec = set_map_spec(s);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->type, BPF_MAP_TYPE_HASH);
  EXPECT_EQ(spec->key_size, 12u);
  EXPECT_EQ(spec->role, MapSpec::Role::Set);
  EXPECT_EQ(spec->set_name, "pairs");
  ir::SetElement el{{198, 18, 0, 1, 0, 22, 0, 0, 6, 0, 0, 0}, {}};
  auto e = encode_set_element(s, el);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].key, el.key);
  ir::SetElement bad{{1, 2, 3}, {}};
  EXPECT_FALSE(encode_set_element(s, bad).ok());
}

TEST(SetEncoding, IntervalBecomesLpmKeys) {
  ir::Set s;
  s.name = "nets";
  s.interval = true;
  s.key = {{Field::Saddr, false, 4}};
  ir::SetElement el{{198, 18, 4, 0}, {198, 18, 5, 255}};
  auto e = encode_set_element(s, el);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].key, (std::vector<uint8_t>{23, 0, 0, 0, 198, 18, 4, 0}));
  auto spec = set_map_spec(s);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->type, BPF_MAP_TYPE_LPM_TRIE);
  EXPECT_EQ(spec->key_size, 8u);
  EXPECT_EQ(spec->flags, static_cast<uint32_t>(BPF_F_NO_PREALLOC));
}

TEST(SetEncoding, IntervalConcatenationRefused) {
  ir::Set s;
  s.name = "x";
  s.interval = true;
  s.key = {{Field::Saddr, false, 4}, {Field::Dport, false, 2}};
  auto spec = set_map_spec(s);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.error().err, EOPNOTSUPP);
}

}  // namespace
}  // namespace nfjit::codegen
