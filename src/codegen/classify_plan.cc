// Classifier planning: which runs of rules become segments, and the hash-map entries of each
// (classify.h, docs/classifier.md). No instruction is emitted here.
//
// Every keyable match becomes a disjunction of *constraints* (a masked value over one key field): an
// exact value is one constraint, a port range its minimal list of prefixes, a bit test (ct state) one
// constraint per bit, a multiport list one per port. A rule is the conjunction of its matches, so its
// entries are the cross product of their alternatives; each entry also requires the valid bits of the
// fields it reads (an absent field fails the match, ir.h). The set of masks of an entry is its tuple.
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <set>

#include "codegen/classify.h"
#include "codegen/hook_ct.h"
#include "codegen/match.h"
#include "codegen/sets.h"

namespace nfjit::codegen {

using namespace desc;

namespace {

// Identifies a key field independently of its position in a segment's layout.
struct FieldId {
  KeyPart part;
  ir::Field field;
  auto operator<=>(const FieldId&) const = default;
};

// One masked value over one key field (words in memory order). `presence`: the field is metadata whose
// load can fail; the entry then also requires its presence bit.
struct Constraint {
  FieldId id;
  uint8_t words = 1;
  std::array<uint32_t, 4> value{}, mask{};
};

// A conjunction of constraints plus the valid bits it requires.
struct Alt {
  std::vector<Constraint> cs;
  uint32_t valid = 0;
};

// An entry of one rule before layout: its alternative and its action.
struct RuleEntry {
  Alt alt;
  uint32_t action;
};

// The tuple of an entry, independent of layout: the masks per field and the valid mask.
struct Signature {
  bool hotdrop = false;  // only hotdrop entries: looked up only for packets with a hotdrop condition
  uint32_t valid = 0;
  std::vector<std::pair<FieldId, std::array<uint32_t, 4>>> masks;  // sorted by field
  auto operator<=>(const Signature&) const = default;
};

bool is_meta(ir::Field f) {
  switch (f) {
    case ir::Field::Mark:
    case ir::Field::PktType:
    case ir::Field::CtState:
    case ir::Field::CtMark:
    case ir::Field::IifIndex:
    case ir::Field::OifIndex: return true;
    default: return false;
  }
}

// Metadata loads that can fail (then the field is absent): a presence bit is needed.
bool meta_can_be_absent(ir::Field f) {
  return f == ir::Field::IifIndex || f == ir::Field::OifIndex || f == ir::Field::CtMark;
}

uint32_t be32(const ir::Addr& a) {
  return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
}
// A host-order number written as 4 network-order bytes, read back as a memory-order word.
uint32_t mem_word_of_be(uint32_t v) {
  uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                  static_cast<uint8_t>(v)};
  uint32_t w;
  std::memcpy(&w, b, 4);
  return w;
}
uint32_t prefix_mask(uint32_t plen, uint32_t bits = 32) {
  if (plen == 0) return 0;
  return static_cast<uint32_t>((~uint64_t{0} << (bits - plen)) & ((uint64_t{1} << bits) - 1));
}

bool mixed_family(const Gen& g) {
  return !g.pf && g.table.family != ir::Family::Ipv4 && g.table.family != ir::Family::Ipv6;
}

// Constraints an address of family `fam` implies in a table that sees both families.
void add_family(const Gen& g, uint8_t fam, Alt& a) {
  a.valid |= kValidL3;
  if (!mixed_family(g)) return;
  Constraint c{{KeyPart::Desc, ir::Field::NfProto}, 1};
  c.value[0] = fam;
  c.mask[0] = 0xffffffffu;
  a.cs.push_back(c);
}

using Alts = std::vector<Alt>;  // disjunction; empty = never true

std::optional<Alts> int_alts(const Gen& g, const ir::IntMatch& m) {
  FieldId id;
  uint32_t valid = 0, shift = 0;
  if (auto d = desc_field(m.field)) {
    id = {KeyPart::Desc, d->shift ? ir::Field::Tos : m.field};
    valid = d->valid;
    shift = d->shift;
  } else if (is_meta(m.field) && g.at.kind == AttachKind::Netfilter) {
    id = {KeyPart::Meta, m.field};
  } else {
    return std::nullopt;
  }
  auto one = [&](uint32_t value, uint32_t mask) {
    Alt a;
    a.valid = valid;
    Constraint c{id, 1};
    c.value[0] = value << shift;
    c.mask[0] = mask << shift;
    a.cs.push_back(c);
    return a;
  };
  Alts out;
  if (m.op == ir::IntOp::AnyBit) {
    for (uint32_t b = 0; b < 32; ++b)
      if (m.mask & (1u << b)) {
        if (shift && (1u << b) >= (1u << (32 - shift))) continue;  // bits the shifted field never has
        out.push_back(one(1u << b, 1u << b));
      }
    return out;
  }
  if (m.ranges.empty()) return std::nullopt;  // invalid IR: the linear code reports it
  for (const auto& r : m.ranges) {
    if (r.lo > r.hi) return std::nullopt;
    if (r.lo == r.hi) {
      if (r.lo & ~m.mask) continue;  // (x & mask) can never equal a value with bits outside the mask
      if (shift && (r.lo >> (32 - shift))) continue;
      out.push_back(one(r.lo, m.mask));
      continue;
    }
    if (m.mask != 0xffffffffu || shift) return std::nullopt;
    for (auto [v, plen] : range_to_prefixes(r.lo, r.hi, 32))
      out.push_back(one(static_cast<uint32_t>(v), prefix_mask(plen)));
  }
  return out;
}

std::optional<Alts> addr_alts(const Gen& g, const ir::AddrMatch& m) {
  if ((m.field != ir::Field::Saddr && m.field != ir::Field::Daddr) || (m.len != 4 && m.len != 16)) return std::nullopt;
  const uint8_t fam = m.len == 4 ? 4 : 6;
  if (family_impossible(g, fam)) return Alts{};
  Alt a;
  add_family(g, fam, a);
  Constraint c{{KeyPart::Addr, m.field}, static_cast<uint8_t>(m.len / 4)};
  for (int w = 0; w < m.len / 4; ++w) {
    std::memcpy(&c.mask[w], m.mask.data() + 4 * w, 4);
    std::memcpy(&c.value[w], m.value.data() + 4 * w, 4);
    c.value[w] &= c.mask[w];
  }
  a.cs.push_back(c);
  return Alts{a};
}

std::optional<Alts> addr_range_alts(const Gen& g, const ir::AddrRangeMatch& m) {
  if ((m.field != ir::Field::Saddr && m.field != ir::Field::Daddr) || m.len != 4) return std::nullopt;
  if (family_impossible(g, 4)) return Alts{};
  const uint32_t lo = be32(m.lo), hi = be32(m.hi);
  if (lo > hi) return Alts{};
  Alts out;
  for (auto [v, plen] : range_to_prefixes(lo, hi, 32)) {
    Alt a;
    add_family(g, 4, a);
    Constraint c{{KeyPart::Addr, m.field}, 1};
    c.mask[0] = mem_word_of_be(prefix_mask(plen));
    c.value[0] = mem_word_of_be(static_cast<uint32_t>(v)) & c.mask[0];
    a.cs.push_back(c);
    out.push_back(a);
  }
  return out;
}

std::optional<Alts> iface_alts(const Gen& g, const ir::IfaceMatch& m) {
  // Names are read from the hook state at netfilter only (XDP/TC decide them at compile time).
  if (g.at.kind != AttachKind::Netfilter || m.name.size() > 15) return std::nullopt;
  uint8_t want[16] = {}, mask[16] = {};
  const size_t n = m.wildcard ? m.name.size() : m.name.size() + 1;  // exact: the terminating NUL too
  for (size_t i = 0; i < n; ++i) {
    want[i] = i < m.name.size() ? static_cast<uint8_t>(m.name[i]) : 0;
    mask[i] = 0xff;
  }
  Constraint c{{KeyPart::Iface, m.out ? ir::Field::OifIndex : ir::Field::IifIndex}, 4};
  std::memcpy(c.value.data(), want, 16);
  std::memcpy(c.mask.data(), mask, 16);
  Alt a;
  a.cs.push_back(c);
  return Alts{a};
}

std::optional<Alts> mac_alts(const ir::MacMatch& m) {
  Constraint c{{KeyPart::Mac, ir::Field::NfProto}, 2};
  std::memcpy(&c.value[0], m.addr.data(), 4);
  uint16_t hi;
  std::memcpy(&hi, m.addr.data() + 4, 2);
  c.value[1] = hi;
  c.mask[0] = 0xffffffffu;
  c.mask[1] = 0xffffu;
  Alt a;
  a.valid = kClsMacPresent;
  a.cs.push_back(c);
  return Alts{a};
}

std::optional<Alts> match_alts(const Gen& g, const ir::Match& m) {
  if (m.invert) return std::nullopt;
  if (const auto* im = std::get_if<ir::IntMatch>(&m.m)) return int_alts(g, *im);
  if (const auto* am = std::get_if<ir::AddrMatch>(&m.m)) return addr_alts(g, *am);
  if (const auto* ar = std::get_if<ir::AddrRangeMatch>(&m.m)) return addr_range_alts(g, *ar);
  if (const auto* ifm = std::get_if<ir::IfaceMatch>(&m.m)) return iface_alts(g, *ifm);
  if (const auto* mm = std::get_if<ir::MacMatch>(&m.m)) return mac_alts(*mm);
  return std::nullopt;  // sets, limits
}

// a AND b; nullopt when they contradict (the same bits required with different values).
std::optional<Alt> conjoin(const Alt& a, const Alt& b) {
  Alt out = a;
  out.valid |= b.valid;
  for (const auto& c : b.cs) {
    auto it = std::find_if(out.cs.begin(), out.cs.end(), [&](const Constraint& x) { return x.id == c.id; });
    if (it == out.cs.end()) {
      out.cs.push_back(c);
      continue;
    }
    it->words = std::max(it->words, c.words);
    for (int w = 0; w < 4; ++w) {
      const uint32_t both = it->mask[w] & c.mask[w];
      if ((it->value[w] & both) != (c.value[w] & both)) return std::nullopt;
      it->value[w] |= c.value[w];
      it->mask[w] |= c.mask[w];
    }
  }
  return out;
}

// The cross product of the alternatives of several matches (each a disjunction). False when it would
// exceed `limit` entries.
bool cross(const std::vector<Alts>& parts, size_t limit, Alts& out) {
  out = {Alt{}};
  for (const auto& p : parts) {
    Alts next;
    for (const auto& a : out)
      for (const auto& b : p) {
        if (auto c = conjoin(a, b)) next.push_back(std::move(*c));
        if (next.size() > limit) return false;
      }
    out = std::move(next);
  }
  return true;
}

std::optional<uint32_t> action_code(const ir::Rule& r, std::vector<std::string>& gotos) {
  switch (r.action.kind) {
    case ir::ActionKind::Accept: return kClsAccept;
    case ir::ActionKind::Drop: return kClsDrop;
    case ir::ActionKind::Return: return kClsReturn;
    case ir::ActionKind::Goto: {
      auto it = std::find(gotos.begin(), gotos.end(), r.action.target);
      if (it == gotos.end()) {
        if (gotos.size() >= 32) return std::nullopt;  // keep the dispatch short
        gotos.push_back(r.action.target);
        it = gotos.end() - 1;
      }
      return kClsGotoFirst + static_cast<uint32_t>(it - gotos.begin());
    }
    default: return std::nullopt;  // non-terminal (log, mark, jump, counter only) or REJECT
  }
}

// The entries of one rule, or nullopt when it cannot be classified (then it breaks the run).
std::optional<std::vector<RuleEntry>> rule_entries(const Gen& g, const ir::Rule& r, std::vector<std::string>& gotos,
                                                   const ClassifyOptions& opt) {
  if (!check_ct_rule(g, r)) return std::nullopt;  // the linear code reports why
  std::vector<std::string> gotos_try = gotos;
  auto act = action_code(r, gotos_try);
  if (!act) return std::nullopt;
  std::vector<RuleEntry> out;
  std::vector<Alts> prefix;  // alternatives of the matches evaluated so far
  uint32_t hotdrop_bits = 0;
  bool never = false;
  for (const auto& m : r.matches) {
    if (auto s = static_match(g, m)) {
      if (!*s) {
        never = true;
        break;
      }
      continue;
    }
    if (m.hotdrop.any()) {
      // The kernel drops when every match before this one held and a condition holds: one entry per
      // "no condition" bit that is clear.
      const uint32_t ok = hotdrop_ok_bits(g, m.hotdrop);
      hotdrop_bits |= ok;
      Alts before;
      if (!cross(prefix, opt.max_entries_per_rule, before)) return std::nullopt;
      for (uint32_t b = 0; b < 32; ++b) {
        if (!(ok & (1u << b))) continue;
        for (const auto& a : before) {
          Constraint c{{KeyPart::Valid, ir::Field::NfProto}, 1};
          Alt h = a;
          // A clear bit: the valid word's mask has the bit, the value has not (Valid is built from
          // Alt::valid for set bits; a required-clear bit travels as this pseudo constraint).
          c.mask[0] = 1u << b;
          h.cs.push_back(c);
          out.push_back({std::move(h), kClsHotdrop});
        }
      }
    }
    auto alts = match_alts(g, m);
    if (!alts) return std::nullopt;
    prefix.push_back(std::move(*alts));
  }
  if (!never) {
    Alts all;
    if (!cross(prefix, opt.max_entries_per_rule, all)) return std::nullopt;
    for (auto& a : all) {
      a.valid |= hotdrop_bits;  // no hotdrop condition holds
      out.push_back({std::move(a), *act});
    }
  }
  if (out.size() > opt.max_entries_per_rule) return std::nullopt;
  gotos = std::move(gotos_try);
  return out;
}

Signature signature(const Alt& a, bool hotdrop) {
  Signature s;
  s.hotdrop = hotdrop;
  s.valid = a.valid;
  for (const auto& c : a.cs) {
    if (c.id.part == KeyPart::Valid) {
      s.valid |= c.mask[0];
      continue;
    }
    s.masks.emplace_back(c.id, c.mask);  // conjoin() left one constraint per field
  }
  std::sort(s.masks.begin(), s.masks.end());
  return s;
}

uint8_t field_words(const FieldId& id, uint8_t seen) {
  switch (id.part) {
    case KeyPart::Iface: return 4;
    case KeyPart::Mac: return 2;
    case KeyPart::Addr: return seen;
    default: return 1;
  }
}

// A run being grown: its rules' entries and what its key needs.
struct Run {
  size_t first = 0, last = 0;
  std::vector<std::pair<size_t, std::vector<RuleEntry>>> rules;  // rule index, entries
  std::map<FieldId, uint8_t> fields;                              // words
  std::set<Signature> sigs;
  std::vector<std::string> gotos;
  std::vector<ir::Field> metas;

  size_t normal_tuples() const {
    size_t n = 0;
    for (const auto& s : sigs) n += !s.hotdrop;
    return n;
  }
  uint32_t key_bytes() const {
    uint32_t n = 8;  // tuple id + valid word
    for (const auto& [id, w] : fields) n += 4u * w;
    return n;
  }
};

// Whether the run can take the rule's entries without exceeding the limits; adds them if so. Only what
// the rule adds is computed: the run's own sets are not copied (a 10,000-rule run calls this 10,000 times).
bool try_add(Run& run, size_t idx, std::vector<RuleEntry> entries, const ClassifyOptions& opt) {
  std::map<FieldId, uint8_t> grown;  // fields the rule adds or widens
  std::set<Signature> new_sigs;
  std::vector<ir::Field> new_metas;
  for (const auto& e : entries) {
    for (const auto& c : e.alt.cs) {
      if (c.id.part == KeyPart::Valid) continue;
      const uint8_t w = field_words(c.id, c.words);
      auto it = run.fields.find(c.id);
      if (it == run.fields.end() || it->second < w) {
        auto& g = grown[c.id];
        g = std::max(g, w);
      }
      if (c.id.part == KeyPart::Meta && std::find(run.metas.begin(), run.metas.end(), c.id.field) == run.metas.end() &&
          std::find(new_metas.begin(), new_metas.end(), c.id.field) == new_metas.end())
        new_metas.push_back(c.id.field);
    }
    Signature sig = signature(e.alt, e.action == kClsHotdrop);
    if (!run.sigs.count(sig)) new_sigs.insert(std::move(sig));
  }
  uint32_t bytes = run.key_bytes();
  for (const auto& [id, w] : grown) {
    auto it = run.fields.find(id);
    bytes += 4u * (w - (it == run.fields.end() ? 0 : it->second));
  }
  size_t hot = 0;
  for (const auto& sg : new_sigs) hot += sg.hotdrop;
  if (bytes > kClsMaxKeyBytes || run.normal_tuples() + new_sigs.size() - hot > opt.max_tuples ||
      run.sigs.size() - run.normal_tuples() + hot > opt.max_tuples || run.metas.size() + new_metas.size() > kClsMaxMetas)
    return false;
  for (const auto& [id, w] : grown) run.fields[id] = w;
  run.sigs.merge(new_sigs);
  run.metas.insert(run.metas.end(), new_metas.begin(), new_metas.end());
  if (run.rules.empty()) run.first = idx;
  run.last = idx + 1;
  run.rules.emplace_back(idx, std::move(entries));
  return true;
}

void put_word(std::vector<uint8_t>& key, uint32_t off, uint32_t w) { std::memcpy(key.data() + off, &w, 4); }

Segment build_segment(Run& run) {
  Segment s;
  s.first = run.first;
  s.last = run.last;
  s.gotos = run.gotos;
  s.metas = run.metas;
  uint16_t off = 4;
  s.layout.push_back({KeyPart::Valid, ir::Field::NfProto, 1, off});
  off += 4;
  std::map<FieldId, KeyField> where;
  for (const auto& [id, w] : run.fields) {
    KeyField kf{id.part, id.field, w, off};
    where[id] = kf;
    s.layout.push_back(kf);
    off = static_cast<uint16_t>(off + 4 * w);
    s.mac |= id.part == KeyPart::Mac;
    s.iif |= id.part == KeyPart::Iface && id.field == ir::Field::IifIndex;
    s.oif |= id.part == KeyPart::Iface && id.field == ir::Field::OifIndex;
  }
  s.key_bytes = (off + 7) & ~7u;  // whole 8-byte words: the key is written with 64-bit stores (classify_emit.cc)
  for (const auto& [idx, entries] : run.rules)
    for (const auto& e : entries)
      for (const auto& c : e.alt.cs)
        if (c.id.part == KeyPart::Valid) s.hotdrop_bits |= c.mask[0];
  auto presence = [&](ir::Field f) {
    auto it = std::find(s.metas.begin(), s.metas.end(), f);
    return 1u << (kClsMetaPresentFirst + static_cast<uint32_t>(it - s.metas.begin()));
  };
  // Tuple ids: normal tuples first, then those holding only hotdrop entries (Segment::first_hotdrop).
  std::map<std::pair<bool, std::vector<uint32_t>>, uint32_t> tuple_ids;
  std::vector<std::pair<std::vector<uint32_t>, std::vector<uint32_t>>> pending;  // (mask, value) per entry
  std::set<uint32_t> actions;
  for (size_t i = 0; i < s.gotos.size(); ++i) actions.insert(kClsGotoFirst + static_cast<uint32_t>(i));
  for (const auto& [idx, entries] : run.rules) {
    for (const auto& e : entries) {
      std::vector<uint32_t> mask(s.key_bytes / 4 - 1, 0), value(s.key_bytes / 4 - 1, 0);
      uint32_t valid_mask = e.alt.valid, valid_value = e.alt.valid;
      for (const auto& c : e.alt.cs) {
        if (c.id.part == KeyPart::Valid) {  // a bit required clear (hotdrop)
          valid_mask |= c.mask[0];
          valid_value &= ~c.mask[0];
          continue;
        }
        if (c.id.part == KeyPart::Meta && meta_can_be_absent(c.id.field)) {
          valid_mask |= presence(c.id.field);
          valid_value |= presence(c.id.field);
        }
        const KeyField& kf = where.at(c.id);
        for (int w = 0; w < kf.words && w < 4; ++w) {
          const size_t i = (kf.off - 4) / 4 + w;
          mask[i] |= c.mask[w];
          value[i] |= c.value[w] & c.mask[w];
        }
      }
      mask[0] = valid_mask;
      value[0] = valid_value;
      const bool hot = e.action == kClsHotdrop;
      tuple_ids.emplace(std::make_pair(hot, mask), 0);
      pending.emplace_back(std::move(mask), std::move(value));
      s.entries.emplace_back(std::vector<uint8_t>{hot}, ClsValue{static_cast<uint32_t>(idx), e.action});
    }
  }
  for (bool hot : {false, true}) {
    if (hot) s.first_hotdrop = s.tuples.size();
    for (auto& [k, id] : tuple_ids)
      if (k.first == hot) {
        id = static_cast<uint32_t>(s.tuples.size());
        s.tuples.push_back(k.second);
      }
  }
  for (size_t j = 0; j < s.entries.size(); ++j) {
    const bool hot = s.entries[j].first[0] != 0;
    const auto& [mask, value] = pending[j];
    std::vector<uint8_t> key(s.key_bytes, 0);
    put_word(key, 0, tuple_ids.at({hot, mask}));
    for (size_t i = 0; i < value.size(); ++i) put_word(key, static_cast<uint32_t>(4 + 4 * i), value[i]);
    s.entries[j].first = std::move(key);
  }
  // One entry per key, the first rule's: a stable sort keeps rule order among equal keys.
  std::stable_sort(s.entries.begin(), s.entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  s.entries.erase(std::unique(s.entries.begin(), s.entries.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  s.entries.end());
  for (const auto& [k, v] : s.entries) actions.insert(v.action);
  s.actions.assign(actions.begin(), actions.end());
  return s;
}

}  // namespace

std::vector<Segment> plan_segments(const Gen& g, const ir::Chain& chain, const ClassifyOptions& opt) {
  std::vector<Segment> out;
  if (opt.min_rules == 0) return out;
  Run run;
  auto close = [&]() {
    const size_t n = run.last - run.first;
    // Hotdrop tuples are looked up only for the rare packets with a hotdrop condition: the cost model
    // counts the others.
    if (!run.rules.empty() && n >= opt.min_rules && run.normal_tuples() * opt.rules_per_tuple <= n) {
      Segment s = build_segment(run);
      if (!s.tuples.empty()) out.push_back(std::move(s));
    }
    run = Run{};
  };
  for (size_t i = 0; i < chain.rules.size(); ++i) {
    auto entries = rule_entries(g, chain.rules[i], run.gotos, opt);
    if (!entries) {
      close();
      continue;
    }
    if (!try_add(run, i, *entries, opt)) {
      close();
      std::vector<std::string> gotos;
      auto again = rule_entries(g, chain.rules[i], gotos, opt);  // goto indexes restart with the run
      run.gotos = std::move(gotos);
      if (!again || !try_add(run, i, std::move(*again), opt)) run = Run{};
    }
  }
  close();
  return out;
}

MapSpec segment_map_spec(Segment& s, const std::string& chain) {
  MapSpec m;
  m.name = ("nfjit_cls_" + chain).substr(0, 15);
  m.type = BPF_MAP_TYPE_HASH;
  m.key_size = s.key_bytes;
  m.value_size = sizeof(ClsValue);
  m.max_entries = static_cast<uint32_t>(std::max<size_t>(64, s.entries.size() + s.entries.size() / 4));
  m.initial.reserve(s.entries.size());
  for (auto& [k, v] : s.entries) {
    std::vector<uint8_t> val(sizeof(ClsValue));
    std::memcpy(val.data(), &v, sizeof v);
    m.initial.emplace_back(std::move(k), std::move(val));
  }
  s.entries.clear();
  return m;
}

}  // namespace nfjit::codegen
