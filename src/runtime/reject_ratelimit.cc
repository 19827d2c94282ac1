#include "runtime/reject_ratelimit.h"

#include <stdlib.h>

#include <algorithm>
#include <cstring>

namespace nfjit::runtime {

namespace {
constexpr uint64_t kHzMs = 1000;        // HZ in milliseconds
constexpr int64_t kBurstFactor = 6;     // XRLIM_BURST_FACTOR
constexpr uint64_t kNewPeerAgeMs = 60000;  // inet_getpeer: rate_last = jiffies - 60*HZ
}  // namespace

bool IcmpRateLimiter::global_allow(uint64_t now_ms, int msgs_per_sec, int msgs_burst) {
  if (credit_ > 0) return true;
  uint64_t delta = stamped_ ? std::min<uint64_t>(now_ms - stamp_, kHzMs) : kHzMs;
  if (delta < kHzMs / 50) return false;
  int64_t incr = static_cast<int64_t>(msgs_per_sec) * static_cast<int64_t>(delta) / static_cast<int64_t>(kHzMs);
  if (incr <= 0) return false;
  stamp_ = now_ms;
  stamped_ = true;
  credit_ = std::min<int64_t>(credit_ + incr, msgs_burst);
  return true;
}

void IcmpRateLimiter::global_consume() {
  // get_random_u32_below(3): this might make the credit negative, as in the kernel.
  uint32_t credits = consume_ ? consume_() : arc4random_uniform(3);
  credit_ -= credits;
}

bool IcmpRateLimiter::peer_allow(int family, const uint8_t addr[16], uint64_t now_ms, int64_t timeout_ms) {
  std::array<uint8_t, 16> key{};
  std::memcpy(key.data(), addr, family == 4 ? 4 : 16);
  if (peers_.size() > 4096) {
    // A bucket that refilled completely is the same as a new peer: forget it (inet_peer GC).
    for (auto it = peers_.begin(); it != peers_.end();)
      it = now_ms - it->second.last >= static_cast<uint64_t>(kBurstFactor * timeout_ms) ? peers_.erase(it) : std::next(it);
  }
  auto [it, fresh] = peers_.try_emplace({family, key});
  Peer& p = it->second;
  if (fresh) p.last = now_ms - kNewPeerAgeMs;
  int64_t token = p.tokens;
  uint64_t delta = now_ms - p.last;
  if (delta) {
    p.last = now_ms;
    token += static_cast<int64_t>(delta);
    token = std::min(token, kBurstFactor * timeout_ms);
  }
  bool rc = false;
  if (token >= timeout_ms) {
    token -= timeout_ms;
    rc = true;
  }
  p.tokens = token;
  return rc;
}

}  // namespace nfjit::runtime
