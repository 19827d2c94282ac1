// comment (xt_comment.c: no test at all), limit (xt_limit.c: a token bucket) and pkttype (xt_pkttype.c).
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/if_packet.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_pkttype.h>

#include <cstddef>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

Result<std::vector<ir::Match>> comment_decode(Bytes, const RuleContext&) { return std::vector<ir::Match>{}; }
std::string comment_describe(Bytes d, const RuleContext&) {
  return "-m comment --comment \"" + fixed_name(d.data(), std::min<size_t>(d.size(), XT_MAX_COMMENT_LEN)) + "\"";
}

// xt_limit.c's credit arithmetic with this kernel's HZ (CONFIG_HZ=250 on the target machine): the
// overflow check in limit_mt_check() depends on it.
constexpr uint32_t kHz = 250;
constexpr uint32_t kMaxCpj = 0xFFFFFFFFu / (kHz * 60 * 60 * 24);
constexpr uint32_t pow2_below32(uint32_t x) {
  x |= x >> 1; x |= x >> 2; x |= x >> 4; x |= x >> 8; x |= x >> 16;
  return (x >> 1) + 1;
}
constexpr uint32_t kCreditsPerJiffy = pow2_below32(kMaxCpj);
uint32_t user2credits(uint32_t user) {
  if (user > 0xFFFFFFFFu / (kHz * kCreditsPerJiffy)) return (user / XT_LIMIT_SCALE) * kHz * kCreditsPerJiffy;
  return (user * kHz * kCreditsPerJiffy) / XT_LIMIT_SCALE;
}

int limit_check(Bytes d, const RuleContext&) {
  auto r = as<xt_rateinfo>(d);
  if (r.burst == 0 || user2credits(r.avg * r.burst) < user2credits(r.avg)) return ERANGE;
  return 0;
}

// avg is the interval between packets in 1/XT_LIMIT_SCALE seconds.
Result<std::vector<ir::Match>> limit_decode(Bytes d, const RuleContext&) {
  auto r = as<xt_rateinfo>(d);
  ir::LimitMatch l;
  l.rate = 1;
  l.per_ns = static_cast<uint64_t>(r.avg) * (1'000'000'000ull / XT_LIMIT_SCALE);
  l.burst = r.burst;
  l.clock = ir::LimitClock::Jiffies;  // the kernel runs xt_limit's jiffies arithmetic (codegen follows it)
  l.xt_avg = r.avg;
  return std::vector<ir::Match>{ir::Match{l, false}};
}

// libxt_limit's print_rate().
std::string limit_describe(Bytes d, const RuleContext&) {
  auto r = as<xt_rateinfo>(d);
  static const std::pair<const char*, uint32_t> rates[] = {{"day", XT_LIMIT_SCALE * 24 * 60 * 60},
                                                           {"hour", XT_LIMIT_SCALE * 60 * 60},
                                                           {"min", XT_LIMIT_SCALE * 60},
                                                           {"sec", XT_LIMIT_SCALE}};
  uint32_t period = r.avg ? r.avg : 1;
  size_t i = 1;
  for (; i < std::size(rates); ++i)
    if (period > rates[i].second || rates[i].second / period < rates[i].second % period) break;
  std::string o = "-m limit --limit " + std::to_string(rates[i - 1].second / period) + "/" + rates[i - 1].first;
  if (r.burst != 5)  /* libxt_limit prints the burst only when not its default of 5 */ o += " --limit-burst " + std::to_string(r.burst);
  return o;
}

// pkttype_mt(): (type == info->pkttype) ^ invert, where type is skb->pkt_type with looped-back packets
// read as multicast / broadcast — exactly the IR's PktType (codegen maps PACKET_LOOPBACK the same way).
// A pkttype outside 0..255 never equals the u8 type, as an IR compare with the same value.
Result<std::vector<ir::Match>> pkttype_decode(Bytes d, const RuleContext&) {
  auto i = as<xt_pkttype_info>(d);
  auto v = static_cast<uint32_t>(i.pkttype);
  return std::vector<ir::Match>{int_match(ir::Field::PktType, v, v, i.invert != 0)};
}

// libxt_pkttype's names for the types it accepts.
std::string pkttype_describe(Bytes d, const RuleContext&) {
  auto i = as<xt_pkttype_info>(d);
  std::string name = i.pkttype == PACKET_HOST        ? "unicast"
                     : i.pkttype == PACKET_BROADCAST ? "broadcast"
                     : i.pkttype == PACKET_MULTICAST ? "multicast"
                                                     : std::to_string(i.pkttype);
  return "-m pkttype " + bang(i.invert != 0) + "--pkt-type " + name;
}

const Extension kExt[] = {
    {false, "comment", 0, kFamBoth, true, sizeof(xt_comment_info), 0, nullptr, 0, 0, nullptr, comment_decode, nullptr,
     comment_describe},
    // Only avg and burst go back to user space; the kernel's private state reads as zeros.
    {false, "limit", 0, kFamBoth, true, sizeof(xt_rateinfo), offsetof(xt_rateinfo, prev), nullptr, 0, 0, limit_check,
     limit_decode, nullptr, limit_describe},
    // Registered once as NFPROTO_UNSPEC, no checkentry.
    {false, "pkttype", 0, kFamBoth, true, sizeof(xt_pkttype_info), 0, nullptr, 0, 0, nullptr, pkttype_decode,
     nullptr, pkttype_describe},
};

}  // namespace

std::span<const Extension> misc_match_extensions() { return kExt; }

}  // namespace nfjit::xt
