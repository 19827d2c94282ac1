// lookup: set membership (`ip saddr @s`, `tcp dport { 22, 80 }`, concatenations, `!=`) and verdict
// maps (`meta l4proto vmap { tcp : jump a, udp : drop }`).
//
// - An anonymous set over one integer field becomes an IntMatch with one range per element (what the
//   code generator compares inline); ct state sets become an AnyBit mask (a packet has one state).
// - Every other set becomes an ir::Set (hash map, or LPM trie for intervals) with the key fields the
//   registers were loaded from; a named set keeps its name so element updates reach the live map.
// - A verdict map becomes one IR rule per distinct verdict, matching the elements with that verdict.
//   This is exact because a map's keys are disjoint, so at most one of these rules matches a packet —
//   unless a jumped-to chain changes the key (a mark), so keys on marks with jumps are refused.
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>

#include "frontend/nftables/lower/rule_lowerer.h"

namespace nfjit::nft::lower {

namespace {

std::vector<uint8_t> elem_bytes(const nftnl_set_elem* el, uint16_t attr) {
  uint32_t len = 0;
  const void* p = nftnl_set_elem_get(const_cast<nftnl_set_elem*>(el), attr, &len);
  if (!p) return {};
  auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + len);
}

bool be_dec(std::vector<uint8_t>& b) {
  for (size_t i = b.size(); i-- > 0;)
    if (b[i]-- != 0) return true;
  return false;
}

// One element with its map data: [key, key_end] and the index of the nft element it came from.
struct Elem {
  ir::SetElement el;
  const ElemObj* src = nullptr;
};

std::vector<Elem> elements_of(const SetObj& s) {
  std::vector<Elem> out;
  bool interval = s.flags & NFT_SET_INTERVAL;
  if (!interval) {
    for (const auto& e : s.elems) out.push_back({{elem_bytes(e.elem.get(), NFTNL_SET_ELEM_KEY), {}}, &e});
    return out;
  }
  bool with_end = std::any_of(s.elems.begin(), s.elems.end(),
                              [](const ElemObj& e) { return nftnl_set_elem_is_set(e.elem.get(), NFTNL_SET_ELEM_KEY_END); });
  if (with_end) {
    for (const auto& e : s.elems) {
      auto k = elem_bytes(e.elem.get(), NFTNL_SET_ELEM_KEY);
      auto ke = elem_bytes(e.elem.get(), NFTNL_SET_ELEM_KEY_END);
      out.push_back({{k, ke.empty() ? k : ke}, &e});
    }
    return out;
  }
  // rbtree semantics: a key matches when the greatest element <= key is a start (not an interval end).
  struct B {
    std::vector<uint8_t> key;
    bool start;
    const ElemObj* src;
  };
  std::vector<B> bs;
  for (const auto& e : s.elems) {
    uint32_t fl = nftnl_set_elem_is_set(e.elem.get(), NFTNL_SET_ELEM_FLAGS) ? nftnl_set_elem_get_u32(e.elem.get(), NFTNL_SET_ELEM_FLAGS) : 0;
    bs.push_back({elem_bytes(e.elem.get(), NFTNL_SET_ELEM_KEY), !(fl & NFT_SET_ELEM_INTERVAL_END), &e});
  }
  std::stable_sort(bs.begin(), bs.end(), [](const B& a, const B& b) { return a.key < b.key; });
  // Equal keys: a start wins over an end (the end of one interval where the next begins).
  std::vector<B> uniq;
  for (auto& b : bs) {
    if (!uniq.empty() && uniq.back().key == b.key) {
      if (b.start) uniq.back() = b;
      continue;
    }
    uniq.push_back(b);
  }
  for (size_t i = 0; i < uniq.size(); ++i) {
    if (!uniq[i].start) continue;
    std::vector<uint8_t> hi;
    if (i + 1 < uniq.size()) {
      hi = uniq[i + 1].key;
      be_dec(hi);
    } else {
      hi.assign(uniq[i].key.size(), 0xff);
    }
    out.push_back({{uniq[i].key, hi}, uniq[i].src});
  }
  return out;
}

ir::Action verdict_action(const RuleLowerer& rl, int32_t code, const char* chain) {
  ir::Action a;
  switch (code) {
    case NF_ACCEPT: a.kind = ir::ActionKind::Accept; break;
    case NF_DROP: a.kind = ir::ActionKind::Drop; break;
    case NFT_JUMP: a.kind = ir::ActionKind::Jump; a.target = chain ? chain : ""; break;
    case NFT_GOTO: a.kind = ir::ActionKind::Goto; a.target = chain ? chain : ""; break;
    case NFT_RETURN: a.kind = ir::ActionKind::Return; break;
    case NFT_CONTINUE: a.kind = ir::ActionKind::Continue; break;
    default: rl.refuse("verdict " + std::to_string(code) + " (queue/break/stolen) is not lowered");
  }
  return a;
}

bool single_int(const std::vector<const RegVal*>& key) {
  return key.size() == 1 && (key[0]->kind == RegVal::Kind::BigEndianInt || key[0]->kind == RegVal::Kind::HostInt ||
                             key[0]->kind == RegVal::Kind::NfProto);
}

// An IntMatch (or AnyBit for ct state) equivalent to membership of one integer field in `els`.
ir::Match int_membership(const RuleLowerer& rl, const RegVal& v, const std::vector<Elem>& els, bool invert) {
  if (!v.xor_.empty() && std::any_of(v.xor_.begin(), v.xor_.end(), [](uint8_t b) { return b != 0; }))
    rl.refuse("set lookup of '" + v.what + "' after a bitwise xor");
  uint32_t mask = v.mask.empty() ? 0xffffffffu : int_value(v, v.mask.data(), v.mask.size());
  if (v.field == ir::Field::CtState) {
    if (!v.mask.empty()) rl.refuse("set lookup of a masked 'ct state'");
    uint32_t bits = 0;
    for (const auto& e : els) {
      uint32_t lo = int_value(v, e.el.key.data(), e.el.key.size());
      uint32_t hi = e.el.key_end.empty() ? lo : int_value(v, e.el.key_end.data(), e.el.key_end.size());
      for (uint32_t b = 1; b && b <= 64; b <<= 1)
        if (b >= lo && b <= hi) bits |= b;
    }
    if (!bits) rl.refuse("'ct state' set with no single state in it");
    ir::IntMatch m;
    m.field = ir::Field::CtState;
    m.op = ir::IntOp::AnyBit;
    m.mask = bits;
    return ir::Match{m, invert};
  }
  ir::IntMatch m;
  m.field = v.field;
  m.mask = mask;
  for (const auto& e : els) {
    if (e.el.key.size() < v.len) rl.refuse("set element shorter than its key");
    uint32_t lo, hi;
    if (v.kind == RegVal::Kind::NfProto) {
      lo = e.el.key[0] == NFPROTO_IPV4 ? 4 : e.el.key[0] == NFPROTO_IPV6 ? 6 : 0;
      if (!lo || !e.el.key_end.empty()) rl.refuse("'meta nfproto' set with a value other than ipv4/ipv6");
      hi = lo;
    } else {
      lo = int_value(v, e.el.key.data(), v.len);
      hi = e.el.key_end.empty() ? lo : int_value(v, e.el.key_end.data(), v.len);
      if (v.kind == RegVal::Kind::HostInt && v.len > 1 && hi != lo) rl.refuse("interval over host-order bytes");
    }
    m.ranges.push_back({lo, hi});
  }
  if (m.ranges.empty()) rl.refuse("lookup in an empty anonymous set");
  return ir::Match{m, invert};
}

// The IR set for `s` looked up with `key` (created on first use).
std::string ir_set(RuleLowerer& rl, const SetObj& s, const std::vector<const RegVal*>& key,
                   const std::vector<Elem>& els, const std::string& suffix) {
  ir::Set out;
  std::string sig;
  for (const RegVal* v : key) {
    out.key.push_back(key_field(rl, *v));
    sig += std::to_string(static_cast<int>(out.key.back().field)) + ":" + std::to_string(out.key.back().len) + ":" +
           std::to_string(out.key.back().out) + ",";
  }
  sig += suffix;
  auto& tc = rl.tc();
  auto known = tc.ir_set_for.find({s.name, sig});
  if (known != tc.ir_set_for.end()) return known->second;
  std::string name = s.name + suffix;
  for (int n = 1; tc.out.find_set(name); ++n) name = s.name + suffix + "#" + std::to_string(n);
  out.name = name;
  out.interval = s.flags & NFT_SET_INTERVAL;
  uint32_t bytes = 0;
  for (const RegVal* v : key) bytes += (v->len + 3) / 4 * 4;
  for (const auto& e : els) {
    if (e.el.key.size() != bytes) rl.refuse("set '" + s.name + "' element length differs from the lookup key");
    ir::SetElement el = e.el;
    if (out.interval && el.key_end.empty()) el.key_end = el.key;
    out.elements.push_back(std::move(el));
  }
  tc.out.sets.push_back(std::move(out));
  tc.ir_set_for[{s.name, sig}] = name;
  tc.lowered.sets[s.name].push_back(name);
  return name;
}

void check_set_flags(const RuleLowerer& rl, const SetObj& s) {
  if (s.flags & NFT_SET_TIMEOUT) rl.refuse("set '" + s.name + "' has element timeouts (not lowered)");
  if (s.flags & NFT_SET_EVAL) rl.refuse("set '" + s.name + "' is updated from the packet path (dynset, not lowered)");
  if (s.flags & NFT_SET_OBJECT) rl.refuse("set '" + s.name + "' is an object map (not lowered)");
}

}  // namespace

std::vector<ir::SetElement> ir_elements(const SetObj& s) {
  std::vector<ir::SetElement> out;
  for (auto& e : elements_of(s)) out.push_back(std::move(e.el));
  return out;
}

void RuleLowerer::lookup(nftnl_expr* e) {
  const char* sn = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
  const SetObj* s = sn ? tc_.t.set(sn) : nullptr;
  if (!s) refuse("lookup in an unknown set");
  check_set_flags(*this, *s);
  uint32_t klen = nftnl_set_get_u32(s->attrs.get(), NFTNL_SET_KEY_LEN);
  auto key = regs_for(nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG), klen, "lookup");
  if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
    if (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) != NFT_REG_VERDICT ||
        nftnl_set_get_u32(s->attrs.get(), NFTNL_SET_DATA_TYPE) != NFT_DATA_VERDICT)
      refuse("map lookup into a data register ('... map { }' as a value) is not lowered");
    lower_vmap(*this, e, *s, key);
    return;
  }
  bool invert = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) && (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV);
  auto els = elements_of(*s);
  if (single_int(key) && (s->anonymous() || key[0]->field == ir::Field::CtState) && els.size() <= 64) {
    if (!s->anonymous()) refuse("named set of ct states (live updates would need a relowering)");
    add_match(int_membership(*this, *key[0], els, invert));
    return;
  }
  add_match(ir::Match{ir::SetMatch{ir_set(*this, *s, key, els, "")}, invert});
}

void lower_vmap(RuleLowerer& rl, nftnl_expr*, const SetObj& map, const std::vector<const RegVal*>& key) {
  auto els = elements_of(map);
  struct Group {
    ir::Action action;
    std::vector<Elem> els;
  };
  std::vector<Group> groups;
  for (auto& e : els) {
    const nftnl_set_elem* ne = e.src->elem.get();
    if (!nftnl_set_elem_is_set(const_cast<nftnl_set_elem*>(ne), NFTNL_SET_ELEM_VERDICT))
      rl.refuse("verdict map '" + map.name + "' element without a verdict");
    int32_t code = static_cast<int32_t>(nftnl_set_elem_get_u32(const_cast<nftnl_set_elem*>(ne), NFTNL_SET_ELEM_VERDICT));
    const char* chain = nftnl_set_elem_is_set(const_cast<nftnl_set_elem*>(ne), NFTNL_SET_ELEM_CHAIN)
                            ? nftnl_set_elem_get_str(const_cast<nftnl_set_elem*>(ne), NFTNL_SET_ELEM_CHAIN)
                            : nullptr;
    ir::Action a = verdict_action(rl, code, chain);
    if (a.kind == ir::ActionKind::Continue) rl.refuse("verdict map element 'continue' is not lowered");
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.action == a; });
    if (g == groups.end()) {
      groups.push_back({a, {}});
      g = groups.end() - 1;
    }
    g->els.push_back(e);
  }
  bool jumps = std::any_of(groups.begin(), groups.end(), [](const Group& g) {
    return g.action.kind == ir::ActionKind::Jump || g.action.kind == ir::ActionKind::Goto;
  });
  for (const RegVal* v : key)
    if (jumps && (v->field == ir::Field::Mark || v->field == ir::Field::CtMark))
      rl.refuse("verdict map keyed on a mark with jumps (a jumped-to chain could change the key)");
  if (groups.size() > 1 && rl.has_stateful())
    rl.refuse("verdict map after a limit (one IR rule per verdict would evaluate the limit more than once)");
  for (size_t i = 0; i < groups.size(); ++i) {
    ir::Match m;
    if (single_int(key)) m = int_membership(rl, *key[0], groups[i].els, false);
    else m = ir::Match{ir::SetMatch{ir_set(rl, map, key, groups[i].els, "." + std::to_string(i))}, false};
    rl.emit(groups[i].action, {m});
  }
  rl.terminated_ = true;
}

}  // namespace nfjit::nft::lower
