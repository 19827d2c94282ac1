#include "codegen/sets.h"

#include <linux/bpf.h>

#include <algorithm>

namespace nfjit::codegen {

namespace {
uint32_t pad4(uint32_t n) { return (n + 3) & ~3u; }
constexpr uint32_t kMinSetEntries = 1024;  // room for live additions before the runtime must resize
}  // namespace

uint32_t set_field_width(const ir::SetKeyField& f) {
  switch (f.field) {
    case ir::Field::Saddr:
    case ir::Field::Daddr: return f.len == 16 ? 16 : 4;
    case ir::Field::Sport:
    case ir::Field::Dport: return 2;
    case ir::Field::NfProto:
    case ir::Field::L4Proto:
    case ir::Field::Fragment:
    case ir::Field::TcpFlags:
    case ir::Field::IcmpType:
    case ir::Field::IcmpCode:
    case ir::Field::Ttl:
    case ir::Field::Tos:
    case ir::Field::Dscp:
    case ir::Field::PktType: return 1;
    case ir::Field::Length:
    case ir::Field::Mark:
    case ir::Field::CtState:
    case ir::Field::CtMark:
    case ir::Field::SkUid: return 4;
    case ir::Field::IifIndex:
    case ir::Field::OifIndex: return f.len == 16 ? 16 : 4;  // len 16: interface name (iifname/oifname)
  }
  return 0;
}

uint32_t set_key_bytes(const ir::Set& s) {
  uint32_t n = 0;
  for (const auto& f : s.key) n += pad4(set_field_width(f));
  return n;
}

std::vector<std::pair<unsigned __int128, uint32_t>> range_to_prefixes(unsigned __int128 lo, unsigned __int128 hi,
                                                                        uint32_t bits) {
  using u128 = unsigned __int128;
  auto low_mask = [](uint32_t k) -> u128 { return k >= 128 ? ~static_cast<u128>(0) : (static_cast<u128>(1) << k) - 1; };
  std::vector<std::pair<u128, uint32_t>> out;
  for (;;) {
    // Largest aligned block of 2^k values starting at lo that stays within hi.
    uint32_t k = 0;
    while (k < bits && !(lo & low_mask(k + 1)) && lo + low_mask(k + 1) <= hi) ++k;
    out.emplace_back(lo, bits - k);
    u128 last = lo + low_mask(k);
    if (last >= hi) break;
    lo = last + 1;
  }
  return out;
}

Result<MapSpec> set_map_spec(const ir::Set& s) {
  if (s.key.empty()) return make_error(EINVAL, "set '" + s.name + "' has no key");
  for (const auto& f : s.key)
    if (!set_field_width(f)) return make_error(EOPNOTSUPP, "set '" + s.name + "': unsupported key field");
  MapSpec m;
  m.name = s.name.substr(0, 15);
  m.role = MapSpec::Role::Set;
  m.set_name = s.name;
  m.value_size = 4;
  m.flags = BPF_F_NO_PREALLOC;
  if (s.interval) {
    if (s.key.size() != 1)
      return make_error(EOPNOTSUPP, "set '" + s.name + "': interval sets with concatenated keys cannot be lowered");
    m.type = BPF_MAP_TYPE_LPM_TRIE;
    m.key_size = 4 + set_key_bytes(s);
  } else {
    m.type = BPF_MAP_TYPE_HASH;
    m.key_size = set_key_bytes(s);
  }
  for (const auto& el : s.elements) {
    auto entries = encode_set_element(s, el);
    if (!entries) return entries.error();
    for (auto& en : *entries) m.initial.emplace_back(std::move(en.key), std::move(en.value));
  }
  m.max_entries = std::max<uint32_t>(kMinSetEntries, static_cast<uint32_t>(2 * m.initial.size()));
  return m;
}

Result<std::vector<SetMapEntry>> encode_set_element(const ir::Set& s, const ir::SetElement& el) {
  const uint32_t kb = set_key_bytes(s);
  if (el.key.size() != kb)
    return make_error(EINVAL, "set '" + s.name + "': element key has " + std::to_string(el.key.size()) +
                                  " bytes, the set's key has " + std::to_string(kb));
  std::vector<uint8_t> one = {1, 0, 0, 0};
  if (!s.interval) {
    if (!el.key_end.empty() && el.key_end != el.key)
      return make_error(EINVAL, "set '" + s.name + "': range element in a non-interval set");
    return std::vector<SetMapEntry>{{el.key, one}};
  }
  if (s.key.size() != 1)
    return make_error(EOPNOTSUPP, "set '" + s.name + "': interval sets with concatenated keys cannot be lowered");
  const uint32_t width = set_field_width(s.key[0]);
  const std::vector<uint8_t>& hi_key = el.key_end.empty() ? el.key : el.key_end;
  if (hi_key.size() != kb) return make_error(EINVAL, "set '" + s.name + "': interval end has the wrong size");
  unsigned __int128 lo = 0, hi = 0;
  for (uint32_t i = 0; i < width; ++i) {
    lo = (lo << 8) | el.key[i];
    hi = (hi << 8) | hi_key[i];
  }
  if (lo > hi) return make_error(EINVAL, "set '" + s.name + "': interval end below its start");
  std::vector<SetMapEntry> out;
  for (auto [v, plen] : range_to_prefixes(lo, hi, width * 8)) {
    std::vector<uint8_t> key(4 + kb, 0);
    key[0] = plen & 0xff;  // struct bpf_lpm_trie_key: u32 prefixlen, host order
    key[1] = (plen >> 8) & 0xff;
    for (uint32_t i = 0; i < width; ++i) key[4 + i] = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
    out.push_back({std::move(key), one});
  }
  return out;
}

}  // namespace nfjit::codegen
