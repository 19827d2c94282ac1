// UDP datagrams between two network namespaces, counted at both ends. Sockets are created while the
// thread is inside each namespace, so they stay there whichever thread uses them later.
#pragma once

#include <cstdint>
#include <string>

#include "netns.h"

namespace nfjit::test {

class UdpFlow {
 public:
  // Receiver bound to dst:port in `to`; sender in `from`. IPv6 when dst contains ':'.
  UdpFlow(const Netns& from, const Netns& to, const std::string& dst, uint16_t port);
  ~UdpFlow();
  UdpFlow(const UdpFlow&) = delete;
  UdpFlow& operator=(const UdpFlow&) = delete;

  // Sends `n` datagrams of `payload` bytes; returns how many sendto() accepted (a netfilter drop at
  // LOCAL_OUT/POST_ROUTING makes sendto fail with EPERM).
  int send(int n, size_t payload);
  // Counts datagrams arriving until none arrives for `quiet_ms`.
  int receive(int quiet_ms = 200);
  // One datagram, then waits up to `timeout_ms` for it: true when it arrived.
  bool round_trip(size_t payload, int timeout_ms = 1000);

  // L3 length of a datagram with `payload` bytes.
  uint32_t l3_len(size_t payload) const { return static_cast<uint32_t>(payload + 8 + (v6_ ? 40 : 20)); }

 private:
  int tx_ = -1, rx_ = -1;
  bool v6_ = false;
  std::string dst_;
  uint16_t port_;
};

}  // namespace nfjit::test
