// The one place where uapi constants newer than Debian 12's kernel headers (6.1) and libbpf (1.1) live.
// Everything here is stable kernel ABI; values are from include/uapi/linux/bpf.h of kernel 6.4+.
#pragma once

#include <linux/bpf.h>
#include <linux/netfilter.h>
#include <cstdint>

namespace nfjit::compat {

// enum bpf_prog_type
inline constexpr uint32_t BPF_PROG_TYPE_NETFILTER = 32;

// enum bpf_attach_type
inline constexpr uint32_t BPF_NETFILTER = 45;
inline constexpr uint32_t BPF_TCX_INGRESS = 46;
inline constexpr uint32_t BPF_TCX_EGRESS = 47;

// enum bpf_link_type
inline constexpr uint32_t BPF_LINK_TYPE_NETFILTER = 10;
inline constexpr uint32_t BPF_LINK_TYPE_TCX = 11;

// link_create.netfilter.flags
inline constexpr uint32_t BPF_F_NETFILTER_IP_DEFRAG = 1U << 0;

// TCX program return codes (enum tcx_action_base)
inline constexpr int32_t TCX_NEXT = -1;
inline constexpr int32_t TCX_PASS = 0;
inline constexpr int32_t TCX_DROP = 2;
inline constexpr int32_t TCX_REDIRECT = 7;

// Helper ids newer than the 6.1 header's enum are all present there except these.
inline constexpr int32_t BPF_FUNC_dynptr_read_id = 201;  // long bpf_dynptr_read(dst, len, src, offset, flags)
inline constexpr int32_t BPF_FUNC_xdp_load_bytes_id = 189;

// The layout of union bpf_attr's link_create for the members the 6.1 header lacks. It is written into a
// zeroed union bpf_attr at the offsets the kernel reads (see runtime/bpf_syscall.cc).
struct LinkCreateNetfilter {
  uint32_t prog_fd;
  uint32_t target_fd;      // unused (0)
  uint32_t attach_type;    // BPF_NETFILTER
  uint32_t flags;          // 0
  uint32_t pf;             // NFPROTO_IPV4 / NFPROTO_IPV6
  uint32_t hooknum;        // NF_INET_*
  int32_t priority;
  uint32_t nf_flags;       // BPF_F_NETFILTER_IP_DEFRAG
};

struct LinkCreateTcx {
  uint32_t prog_fd;
  uint32_t target_ifindex;
  uint32_t attach_type;    // BPF_TCX_INGRESS / BPF_TCX_EGRESS
  uint32_t flags;          // BPF_F_BEFORE/AFTER/ID/LINK
  uint32_t relative_fd_or_id;
  uint32_t pad;
  uint64_t expected_revision;
};

}  // namespace nfjit::compat
