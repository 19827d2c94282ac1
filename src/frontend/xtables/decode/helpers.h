// Small building blocks shared by the decoder files: IR match constructors and -S text formatting.
#pragma once

#include <cstdio>
#include <cstring>
#include <string>

#include "frontend/xtables/abi.h"
#include "frontend/xtables/decode/extension.h"

namespace nfjit::xt {

template <typename T>
inline T as(Bytes data) {
  T v{};
  std::memcpy(&v, data.data(), std::min(sizeof(T), data.size()));
  return v;
}

inline ir::Match int_match(ir::Field f, uint32_t lo, uint32_t hi, bool invert, uint32_t mask = 0xffffffffu) {
  ir::IntMatch m;
  m.field = f;
  m.mask = mask;
  m.ranges.push_back({lo, hi});
  return ir::Match{m, invert};
}

// The first IR match of an xt match that hotdrops (ir::Hotdrop) carries the conditions: the kernel checks
// them before anything else the match tests.
inline void set_hotdrop(std::vector<ir::Match>& ms, ir::Hotdrop h) {
  if (!ms.empty()) ms.front().hotdrop = h;
}

// ip6_packet_match() sets the transport offset and fragment offset only for rules with IP6T_F_PROTO;
// without it an xt match reads the transport header at offset 0 (the IPv6 header). Refused.
inline Result<void> need_v6_proto_flag(const RuleContext& c, const char* match) {
  if (c.family == ir::Family::Ipv6 && !c.v6_proto_flag)
    return make_error(EOPNOTSUPP, std::string(match) + " in an ip6tables rule without IP6T_F_PROTO reads the IPv6 "
                                  "header as its transport header");
  return {};
}

inline std::string bang(bool inv) { return inv ? "! " : ""; }

inline std::string range_text(uint32_t lo, uint32_t hi) {
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + ":" + std::to_string(hi);
}

inline std::string hex(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

}  // namespace nfjit::xt
