// lower_table() on rules built with libnftnl exactly as nft 1.0.6 emits them (the expression sequences
// are those `nft --debug=netlink add rule ...` prints, recorded in a fresh namespace) -> the expected IR.
// Unprivileged.
#include <arpa/inet.h>
#include <stdio.h>
#include <gtest/gtest.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_LOG.h>

#include <cstring>

#include "frontend/nftables/lower/lower.h"
#include "frontend/nftables/store.h"

namespace nfjit::nft::test {
namespace {

using namespace nfjit::ir;
using Bytes = std::vector<uint8_t>;

// ---- expressions as nft emits them ----
nftnl_expr* ex(const char* name) { return nftnl_expr_alloc(name); }
nftnl_expr* payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg = NFT_REG_1) {
  auto* e = ex("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
  return e;
}
nftnl_expr* nh(uint32_t off, uint32_t len, uint32_t dreg = NFT_REG_1) { return payload(NFT_PAYLOAD_NETWORK_HEADER, off, len, dreg); }
nftnl_expr* th(uint32_t off, uint32_t len, uint32_t dreg = NFT_REG_1) { return payload(NFT_PAYLOAD_TRANSPORT_HEADER, off, len, dreg); }
nftnl_expr* meta(uint32_t key) {
  auto* e = ex("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  return e;
}
nftnl_expr* ct(uint32_t key) {
  auto* e = ex("ct");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
  return e;
}
nftnl_expr* cmp(uint32_t op, Bytes data) {
  auto* e = ex("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), data.size());
  return e;
}
nftnl_expr* bitwise(Bytes mask) {
  auto* e = ex("bitwise");
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, mask.size());
  Bytes x(mask.size(), 0);
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), mask.size());
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, x.data(), x.size());
  return e;
}
nftnl_expr* lookup(const char* set, uint32_t flags = 0, bool vmap = false) {
  auto* e = ex("lookup");
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
  if (flags) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, flags);
  if (vmap) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
  return e;
}
nftnl_expr* verdict(int32_t code, const char* chain = nullptr) {
  auto* e = ex("immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(code));
  if (chain) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
  return e;
}
nftnl_expr* counter() { return ex("counter"); }
nftnl_expr* limit(uint64_t rate, uint64_t unit, uint32_t burst) {
  auto* e = ex("limit");
  nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
  nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, unit);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
  return e;
}
nftnl_expr* log(const char* prefix, uint32_t level) {
  auto* e = ex("log");
  nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_LEVEL, level);
  return e;
}
nftnl_expr* reject(uint32_t type, uint32_t code) {
  auto* e = ex("reject");
  nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
  nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, static_cast<uint8_t>(code));
  return e;
}
Bytes u8(uint8_t v) { return {v}; }
Bytes be16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
Bytes host32(uint32_t v) { Bytes b(4); std::memcpy(b.data(), &v, 4); return b; }
Bytes ip4(const char* s, size_t n = 4) {
  Bytes b(4);
  inet_pton(AF_INET, s, b.data());
  b.resize(n);
  return b;
}
Bytes ifname(const char* s, bool exact = true) {
  Bytes b(s, s + strlen(s));
  if (exact) b.resize(16, 0);
  return b;
}

// ---- the Store ----
struct Builder {
  Store store;
  TableObj* t;
  explicit Builder(uint8_t family = NFPROTO_INET) {
    TableObj tab;
    tab.family = family;
    tab.name = "t";
    store.tables.push_back(tab);
    t = &store.tables.back();
  }
  ChainObj& chain(const std::string& name, std::optional<uint32_t> hook = NF_INET_LOCAL_IN, std::string type = "filter") {
    ChainObj c;
    c.name = name;
    c.handle = t->alloc_handle();
    if (hook) {
      c.hook = ChainHook{*hook, 0, {}};
      c.type = type;
      c.policy = NF_ACCEPT;
    }
    t->chains.push_back(c);
    return t->chains.back();
  }
  uint64_t rule(const std::string& chain, std::vector<nftnl_expr*> exprs) {
    RuleObj r;
    r.handle = t->alloc_handle();
    r.exprs = make_rule();
    for (auto* e : exprs) nftnl_rule_add_expr(r.exprs.get(), e);
    ChainObj* c = t->chain(chain);
    t->insert_rule(*c, c->rules.size(), r);
    return r.handle;
  }
  struct El {
    Bytes key;
    uint32_t flags = 0;
    std::optional<int32_t> verdict;
    const char* chain = nullptr;
  };
  void set(const std::string& name, uint32_t flags, uint32_t key_len, std::vector<El> els, bool vmap = false) {
    SetObj s;
    s.name = name;
    s.handle = t->alloc_handle();
    s.flags = flags | (vmap ? NFT_SET_MAP : 0);
    s.attrs = make_set();
    nftnl_set_set_u32(s.attrs.get(), NFTNL_SET_KEY_LEN, key_len);
    if (vmap) nftnl_set_set_u32(s.attrs.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    for (auto& e : els) {
      ElemObj eo;
      eo.elem = NftnlElem(nftnl_set_elem_alloc(), nftnl_set_elem_free);
      nftnl_set_elem_set(eo.elem.get(), NFTNL_SET_ELEM_KEY, e.key.data(), e.key.size());
      if (e.flags) nftnl_set_elem_set_u32(eo.elem.get(), NFTNL_SET_ELEM_FLAGS, e.flags);
      if (e.verdict) nftnl_set_elem_set_u32(eo.elem.get(), NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(*e.verdict));
      if (e.chain) nftnl_set_elem_set_str(eo.elem.get(), NFTNL_SET_ELEM_CHAIN, e.chain);
      eo.id = std::to_string(s.elems.size());  // unique: the lowering never looks at ids
      s.elems.add(eo);
    }
    t->add_set(s);
  }
  LoweredTable lower() {
    auto r = lower_table(store, t->family, "t");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : LoweredTable{};
  }
  std::string refusal() {
    auto r = lower_table(store, t->family, "t");
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().message;
  }
};

// ---- expected IR ----
Match m_int(Field f, std::vector<ir::Range> rs, bool inv = false, uint32_t mask = 0xffffffffu) {
  IntMatch m;
  m.field = f;
  m.mask = mask;
  m.ranges = std::move(rs);
  return Match{m, inv};
}
Match m_eq(Field f, uint32_t v, bool inv = false) { return m_int(f, {{v, v}}, inv); }
Match m_any(Field f, uint32_t mask, bool inv = false) {
  IntMatch m;
  m.field = f;
  m.op = IntOp::AnyBit;
  m.mask = mask;
  return Match{m, inv};
}
Match m_prefix4(Field f, const char* a, int bytes) {
  AddrMatch m;
  m.field = f;
  m.len = 4;
  auto b = ip4(a);
  for (int i = 0; i < bytes; ++i) {
    m.value[i] = b[i];
    m.mask[i] = 0xff;
  }
  return Match{m, false};
}
Action act(ActionKind k, std::string target = "") {
  Action a;
  a.kind = k;
  a.target = std::move(target);
  return a;
}
const Match kV4 = m_eq(Field::NfProto, 4), kV6 = m_eq(Field::NfProto, 6), kTcp = m_eq(Field::L4Proto, 6);

const std::vector<Rule>& rules_of(const LoweredTable& lt, const std::string& chain) {
  static const std::vector<Rule> none;
  const Chain* c = lt.table.find_chain(chain);
  return c ? c->rules : none;
}
std::vector<Match> matches(const LoweredTable& lt, const std::string& chain, size_t i) {
  auto& rs = rules_of(lt, chain);
  return i < rs.size() ? rs[i].matches : std::vector<Match>{};
}

// icmp type echo-request accept (inet: nfproto + l4proto dependencies)
TEST(NftLower, IcmpTypeInInet) {
  Builder b;
  b.chain("input");
  b.rule("input", {meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, u8(NFPROTO_IPV4)), meta(NFT_META_L4PROTO),
                   cmp(NFT_CMP_EQ, u8(1)), th(0, 1), cmp(NFT_CMP_EQ, u8(8)), verdict(NF_ACCEPT)});
  auto lt = b.lower();
  ASSERT_EQ(rules_of(lt, "input").size(), 1u);
  EXPECT_EQ(matches(lt, "input", 0), (std::vector<Match>{kV4, m_eq(Field::L4Proto, 1), m_eq(Field::IcmpType, 8)}));
  EXPECT_EQ(rules_of(lt, "input")[0].action, act(ActionKind::Accept));
  EXPECT_NE(rules_of(lt, "input")[0].origin.find("handle"), std::string::npos);
  ASSERT_TRUE(lt.table.find_chain("input")->base);
  EXPECT_EQ(lt.table.find_chain("input")->base->hook, Hook::Input);
  EXPECT_EQ(lt.table.family, Family::Inet);
}

// ip saddr 198.18.0.0/24 tcp dport 1000-1999 counter drop: a 3-byte load is the /24, cmp gte + lte the range.
TEST(NftLower, PrefixAndPortRangeWithCounter) {
  Builder b;
  b.chain("input");
  uint64_t h = b.rule("input", {meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, u8(NFPROTO_IPV4)), nh(12, 3),
                                cmp(NFT_CMP_EQ, ip4("198.18.0.0", 3)), meta(NFT_META_L4PROTO), cmp(NFT_CMP_EQ, u8(6)),
                                th(2, 2), cmp(NFT_CMP_GTE, be16(1000)), cmp(NFT_CMP_LTE, be16(1999)), counter(),
                                verdict(NF_DROP)});
  auto lt = b.lower();
  ASSERT_EQ(rules_of(lt, "input").size(), 1u);
  EXPECT_EQ(matches(lt, "input", 0),
            (std::vector<Match>{kV4, m_prefix4(Field::Saddr, "198.18.0.0", 3), kTcp, m_int(Field::Dport, {{1000, 0xffff}}),
                                m_int(Field::Dport, {{0, 1999}})}));
  EXPECT_EQ(lt.counters.at({"input", h, 9}), (IrRuleRef{"input", 0}));
  EXPECT_EQ(lt.rules.at({"input", h}), std::vector<int32_t>{0});
}

// ct state invalid drop / ct state {established, related} accept / ct state != established drop
TEST(NftLower, CtStatePatterns) {
  Builder b;
  b.chain("input");
  b.set("__set0", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, 4, {{host32(2)}, {host32(4)}});
  b.rule("input", {ct(NFT_CT_STATE), bitwise(host32(1)), cmp(NFT_CMP_NEQ, host32(0)), verdict(NF_DROP)});
  b.rule("input", {ct(NFT_CT_STATE), lookup("__set0"), verdict(NF_ACCEPT)});
  b.rule("input", {ct(NFT_CT_STATE), cmp(NFT_CMP_NEQ, host32(2)), verdict(NF_DROP)});
  b.rule("input", {ct(NFT_CT_STATE), bitwise(host32(8)), cmp(NFT_CMP_EQ, host32(0)), verdict(NF_DROP)});
  auto lt = b.lower();
  EXPECT_EQ(matches(lt, "input", 0), (std::vector<Match>{m_any(Field::CtState, kCtInvalid)}));
  EXPECT_EQ(matches(lt, "input", 1), (std::vector<Match>{m_any(Field::CtState, kCtEstablished | kCtRelated)}));
  EXPECT_EQ(matches(lt, "input", 2), (std::vector<Match>{m_any(Field::CtState, kCtEstablished, true)}));
  EXPECT_EQ(matches(lt, "input", 3), (std::vector<Match>{m_any(Field::CtState, kCtNew, true)}));
  EXPECT_TRUE(lt.table.sets.empty()) << "anonymous integer sets become IntMatch ranges";
}

// iifname lo (16-byte compare) / iifname "eth*" (prefix compare) / iif lo (index)
TEST(NftLower, InterfaceNamesAndIndexes) {
  Builder b;
  b.chain("input");
  b.rule("input", {meta(NFT_META_IIFNAME), cmp(NFT_CMP_EQ, ifname("lo")), verdict(NF_ACCEPT)});
  b.rule("input", {meta(NFT_META_IIFNAME), cmp(NFT_CMP_NEQ, ifname("eth", false)), verdict(NF_DROP)});
  b.rule("input", {meta(NFT_META_IIF), cmp(NFT_CMP_EQ, host32(1)), verdict(NF_ACCEPT)});
  auto lt = b.lower();
  EXPECT_EQ(matches(lt, "input", 0), (std::vector<Match>{Match{IfaceMatch{false, "lo", false}, false}}));
  EXPECT_EQ(matches(lt, "input", 1), (std::vector<Match>{Match{IfaceMatch{false, "eth", true}, true}}));
  EXPECT_EQ(matches(lt, "input", 2), (std::vector<Match>{m_eq(Field::IifIndex, 1)}));
}

// tcp dport != { 22, 80 } drop: inverted lookup of an anonymous set -> inverted IntMatch
TEST(NftLower, InvertedAnonymousPortSet) {
  Builder b;
  b.chain("input");
  b.set("__set0", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, 2, {{be16(22)}, {be16(80)}});
  b.rule("input", {meta(NFT_META_L4PROTO), cmp(NFT_CMP_EQ, u8(6)), th(2, 2), lookup("__set0", NFT_LOOKUP_F_INV),
                   verdict(NF_DROP)});
  auto lt = b.lower();
  EXPECT_EQ(matches(lt, "input", 0), (std::vector<Match>{kTcp, m_int(Field::Dport, {{22, 22}, {80, 80}}, true)}));
}

// ip saddr . tcp dport { 1.2.3.4 . 22 } drop: a concatenation (reg 1 + reg 9) -> an ir::Set
TEST(NftLower, ConcatenatedSet) {
  Builder b;
  b.chain("input");
  Bytes key = ip4("1.2.3.4");
  key.insert(key.end(), {0, 22, 0, 0});
  b.set("__set0", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_CONCAT, 8, {{key}});
  b.rule("input", {meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, u8(NFPROTO_IPV4)), meta(NFT_META_L4PROTO),
                   cmp(NFT_CMP_EQ, u8(6)), nh(12, 4), th(2, 2, NFT_REG32_01), lookup("__set0"), verdict(NF_DROP)});
  auto lt = b.lower();
  EXPECT_EQ(matches(lt, "input", 0), (std::vector<Match>{kV4, kTcp, Match{SetMatch{"__set0"}, false}}));
  ASSERT_EQ(lt.table.sets.size(), 1u);
  const Set& s = lt.table.sets[0];
  EXPECT_EQ(s.key, (std::vector<SetKeyField>{{Field::Saddr, false, 4}, {Field::Dport, false, 2}}));
  EXPECT_FALSE(s.interval);
  EXPECT_EQ(s.elements, (std::vector<SetElement>{{key, {}}}));
}

// A named interval set as nft sends it (rbtree: starts and interval-end elements) -> [lo, hi] pairs.
TEST(NftLower, NamedIntervalSet) {
  Builder b;
  b.chain("input");
  b.set("nets", NFT_SET_INTERVAL, 4,
        {{ip4("0.0.0.0"), NFT_SET_ELEM_INTERVAL_END}, {ip4("1.0.0.0")}, {ip4("2.0.0.0"), NFT_SET_ELEM_INTERVAL_END},
         {ip4("2.2.2.2")}, {ip4("2.2.2.3"), NFT_SET_ELEM_INTERVAL_END}, {ip4("9.9.9.0")}});
  b.rule("input", {meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, u8(NFPROTO_IPV4)), nh(12, 4), lookup("nets"), verdict(NF_DROP)});
  auto lt = b.lower();
  ASSERT_EQ(lt.table.sets.size(), 1u);
  const Set& s = lt.table.sets[0];
  EXPECT_EQ(s.name, "nets");
  EXPECT_TRUE(s.interval);
  EXPECT_EQ(s.elements, (std::vector<SetElement>{{ip4("1.0.0.0"), ip4("1.255.255.255")},
                                                 {ip4("2.2.2.2"), ip4("2.2.2.2")},
                                                 {ip4("9.9.9.0"), ip4("255.255.255.255")}}));
  EXPECT_EQ(lt.sets.at("nets"), std::vector<std::string>{"nets"});
}

// ip saddr 1.2.3.4 counter tcp dport 22 log prefix "x" accept: the counter counts before the port match.
TEST(NftLower, CounterInTheMiddleAndStatements) {
  Builder b(NFPROTO_IPV4);
  b.chain("input");
  uint64_t h = b.rule("input", {nh(12, 4), cmp(NFT_CMP_EQ, ip4("1.2.3.4")), counter(), meta(NFT_META_L4PROTO),
                                cmp(NFT_CMP_EQ, u8(6)), th(2, 2), cmp(NFT_CMP_EQ, be16(22)), log("x ", 6),
                                verdict(NF_ACCEPT)});
  auto lt = b.lower();
  auto& rs = rules_of(lt, "input");
  ASSERT_EQ(rs.size(), 3u);
  Match sa = m_prefix4(Field::Saddr, "1.2.3.4", 4);
  EXPECT_EQ(rs[0].matches, (std::vector<Match>{sa}));
  EXPECT_EQ(rs[0].action.kind, ActionKind::Continue);
  EXPECT_EQ(rs[1].matches, (std::vector<Match>{sa, kTcp, m_eq(Field::Dport, 22)}));
  EXPECT_EQ(rs[1].action.kind, ActionKind::Log);
  EXPECT_EQ(rs[1].action.log.prefix, "x ");
  EXPECT_EQ(rs[1].action.log.level, 6);
  EXPECT_EQ(rs[2].matches, rs[1].matches);
  EXPECT_EQ(rs[2].action.kind, ActionKind::Accept);
  EXPECT_EQ(lt.counters.at({"input", h, 2}), (IrRuleRef{"input", 0}));
  EXPECT_EQ(lt.rules.at({"input", h}), (std::vector<int32_t>{0, 1, 2}));
}

// meta l4proto vmap { tcp : jump a, udp : drop } -> one IR rule per verdict.
TEST(NftLower, VerdictMap) {
  Builder b;
  b.chain("input");
  b.chain("a", std::nullopt);
  b.set("__map0", NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, 1,
        {{u8(6), 0, NFT_JUMP, "a"}, {u8(17), 0, NF_DROP}, {u8(132), 0, NFT_JUMP, "a"}}, true);
  b.rule("input", {counter(), meta(NFT_META_L4PROTO), lookup("__map0", 0, true)});
  auto lt = b.lower();
  auto& rs = rules_of(lt, "input");
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_TRUE(rs[0].matches.empty());  // the counter
  EXPECT_EQ(rs[1].matches, (std::vector<Match>{m_int(Field::L4Proto, {{6, 6}, {132, 132}})}));
  EXPECT_EQ(rs[1].action, act(ActionKind::Jump, "a"));
  EXPECT_EQ(rs[2].matches, (std::vector<Match>{m_eq(Field::L4Proto, 17)}));
  EXPECT_EQ(rs[2].action, act(ActionKind::Drop));
}

// limit rate 5/second counter reject with icmpx type admin-prohibited
TEST(NftLower, LimitCounterRejectIcmpx) {
  {
    Builder b(NFPROTO_IPV4);
    b.chain("input");
    uint64_t h = b.rule("input", {limit(5, 1, 5), counter(), reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED)});
    auto lt = b.lower();
    auto& rs = rules_of(lt, "input");
    ASSERT_EQ(rs.size(), 1u);
    LimitMatch lim;
    lim.rate = 5;
    lim.per_ns = 1'000'000'000ull;
    lim.burst = 5;
    EXPECT_EQ(rs[0].matches, (std::vector<Match>{Match{lim, false}}));
    EXPECT_EQ(rs[0].action.kind, ActionKind::Reject);
    EXPECT_EQ(rs[0].action.reject, RejectType::IcmpAdminProhibited);
    EXPECT_EQ(lt.counters.at({"input", h, 1}), (IrRuleRef{"input", 0}));
  }
  {
    // inet: icmpx needs one IR rule per family, which would evaluate the limit twice: refused.
    Builder b(NFPROTO_INET);
    b.chain("input");
    b.rule("input", {limit(5, 1, 5), counter(), reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED)});
    EXPECT_NE(b.refusal().find("limit would be evaluated by more than one IR rule"), std::string::npos);
  }
  {
    Builder b(NFPROTO_INET);
    b.chain("input");
    b.rule("input", {reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_PORT_UNREACH)});
    auto lt = b.lower();
    auto& rs = rules_of(lt, "input");
    ASSERT_EQ(rs.size(), 2u);
    EXPECT_EQ(rs[0].matches, (std::vector<Match>{kV4}));
    EXPECT_EQ(rs[0].action.reject, RejectType::IcmpPortUnreachable);
    EXPECT_EQ(rs[1].matches, (std::vector<Match>{kV6}));
    EXPECT_EQ(rs[1].action.reject, RejectType::Icmp6PortUnreachable);
  }
}

// ip6 saddr fe80::/10: 16-byte load, bitwise mask, cmp
TEST(NftLower, Ip6PrefixWithBitwise) {
  Builder b;
  b.chain("input");
  Bytes mask(16, 0), val(16, 0);
  mask[0] = 0xff;
  mask[1] = 0xc0;
  val[0] = 0xfe;
  val[1] = 0x80;
  b.rule("input", {meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, u8(NFPROTO_IPV6)), nh(8, 16), bitwise(mask),
                   cmp(NFT_CMP_EQ, val), verdict(NF_ACCEPT)});
  auto lt = b.lower();
  AddrMatch am;
  am.field = Field::Saddr;
  am.len = 16;
  std::copy(val.begin(), val.end(), am.value.begin());
  std::copy(mask.begin(), mask.end(), am.mask.begin());
  EXPECT_EQ(matches(lt, "input", 0), (std::vector<Match>{kV6, Match{am, false}}));
}

// Refusals name the rule and the reason.
TEST(NftLower, RefusalsNameRuleAndReason) {
  {
    Builder b;
    b.chain("input");
    uint64_t h = b.rule("input", {meta(NFT_META_SKUID), cmp(NFT_CMP_EQ, host32(0)), verdict(NF_ACCEPT)});
    std::string m = b.refusal();
    EXPECT_NE(m.find("rule handle " + std::to_string(h) + " in chain input: 'meta skuid' not readable at input"),
              std::string::npos) << m;
  }
  {
    // th dport without the l4proto dependency: ports exist only for tcp/udp/... in the IR.
    Builder b;
    b.chain("input");
    b.rule("input", {th(2, 2), cmp(NFT_CMP_EQ, be16(53)), verdict(NF_ACCEPT)});
    EXPECT_NE(b.refusal().find("without the rule pinning"), std::string::npos);
  }
  {
    Builder b(NFPROTO_IPV4);
    b.chain("postrouting", NF_INET_POST_ROUTING, "nat");
    EXPECT_NE(b.refusal().find("nat chain"), std::string::npos);
  }
  {
    Builder b;
    b.chain("input");
    auto* fib = ex("fib");
    b.rule("input", {fib, verdict(NF_ACCEPT)});
    EXPECT_NE(b.refusal().find("'fib' is not lowered"), std::string::npos);
  }
  {
    // iif in a user chain reached from output
    Builder b;
    b.chain("output", NF_INET_LOCAL_OUT);
    b.chain("sub", std::nullopt);
    b.rule("output", {verdict(NFT_JUMP, "sub")});
    b.rule("sub", {meta(NFT_META_IIF), cmp(NFT_CMP_NEQ, host32(1)), verdict(NF_DROP)});
    EXPECT_NE(b.refusal().find("in chain sub: 'meta iif' not readable at output"), std::string::npos);
  }
}

// iptables-nft's compat target: the xtables decoder turns it into the IR action.
TEST(NftLower, XtCompatTarget) {
  Builder b(NFPROTO_IPV4);
  b.chain("INPUT");
  xt_log_info li{};
  li.level = 5;
  std::strcpy(li.prefix, "ipt: ");
  auto* tg = ex("target");
  nftnl_expr_set_str(tg, NFTNL_EXPR_TG_NAME, "LOG");
  nftnl_expr_set_u32(tg, NFTNL_EXPR_TG_REV, 0);
  void* info = malloc(sizeof li);  // libnftnl takes ownership of the blob
  std::memcpy(info, &li, sizeof li);
  nftnl_expr_set(tg, NFTNL_EXPR_TG_INFO, info, sizeof li);
  b.rule("INPUT", {meta(NFT_META_L4PROTO), cmp(NFT_CMP_EQ, u8(6)), counter(), tg});
  auto lt = b.lower();
  auto& rs = rules_of(lt, "INPUT");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].action.kind, ActionKind::Log);
  EXPECT_EQ(rs[0].action.log.prefix, "ipt: ");
  EXPECT_EQ(rs[0].action.log.level, 5);
}

}  // namespace
// Lowering again with the previous result (LowerCache, as nfjitd does after every change) gives exactly
// what a fresh lowering gives, after rules were inserted in the middle, deleted and added, and a chain
// became reachable; unchanged rules' IR is taken from the previous result, not lowered again.
TEST(NftLower, CacheGivesWhatAFreshLoweringGives) {
  Builder b(NFPROTO_IPV4);
  b.chain("input");
  b.chain("sub", std::nullopt);
  auto addr_rule = [](int i) {
    std::string a = "198.18." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    return std::vector<nftnl_expr*>{nh(12, 4), cmp(NFT_CMP_EQ, ip4(a.c_str())), counter(), verdict(NF_DROP)};
  };
  for (int i = 0; i < 300; ++i) b.rule("input", addr_rule(i));
  for (int i = 0; i < 20; ++i) b.rule("sub", {meta(NFT_META_IIFNAME), cmp(NFT_CMP_EQ, ifname("eth0")), counter()});
  LowerCache cache;
  auto first = lower_table(b.store, NFPROTO_IPV4, "t", nullptr, &cache);
  ASSERT_TRUE(first.ok());
  LoweredTable kept = std::move(first).value();
  EXPECT_EQ(cache.entries.size(), 320u);

  ChainObj& in = *b.t->chain("input");
  RuleObj r;
  r.handle = b.t->alloc_handle();
  r.exprs = make_rule();
  for (auto* e : addr_rule(1000)) nftnl_rule_add_expr(r.exprs.get(), e);
  b.t->insert_rule(in, 5, r);
  b.t->erase_rule(in, 100);
  b.rule("input", {verdict(NFT_JUMP, "sub")});

  cache.source = &kept;
  auto again = lower_table(b.store, NFPROTO_IPV4, "t", nullptr, &cache);
  auto fresh = lower_table(b.store, NFPROTO_IPV4, "t");
  ASSERT_TRUE(again.ok() && fresh.ok());
  EXPECT_TRUE(again->table == fresh->table) << "the cached lowering differs from a fresh one";
  EXPECT_EQ(again->rules, fresh->rules);
  EXPECT_EQ(again->counters, fresh->counters);
  // Unchanged input rules were moved over from the previous result (its IR rules are left empty); the
  // sub chain's rules are reachable from input now, so they were lowered again and stay in `kept`.
  const auto& old_in = kept.table.find_chain("input")->rules;
  EXPECT_TRUE(old_in[0].origin.empty() && old_in[0].matches.empty());
  EXPECT_FALSE(kept.table.find_chain("sub")->rules[0].origin.empty());
}

}  // namespace nfjit::nft::test
