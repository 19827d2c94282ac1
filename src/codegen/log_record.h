// The record a generated program writes to the log ring buffer for a LOG action, and nfjitd turns into
// a kernel-format syslog line ("<prefix>IN=eth0 OUT= MAC=... SRC=... DST=... LEN=... PROTO=TCP ...").
#pragma once

#include <cstdint>

namespace nfjit::codegen {

inline constexpr uint32_t kLogHeaderBytes = 128;  // bytes of L3+L4 header copied (less if shorter)
inline constexpr uint32_t kLogMacBytes = 14;       // Ethernet header, where the hook has one

struct LogRecord {
  uint32_t log_id;          // index into Program::logs (prefix, level, flags)
  uint32_t counter_slot;    // the rule that logged (index into Program::counters)
  uint32_t in_ifindex;      // 0 when unknown at this hook
  uint32_t out_ifindex;
  char in_name[16];         // interface names where the hook can read them, else empty
  char out_name[16];
  uint32_t mark;
  uint32_t pkt_len;         // L3 length
  uint8_t nfproto;          // 2 (IPv4) or 10 (IPv6)
  uint8_t hook;             // ir::Hook of the chain
  uint8_t mac_len;          // bytes valid in mac[] (0 where there is no link-layer header)
  uint8_t pad;
  uint32_t hdr_len;         // bytes valid in hdr[]
  uint8_t mac[kLogMacBytes];
  uint8_t pad2[2];
  uint8_t hdr[kLogHeaderBytes];  // from the network header on
};

}  // namespace nfjit::codegen
