// bpf(BPF_LINK_CREATE) for the link kinds Debian's libbpf 1.1 cannot build (netfilter, tcx), plus the
// XDP link it can. Each returns the link fd; closing the last fd (and removing every pin) detaches.
#pragma once

#include <cstdint>

#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::runtime {

// BPF_NETFILTER link in the network namespace of the calling thread.
Result<Fd> link_netfilter(int prog_fd, uint32_t pf, uint32_t hooknum, int32_t priority, uint32_t nf_flags = 0);

// BPF_TCX_INGRESS / BPF_TCX_EGRESS link on `ifindex`, appended after programs already there.
Result<Fd> link_tcx(int prog_fd, uint32_t ifindex, bool egress);

// BPF_XDP link on `ifindex` (driver mode where the device has it, generic otherwise).
Result<Fd> link_xdp(int prog_fd, uint32_t ifindex);

// BPF_LINK_DETACH: detaches even while pins or other fds still hold the link.
Result<void> link_detach(int link_fd);

}  // namespace nfjit::runtime
