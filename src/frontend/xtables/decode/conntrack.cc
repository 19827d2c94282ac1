// state (xt_state.c) and conntrack revisions 1-3 (xt_conntrack.c): connection tracking state.
// Only the state test is lowered; the IR has no field for ct status, tuples, expiry or direction.
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_state.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

// xt_state uses the IR's bit layout (INVALID 0, ESTABLISHED 1, RELATED 2, NEW 3, UNTRACKED 6); bits 4
// and 5 can never be set by a packet, so they are masked out without changing the result.
constexpr uint32_t kStateBits = ir::kCtInvalid | ir::kCtEstablished | ir::kCtRelated | ir::kCtNew | ir::kCtUntracked;

ir::Match state_match(uint32_t mask, bool inv) {
  ir::IntMatch m;
  m.field = ir::Field::CtState;
  m.op = ir::IntOp::AnyBit;
  m.mask = mask;
  return ir::Match{m, inv};
}

std::string state_names(uint32_t mask, uint32_t untracked_bit) {
  static const std::pair<const char*, uint32_t> names[] = {
      {"INVALID", ir::kCtInvalid}, {"NEW", ir::kCtNew}, {"RELATED", ir::kCtRelated}, {"ESTABLISHED", ir::kCtEstablished}};
  std::string s;
  for (auto& [n, b] : names)
    if (mask & b) s += (s.empty() ? "" : ",") + std::string(n);
  if (mask & untracked_bit) s += (s.empty() ? "" : ",") + std::string("UNTRACKED");
  if (mask & XT_CONNTRACK_STATE_SNAT && untracked_bit != XT_STATE_UNTRACKED) s += ",SNAT";
  if (mask & XT_CONNTRACK_STATE_DNAT && untracked_bit != XT_STATE_UNTRACKED) s += ",DNAT";
  return s;
}

Result<std::vector<ir::Match>> state_decode(Bytes d, const RuleContext&) {
  auto s = as<xt_state_info>(d);
  return std::vector<ir::Match>{state_match(s.statemask & kStateBits, false)};
}

std::string state_describe(Bytes d, const RuleContext&) {
  return "-m state --state " + state_names(as<xt_state_info>(d).statemask, XT_STATE_UNTRACKED);
}

// The fields every conntrack revision shares, read at the revision's offsets.
struct CtCommon {
  uint16_t match_flags, invert_flags;
  uint32_t state_mask;
};

template <typename Info>
CtCommon common(Bytes d) {
  auto i = as<Info>(d);
  return {i.match_flags, i.invert_flags, i.state_mask};
}

Result<std::vector<ir::Match>> ct_decode(const CtCommon& c) {
  if (c.match_flags & ~(XT_CONNTRACK_STATE | XT_CONNTRACK_STATE_ALIAS))
    return not_lowerable("conntrack: only --ctstate can be lowered (the IR has no ct status/tuple/expiry field)");
  if (!(c.match_flags & XT_CONNTRACK_STATE)) return not_lowerable("conntrack without --ctstate");
  if (c.state_mask & (XT_CONNTRACK_STATE_SNAT | XT_CONNTRACK_STATE_DNAT))
    return not_lowerable("conntrack --ctstate SNAT/DNAT: the IR has no NAT status bits");
  uint32_t mask = c.state_mask & (ir::kCtInvalid | ir::kCtEstablished | ir::kCtRelated | ir::kCtNew);
  if (c.state_mask & XT_CONNTRACK_STATE_UNTRACKED) mask |= ir::kCtUntracked;
  return std::vector<ir::Match>{state_match(mask, c.invert_flags & XT_CONNTRACK_STATE)};
}

std::string ct_describe(const CtCommon& c) {
  if (c.match_flags & XT_CONNTRACK_STATE_ALIAS) return "-m state --state " + state_names(c.state_mask, XT_CONNTRACK_STATE_UNTRACKED);
  std::string o = "-m conntrack";
  if (c.match_flags & XT_CONNTRACK_STATE)
    o += " " + bang(c.invert_flags & XT_CONNTRACK_STATE) + "--ctstate " +
         state_names(c.state_mask, XT_CONNTRACK_STATE_UNTRACKED);
  if (c.match_flags & ~(XT_CONNTRACK_STATE | XT_CONNTRACK_STATE_ALIAS)) o += " (flags " + hex(c.match_flags) + ")";
  return o;
}

template <typename Info>
Result<std::vector<ir::Match>> ct_decode_rev(Bytes d, const RuleContext&) { return ct_decode(common<Info>(d)); }
template <typename Info>
std::string ct_describe_rev(Bytes d, const RuleContext&) { return ct_describe(common<Info>(d)); }

// Both modules register as NFPROTO_UNSPEC.
const Extension kExt[] = {
    {false, "state", 0, kFamBoth, true, sizeof(xt_state_info), 0, nullptr, 0, 0, nullptr, state_decode, nullptr,
     state_describe},
    {false, "conntrack", 1, kFamBoth, true, sizeof(xt_conntrack_mtinfo1), 0, nullptr, 0, 0, nullptr,
     ct_decode_rev<xt_conntrack_mtinfo1>, nullptr, ct_describe_rev<xt_conntrack_mtinfo1>},
    {false, "conntrack", 2, kFamBoth, true, sizeof(xt_conntrack_mtinfo2), 0, nullptr, 0, 0, nullptr,
     ct_decode_rev<xt_conntrack_mtinfo2>, nullptr, ct_describe_rev<xt_conntrack_mtinfo2>},
    {false, "conntrack", 3, kFamBoth, true, sizeof(xt_conntrack_mtinfo3), 0, nullptr, 0, 0, nullptr,
     ct_decode_rev<xt_conntrack_mtinfo3>, nullptr, ct_describe_rev<xt_conntrack_mtinfo3>},
};

}  // namespace

std::span<const Extension> conntrack_extensions() { return kExt; }

}  // namespace nfjit::xt
