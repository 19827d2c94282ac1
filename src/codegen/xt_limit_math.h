// xt_limit.c's credit arithmetic (kernel 6.18), all u32 as in the kernel, for a given HZ: credits per
// jiffy, user2credits(), and the cost / cap limit_mt_check() derives from xt_rateinfo avg and burst.
// Used by codegen (match_limit.cc) and by tests that predict what the kernel admits.
#pragma once

#include <cstdint>

namespace nfjit::codegen {

inline constexpr uint32_t kXtLimitScale = 10000;  // XT_LIMIT_SCALE

// CREDITS_PER_JIFFY = POW2_BELOW32(MAX_CPJ), MAX_CPJ = 0xFFFFFFFF / (HZ*60*60*24).
constexpr uint32_t xt_credits_per_jiffy(uint32_t hz) {
  uint32_t x = 0xFFFFFFFFu / (hz * 60u * 60u * 24u);
  x |= x >> 1; x |= x >> 2; x |= x >> 4; x |= x >> 8; x |= x >> 16;
  return (x >> 1) + 1;
}

constexpr uint32_t xt_user2credits(uint32_t hz, uint32_t user) {
  const uint32_t cpj = xt_credits_per_jiffy(hz);
  if (user > 0xFFFFFFFFu / (hz * cpj)) return (user / kXtLimitScale) * hz * cpj;
  return (user * hz * cpj) / kXtLimitScale;
}

struct XtLimitParams {
  uint32_t credits_per_jiffy = 0;
  uint32_t cost = 0;  // r->cost = user2credits(avg)
  uint32_t cap = 0;   // r->credit_cap = priv->credit at check = user2credits(avg * burst), u32 product
  bool overflow = false;  // limit_mt_check() refuses it (-ERANGE)
};

constexpr XtLimitParams xt_limit_params(uint32_t hz, uint32_t avg, uint32_t burst) {
  XtLimitParams p;
  p.credits_per_jiffy = xt_credits_per_jiffy(hz);
  p.cost = xt_user2credits(hz, avg);
  p.cap = xt_user2credits(hz, avg * burst);
  p.overflow = burst == 0 || p.cap < p.cost;
  return p;
}

}  // namespace nfjit::codegen
