#include "verify/corpus.h"

#include <arpa/inet.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

namespace nfjit::verify {

const char* to_string(CtWant c) {
  switch (c) {
    case CtWant::Any: return "any";
    case CtWant::New: return "NEW";
    case CtWant::Established: return "ESTABLISHED";
    case CtWant::Related: return "RELATED";
    case CtWant::Invalid: return "INVALID";
  }
  return "?";
}

namespace {

using ir::Field;
using Apply = std::function<void(Probe&)>;

struct Choice {
  std::string label;
  Apply apply;
};

struct Choices {
  std::vector<Choice> in, out;
  std::string not_drivable;  // non-empty: no packet from S can meet this match
  int order = 2;             // protocol first, interfaces next, the rest last
};

std::string addr_text(const ir::Addr& a, int len) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(len == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof buf);
  return buf;
}

ir::Addr parse_addr(const std::string& s) {
  ir::Addr a{};
  inet_pton(s.find(':') != std::string::npos ? AF_INET6 : AF_INET, s.c_str(), a.data());
  return a;
}

// Addresses K and N can own or route to (not loopback, multicast, unspecified, link-local...).
bool usable(const std::string& text) {
  ir::Addr a = parse_addr(text);
  if (text.find(':') == std::string::npos)
    return a[0] != 0 && a[0] != 127 && a[0] < 224;
  if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)) return false;
  return std::any_of(a.begin(), a.end() - 1, [](uint8_t b) { return b != 0; }) || a[15] > 1;
}

unsigned width(Field f) {
  switch (f) {
    case Field::Sport: case Field::Dport: case Field::Length: return 16;
    case Field::Fragment: return 1;
    case Field::Dscp: return 6;
    case Field::Mark: case Field::CtMark: case Field::SkUid: case Field::IifIndex: case Field::OifIndex: return 32;
    default: return 8;
  }
}

void set_proto(Probe& p, uint8_t proto) {
  p.spec.proto = proto;
  if (proto == 1) p.spec.icmp_type = 8, p.spec.icmp_code = 0;
  if (proto == 58) p.spec.icmp_type = 128, p.spec.icmp_code = 0;
  if (proto == 6) p.spec.tcp_flags = 0x02;
}

// Sets an integer field; false when S cannot put that value in a packet.
bool settable(Field f) {
  switch (f) {
    case Field::L4Proto: case Field::Fragment: case Field::Sport: case Field::Dport: case Field::TcpFlags:
    case Field::IcmpType: case Field::IcmpCode: case Field::Length: case Field::Ttl: case Field::Tos:
    case Field::Dscp:
      return true;
    default:
      return false;
  }
}

void set_field(Probe& p, Field f, uint32_t v) {
  switch (f) {
    case Field::L4Proto: set_proto(p, static_cast<uint8_t>(v)); break;
    case Field::Fragment: p.spec.nonfirst_fragment = v != 0; break;
    case Field::Sport: p.spec.sport = static_cast<uint16_t>(v); p.sport_fixed = true; break;
    case Field::Dport: p.spec.dport = static_cast<uint16_t>(v); break;
    case Field::TcpFlags: p.spec.tcp_flags = static_cast<uint8_t>(v); break;
    case Field::IcmpType: p.spec.icmp_type = static_cast<uint8_t>(v); break;
    case Field::IcmpCode: p.spec.icmp_code = static_cast<uint8_t>(v); break;
    case Field::Length: p.l3_length = v; break;
    case Field::Ttl: p.spec.ttl = static_cast<uint8_t>(v); break;
    case Field::Tos: p.spec.tos = static_cast<uint8_t>(v); break;
    case Field::Dscp: p.spec.tos = static_cast<uint8_t>((v << 2) | (p.spec.tos & 3)); break;
    default: break;
  }
}

bool in_ranges(const ir::IntMatch& m, uint32_t v) {
  for (const auto& r : m.ranges)
    if ((v & m.mask) >= r.lo && (v & m.mask) <= r.hi) return true;
  return false;
}

std::string fname(Field f) { return ir::to_string(f); }

Choice int_choice(Field f, uint32_t v) {
  return {fname(f) + " " + std::to_string(v), [f, v](Probe& p) { set_field(p, f, v); }};
}

Choices int_choices(const ir::IntMatch& m, int family) {
  Choices c;
  Field f = m.field;
  if (f == Field::NfProto) {
    c.in.push_back({"nfproto", [](Probe&) {}});
    return c;
  }
  if (m.op == ir::IntOp::AnyBit) {
    if (f != Field::CtState) {
      c.not_drivable = std::string(ir::to_string(f)) + " cannot be set on a packet from outside";
      return c;
    }
    const std::pair<uint32_t, CtWant> states[] = {{ir::kCtNew, CtWant::New},
                                                   {ir::kCtEstablished, CtWant::Established},
                                                   {ir::kCtRelated, CtWant::Related},
                                                   {ir::kCtInvalid, CtWant::Invalid}};
    for (auto [bit, want] : states) {
      Choice ch{std::string("ct state ") + to_string(want), [want](Probe& p) { p.ct = want; }};
      ((m.mask & bit) ? c.in : c.out).push_back(ch);
    }
    c.order = 3;
    return c;
  }
  uint32_t full = width(f) == 32 ? 0xffffffffu : ((1u << width(f)) - 1);
  if (!settable(f)) {
    // Fields S cannot set (mark, ct mark, uid, ifindex) are 0 on every injected packet.
    if (in_ranges(m, 0)) c.in.push_back({fname(f) + " 0", [](Probe&) {}});
    else c.not_drivable = std::string(ir::to_string(f)) + " cannot be set on a packet from outside";
    return c;
  }
  if (f == Field::L4Proto) {
    c.order = 0;
    for (const auto& r : m.ranges) c.in.push_back(int_choice(f, r.lo));
    uint8_t icmp = family == 6 ? 58 : 1;
    for (uint32_t alt : {17u, 6u, uint32_t(icmp), 132u})
      if (!in_ranges(m, alt) && c.out.size() < 2) c.out.push_back(int_choice(f, alt));
    return c;
  }
  if ((m.mask & full) != full || f == Field::TcpFlags) {
    // Masked compare (TCP flags, TOS with a mask): the value itself, the value with every untested bit
    // set, and each tested bit flipped on its own.
    uint32_t v = m.ranges.empty() ? 0 : m.ranges[0].lo & m.mask;
    c.in.push_back(int_choice(f, v));
    uint32_t all = v | (~m.mask & full);
    if (all != v && in_ranges(m, all)) c.in.push_back(int_choice(f, all));
    for (unsigned b = 0; b < width(f); ++b)
      if ((m.mask >> b) & 1) {
        uint32_t x = v ^ (1u << b);
        if (!in_ranges(m, x)) c.out.push_back(int_choice(f, x));
      }
    return c;
  }
  std::set<uint32_t> ins, outs;
  for (const auto& r : m.ranges) {
    ins.insert(r.lo);
    ins.insert(r.hi);
    if (r.lo > 0 && !in_ranges(m, r.lo - 1)) outs.insert(r.lo - 1);
    if (r.hi < full && !in_ranges(m, r.hi + 1)) outs.insert(r.hi + 1);
  }
  // Fragment: "-f" means a non-first fragment; its miss is a whole packet.
  for (uint32_t v : ins)
    if (c.in.size() < 6) c.in.push_back(int_choice(f, v));
  for (uint32_t v : outs)
    if (c.out.size() < 6) c.out.push_back(int_choice(f, v));
  if (f == Field::Fragment) c.order = 1;
  return c;
}

ir::Addr host_part(ir::Addr v, const ir::Addr& mask, int len, uint8_t fill) {
  for (int i = 0; i < len; ++i) v[i] = static_cast<uint8_t>((v[i] & mask[i]) | (~mask[i] & (i == len - 1 ? fill : 0)));
  return v;
}

Choice addr_choice(Field f, const ir::Addr& a, int len, const std::string& label) {
  std::string text = addr_text(a, len);
  return {label + " " + text, [f, text](Probe& p) { (f == Field::Saddr ? p.spec.src : p.spec.dst) = text; }};
}

Choices addr_choices(const ir::AddrMatch& m) {
  Choices c;
  const char* lab = m.field == Field::Saddr ? "saddr" : "daddr";
  c.in.push_back(addr_choice(m.field, host_part(m.value, m.mask, m.len, 0x05), m.len, lab));
  ir::Addr last = m.value;
  for (int i = 0; i < m.len; ++i) last[i] = static_cast<uint8_t>((m.value[i] & m.mask[i]) | ~m.mask[i]);
  if (!(m.mask[m.len - 1] & 1)) last[m.len - 1] &= 0xfe;  // not the broadcast address
  if (last != host_part(m.value, m.mask, m.len, 0x05)) c.in.push_back(addr_choice(m.field, last, m.len, lab));
  // Just outside: the lowest bit of the prefix flipped.
  for (int i = m.len - 1; i >= 0; --i)
    if (m.mask[i]) {
      ir::Addr o = host_part(m.value, m.mask, m.len, 0x05);
      o[i] ^= static_cast<uint8_t>(m.mask[i] & -m.mask[i]);
      c.out.push_back(addr_choice(m.field, o, m.len, lab));
      break;
    }
  return c;
}

bool step(ir::Addr& a, int len, int delta) {  // big-endian +-1; false on wrap
  for (int i = len - 1; i >= 0; --i) {
    if (delta > 0) {
      if (++a[i] != 0) return true;
    } else {
      if (a[i]-- != 0) return true;
    }
  }
  return false;
}

Choices range_choices(const ir::AddrRangeMatch& m) {
  Choices c;
  const char* lab = m.field == Field::Saddr ? "saddr" : "daddr";
  c.in.push_back(addr_choice(m.field, m.lo, m.len, lab));
  if (m.hi != m.lo) c.in.push_back(addr_choice(m.field, m.hi, m.len, lab));
  ir::Addr below = m.lo, above = m.hi;
  if (step(below, m.len, -1)) c.out.push_back(addr_choice(m.field, below, m.len, lab));
  if (step(above, m.len, +1)) c.out.push_back(addr_choice(m.field, above, m.len, lab));
  return c;
}

bool iface_matches(const ir::IfaceMatch& m, const std::string& name) {
  return m.wildcard ? name.rfind(m.name, 0) == 0 : name == m.name;
}

Choices iface_choices(const ir::IfaceMatch& m, const std::vector<HostIface>& ifaces) {
  Choices c;
  c.order = 1;
  const char* opt = m.out ? "-o " : "-i ";
  auto set = [out = m.out](const std::string& n) {
    return [out, n](Probe& p) { (out ? p.out_iface : p.in_iface) = n; };
  };
  for (const auto& h : ifaces)
    if (iface_matches(m, h.name) && c.in.size() < 1) c.in.push_back({opt + h.name, set(h.name)});
  for (const auto& h : ifaces)
    if (!iface_matches(m, h.name) && c.out.empty()) c.out.push_back({opt + h.name, set(h.name)});
  if (c.in.empty())
    c.not_drivable = std::string(opt) + m.name + (m.wildcard ? "+" : "") +
                     (m.name == "lo" ? ": packets on lo are not injected" : ": no such scratch interface");
  return c;
}

Choices mac_choices(const ir::MacMatch& m) {
  Choices c;
  auto set = [](std::array<uint8_t, 6> a) {
    return [a](Probe& p) {
      p.src_mac = a;
      p.src_mac_set = true;
    };
  };
  auto flipped = m.addr;
  flipped[5] ^= 1;
  c.in.push_back({"mac-source " + mac_text(m.addr), set(m.addr)});
  c.out.push_back({"mac-source " + mac_text(flipped), set(flipped)});
  return c;
}

Choices choices_for(const ir::Match& mm, int family, const std::vector<HostIface>& ifaces) {
  Choices c;
  if (auto* m = std::get_if<ir::IntMatch>(&mm.m)) c = int_choices(*m, family);
  else if (auto* m = std::get_if<ir::AddrMatch>(&mm.m)) c = addr_choices(*m);
  else if (auto* m = std::get_if<ir::AddrRangeMatch>(&mm.m)) c = range_choices(*m);
  else if (auto* m = std::get_if<ir::IfaceMatch>(&mm.m)) c = iface_choices(*m, ifaces);
  else if (auto* m = std::get_if<ir::MacMatch>(&mm.m)) c = mac_choices(*m);
  else if (auto* m = std::get_if<ir::LimitMatch>(&mm.m)) {
    int n = static_cast<int>(std::min<uint32_t>(m->burst + 2, 12));
    c.in.push_back({"rate limit (sent " + std::to_string(n) + " times)", [n](Probe& p) { p.repeat = n; }});
  } else c.not_drivable = "set matches are not generated for iptables input";
  if (mm.invert && c.not_drivable.empty()) {
    std::swap(c.in, c.out);
    if (c.in.empty()) c.not_drivable = "an inverted match no packet can meet";
  }
  return c;
}

// The matches on the way into `chain` (the first jump/goto found, recursively) and the hook it hangs off.
std::optional<std::pair<ir::Hook, std::vector<ir::Match>>> entry_path(const ir::Table& t, const std::string& chain,
                                                                      std::set<std::string>& seen) {
  const ir::Chain* c = t.find_chain(chain);
  if (!c) return std::nullopt;
  if (c->base) return std::make_pair(c->base->hook, std::vector<ir::Match>{});
  if (!seen.insert(chain).second) return std::nullopt;
  for (const auto& caller : t.chains)
    for (const auto& r : caller.rules)
      if ((r.action.kind == ir::ActionKind::Jump || r.action.kind == ir::ActionKind::Goto) && r.action.target == chain) {
        auto up = entry_path(t, caller.name, seen);
        if (!up) continue;
        up->second.insert(up->second.end(), r.matches.begin(), r.matches.end());
        return up;
      }
  return std::nullopt;
}

class Builder {
 public:
  Builder(const std::vector<HostIface>& ifaces, const CorpusOptions& opt) : ifaces_(ifaces), opt_(opt), rng_(opt.seed) {}

  Probe base(Direction d) const {
    Probe p;
    p.dir = d;
    p.spec.family = opt_.family;
    p.in_iface = ifaces_.front().name;
    p.out_iface = ifaces_.size() > 1 ? ifaces_.back().name : ifaces_.front().name;
    p.spec.proto = 17;
    p.spec.dport = 9;
    return p;
  }

  // Fills addresses left at their defaults once the interfaces are known.
  void place(Probe& p) const {
    const HostIface* in = &ifaces_.front();
    for (const auto& h : ifaces_)
      if (h.name == p.in_iface) in = &h;
    bool v6 = opt_.family == 6;
    if (p.spec.src == PacketSpec{}.src || p.spec.src.empty()) p.spec.src = v6 ? in->peer_v6 : in->peer_v4;
    if (p.spec.dst == PacketSpec{}.dst || p.spec.dst.empty())
      p.spec.dst = p.dir == Direction::Input ? (v6 ? in->v6 : in->v4) : (v6 ? "2001:db8:fa::9" : "198.18.250.9");
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  const std::vector<HostIface>& ifaces_;
  const CorpusOptions& opt_;
  std::mt19937_64 rng_;
};

std::string rule_name(const std::string& table, const std::string& chain, size_t i, const std::string& origin) {
  return table + "/" + chain + "#" + std::to_string(i + 1) + " (" + origin + ")";
}

}  // namespace

Corpus build_corpus(const std::vector<TableModel>& tables, const std::vector<HostIface>& ifaces,
                    const CorpusOptions& opt) {
  Corpus out;
  Builder b(ifaces, opt);
  // Tier 0: a packet meeting each rule; tier 1: edges and one-field misses; tier 2: random packets.
  std::vector<std::pair<int, Probe>> all;
  bool any_forward = false;
  for (const auto& t : tables) {
    if (!t.refusals.empty() && t.ir.chains.empty()) continue;
    for (const auto& chain : t.ir.chains) {
      std::set<std::string> seen;
      auto path = entry_path(t.ir, chain.name, seen);
      for (size_t ri = 0; ri < chain.rules.size(); ++ri) {
        const ir::Rule& r = chain.rules[ri];
        std::string name = rule_name(t.name, chain.name, ri, r.origin);
        if (!path) {
          out.not_driven.push_back({r.origin, "its chain is not reached from a built-in chain"});
          continue;
        }
        Direction dir;
        switch (path->first) {
          case ir::Hook::Prerouting: case ir::Hook::Input: dir = Direction::Input; break;
          case ir::Hook::Forward: case ir::Hook::Postrouting: dir = Direction::Forward; any_forward = true; break;
          default:
            out.not_driven.push_back({r.origin, "OUTPUT direction: locally generated packets are not driven yet"});
            continue;
        }
        std::vector<ir::Match> ms = path->second;
        size_t own = ms.size();
        ms.insert(ms.end(), r.matches.begin(), r.matches.end());
        std::vector<Choices> cs;
        std::string why_not;
        for (const auto& m : ms) {
          cs.push_back(choices_for(m, opt.family, ifaces));
          if (!cs.back().not_drivable.empty() && why_not.empty()) why_not = cs.back().not_drivable;
        }
        if (!why_not.empty()) {
          out.not_driven.push_back({r.origin, why_not});
          continue;
        }
        std::vector<size_t> order(cs.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t c) { return cs[a].order < cs[c].order; });
        auto make = [&](size_t which, const Choice* alt, const std::string& why) {
          Probe p = b.base(dir);
          for (size_t k : order) (k == which && alt ? *alt : cs[k].in.front()).apply(p);
          b.place(p);
          p.why = name + ": " + why;
          return p;
        };
        all.push_back({0, make(SIZE_MAX, nullptr, "all matches hold")});
        for (size_t i = own; i < cs.size(); ++i) {
          for (size_t j = 1; j < cs[i].in.size(); ++j)
            all.push_back({1, make(i, &cs[i].in[j], "matches with " + cs[i].in[j].label)});
          for (const auto& o : cs[i].out) all.push_back({1, make(i, &o, "misses by " + o.label)});
        }
      }
    }
  }
  // Random packets: half are rule probes with one field changed at random, half fresh packets.
  auto& rng = b.rng();
  size_t rule_probes = all.size();
  size_t want_random = std::max(opt.max_packets / 10, opt.max_packets > rule_probes ? opt.max_packets - rule_probes : 0);
  const uint8_t icmp = opt.family == 6 ? 58 : 1;
  const uint8_t protos[] = {6, 17, icmp, 132};
  const uint8_t flag_sets[] = {0x02, 0x12, 0x10, 0x04, 0x01, 0x11, 0x18, 0x00, 0x03, 0x29};
  for (size_t i = 0; i < want_random; ++i) {
    Probe p;
    if (rule_probes && rng() % 2) {
      p = all[rng() % rule_probes].second;
      switch (rng() % 6) {
        case 0: p.spec.dport = static_cast<uint16_t>(p.spec.dport + static_cast<int>(rng() % 5) - 2); break;
        case 1: p.spec.sport = static_cast<uint16_t>(rng() % 65536); p.sport_fixed = true; break;
        case 2: p.spec.tcp_flags = flag_sets[rng() % std::size(flag_sets)]; break;
        case 3: p.in_iface = ifaces[rng() % ifaces.size()].name; p.spec.src.clear(); break;
        case 4: set_proto(p, protos[rng() % std::size(protos)]); break;
        default: p.spec.ttl = static_cast<uint8_t>(rng() % 256); break;
      }
      p.why = "random: " + p.why;
    } else {
      p = b.base(any_forward && rng() % 3 == 0 ? Direction::Forward : Direction::Input);
      set_proto(p, protos[rng() % std::size(protos)]);
      p.spec.dport = static_cast<uint16_t>(rng() % 4 == 0 ? rng() % 65536 : rng() % 1024);
      if (p.spec.proto == 6) p.spec.tcp_flags = flag_sets[rng() % std::size(flag_sets)];
      if (p.spec.proto == icmp) p.spec.icmp_type = static_cast<uint8_t>(rng() % 4 ? (icmp == 1 ? 8 : 128) : rng() % 256);
      p.in_iface = ifaces[rng() % ifaces.size()].name;
      const CtWant cts[] = {CtWant::Any, CtWant::Any, CtWant::Any, CtWant::Established, CtWant::Related, CtWant::Invalid};
      p.ct = cts[rng() % std::size(cts)];
      p.why = "random packet";
    }
    b.place(p);
    all.push_back({2, p});
  }
  // Bound: whole tiers first, the last tier sampled with the seed; sending order stays corpus order.
  std::vector<size_t> keep;
  size_t used = 0;
  for (int tier = 0; tier <= 2; ++tier) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].first == tier) idx.push_back(i);
    // A rate-limited rule's probe is sent `repeat` times: it weighs that many packets.
    size_t weight = 0;
    for (size_t i : idx) weight += all[i].second.repeat;
    if (used + weight > opt.max_packets) std::shuffle(idx.begin(), idx.end(), rng);
    for (size_t i : idx) {
      size_t w = all[i].second.repeat;
      if (used + w > opt.max_packets) continue;
      used += w;
      keep.push_back(i);
    }
  }
  std::sort(keep.begin(), keep.end());
  std::set<std::string> locals;
  std::set<std::pair<std::string, std::string>> routes;
  for (size_t i : keep) {
    Probe& p = all[i].second;
    if (p.dir == Direction::Input) {
      if (usable(p.spec.dst)) locals.insert(p.spec.dst);
    } else if (usable(p.spec.dst)) {
      routes.insert({p.spec.dst, p.out_iface});
    }
    if (usable(p.spec.src)) routes.insert({p.spec.src, p.in_iface});
    else if (p.spec.src.rfind("fe", 0) == 0) out.neighbors.push_back({p.spec.src, p.in_iface});
    out.probes.push_back(std::move(p));
  }
  // A host's own addresses need no entry; the peers' are resolved statically already.
  for (const auto& h : ifaces)
    for (const auto& a : {h.v4, h.v6}) locals.erase(a);
  for (const auto& h : ifaces)
    for (const auto& a : {h.peer_v4, h.peer_v6}) {
      locals.erase(a);
      for (auto it = routes.begin(); it != routes.end();) it = it->first == a ? routes.erase(it) : std::next(it);
    }
  for (const auto& l : locals)
    for (auto it = routes.begin(); it != routes.end();) it = it->first == l ? routes.erase(it) : std::next(it);
  out.local_addrs.assign(locals.begin(), locals.end());
  out.routes.assign(routes.begin(), routes.end());
  return out;
}

}  // namespace nfjit::verify
