// The record a generated program writes to the LOG ring for a REJECT rule (codegen/reject.cc) and
// nfjitd answers (runtime/reject_reply.h). See docs/reject.md.
#pragma once

#include <cstdint>

namespace nfjit::codegen {

// The record shares the LOG ring (one ring per attachment point, pinned and restored with it); its first
// word tells it apart from a LogRecord, whose first word is a small log id.
inline constexpr uint32_t kRejectRecordMagic = 0x4a52464e;  // "NFRJ"
// Bytes of the packet copied (from the network header on) when the kernel would not need to verify the
// transport checksum: enough for everything a reply uses (icmp_send quotes <= 548 bytes for IPv4,
// icmp6_send <= 1232 for IPv6, the RST needs the TCP header). When the kernel would verify the checksum
// over the whole packet (ip_summed CHECKSUM_NONE, or CHECKSUM_COMPLETE at PRE_ROUTING / LOCAL_IN), the
// whole packet is copied, up to kRejectMaxCopy.
inline constexpr uint32_t kRejectQuoteBytes = 1280;
inline constexpr uint32_t kRejectMaxCopy = 65535;

// The fixed 64-byte head of a record; `data_len` packet bytes follow it.
struct RejectRecord {
  uint32_t magic;         // kRejectRecordMagic
  uint32_t counter_slot;  // the REJECT rule (index into Program::counters)
  uint32_t in_ifindex;    // nf_hook_state->in / ->out (0 where the hook has none)
  uint32_t out_ifindex;
  uint32_t dev_ifindex;   // skb->dev (0 when NULL, as at LOCAL_OUT before routing set it)
  uint32_t mark;          // skb->mark
  uint32_t skb_len;       // skb->len: the packet from the network header on
  uint32_t data_len;      // bytes that follow this header
  uint32_t csum;          // skb->csum (meaningful for CHECKSUM_COMPLETE)
  uint8_t nfproto;        // 2 (IPv4) or 10 (IPv6)
  uint8_t hook;           // ir::Hook of the attachment point
  uint8_t reject_type;    // ir::RejectType
  uint8_t pkt_type;       // skb->pkt_type (PACKET_HOST 0 ...), raw
  uint8_t ip_summed;      // skb->ip_summed (CHECKSUM_NONE 0, UNNECESSARY 1, COMPLETE 2, PARTIAL 3)
  uint8_t csum_valid;     // skb->csum_valid
  uint8_t pad[6];
  uint64_t ktime_ns;      // bpf_ktime_get_ns() (CLOCK_MONOTONIC) when the rule matched
  uint8_t pad2[8];
};
static_assert(sizeof(RejectRecord) == 64);

}  // namespace nfjit::codegen
