// The kernel's ICMP rate limits as icmp_send / icmp6_send apply them (net/ipv4/icmp.c,
// net/ipv6/icmp.c, net/ipv4/inetpeer.c), kept by nfjitd for the errors it sends for REJECT rules:
//  - the per-namespace global credit (icmp_global_allow / icmp_global_consume: icmp_msgs_per_sec,
//    icmp_msgs_burst; consumes a random 0..2 credits per message, as the kernel);
//  - the per-destination token bucket (inet_peer_xrlim_allow, XRLIM_BURST_FACTOR 6; a new peer starts
//    with a full bucket because inet_getpeer sets rate_last 60 s back).
// Times are milliseconds of CLOCK_MONOTONIC (the kernel counts jiffies: the same figures at HZ
// granularity).
#pragma once

#include <cstdint>
#include <array>
#include <map>

namespace nfjit::runtime {

class IcmpRateLimiter {
 public:
  // icmp_global_allow(net) with sysctl icmp_msgs_per_sec / icmp_msgs_burst.
  bool global_allow(uint64_t now_ms, int msgs_per_sec, int msgs_burst);
  // icmp_global_consume(net).
  void global_consume();
  // inet_peer_xrlim_allow(peer of `addr`, timeout_ms); family 4 or 6 keep separate peer bases.
  bool peer_allow(int family, const uint8_t addr[16], uint64_t now_ms, int64_t timeout_ms);
  // For tests: the random part of global_consume (0..2) comes from here when set.
  void set_consume_source(uint32_t (*fn)()) { consume_ = fn; }

 private:
  struct Peer {
    int64_t tokens = 0;
    uint64_t last = 0;
  };
  int64_t credit_ = 0;
  uint64_t stamp_ = 0;
  bool stamped_ = false;
  std::map<std::pair<int, std::array<uint8_t, 16>>, Peer> peers_;
  uint32_t (*consume_)() = nullptr;
};

}  // namespace nfjit::runtime
