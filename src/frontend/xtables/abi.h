// The parts of the xtables sockopt ABI that differ between IPv4 (ipt_*) and IPv6 (ip6t_*), as one
// runtime description, so the blob parser, validator and serialiser are written once for both.
// Everything here is taken from the kernel's uapi headers (linux/netfilter_ipv{4,6}/ip{,6}_tables.h).
#pragma once

#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "ir/ir.h"

namespace nfjit::xt {

constexpr unsigned kNumHooks = 5;  // NF_INET_NUMHOOKS
constexpr uint32_t kNoOffset = 0xFFFFFFFFu;
// XT_MAX_TABLE_SIZE in x_tables.c: bigger tables are refused with ENOMEM.
constexpr uint64_t kMaxTableSize = 512ull * 1024 * 1024;

constexpr size_t xt_align(size_t n) { return XT_ALIGN(n); }

struct FamilyAbi {
  ir::Family family;
  int nfproto;              // NFPROTO_IPV4 (2) / NFPROTO_IPV6 (10)
  int level;                // SOL_IP / SOL_IPV6
  const char* tool;         // "iptables" / "ip6tables", for rule texts
  size_t entry_size;        // sizeof(ipt_entry) / sizeof(ip6t_entry): where matches start
  size_t ip_size;           // sizeof(ipt_ip) / sizeof(ip6t_ip6)
  size_t off_target_offset, off_next_offset, off_comefrom, off_counters;
  uint8_t flags_mask, invflags_mask;   // ip_checkentry / ip6_checkentry
  uint8_t goto_flag;                   // IPT_F_GOTO / IP6T_F_GOTO
};

const FamilyAbi& abi_ipv4();
const FamilyAbi& abi_ipv6();
// level SOL_IP -> IPv4, SOL_IPV6 -> IPv6; nullptr otherwise.
const FamilyAbi* abi_for_level(int level);
const FamilyAbi& abi_for(ir::Family f);

// Little helpers to read/write host-order integers at unaligned offsets of a byte buffer.
template <typename T>
inline T load(std::span<const uint8_t> b, size_t off) {
  T v{};
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}
template <typename T>
inline void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// A NUL-terminated name from a fixed-size field (never reads past `max`).
inline std::string fixed_name(const uint8_t* p, size_t max) {
  return std::string(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), max));
}

}  // namespace nfjit::xt
