// Attaching a program at a codegen::AttachPoint: the link kind each point takes, and the stable name
// an attachment point has under bpffs.
#pragma once

#include <cstdint>
#include <string>

#include "codegen/program.h"
#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::runtime {

// NF_INET_* for a netfilter hook; -1 for Ingress/Egress, which are not netfilter hooks here.
int nf_hooknum(ir::Hook h);

// "nf-ipv4-input-p0", "nf-ipv6-forward-m150", "xdp-eth0", "tcx-in-eth0", "tcx-out-eth0".
std::string attach_point_name(const codegen::AttachPoint& at);

// The ifindex of at.ifname in the calling thread's netns (at.ifindex when already set).
Result<uint32_t> resolve_ifindex(const codegen::AttachPoint& at);

// Creates the link for `prog_fd` at `at` in the calling thread's network namespace.
Result<Fd> attach_program(int prog_fd, const codegen::AttachPoint& at);

}  // namespace nfjit::runtime
