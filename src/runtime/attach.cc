#include "runtime/attach.h"

#include <net/if.h>

#include <cstring>

#include "runtime/bpf_link.h"

namespace nfjit::runtime {

int nf_hooknum(ir::Hook h) {
  switch (h) {
    case ir::Hook::Prerouting: return 0;   // NF_INET_PRE_ROUTING
    case ir::Hook::Input: return 1;        // NF_INET_LOCAL_IN
    case ir::Hook::Forward: return 2;      // NF_INET_FORWARD
    case ir::Hook::Output: return 3;       // NF_INET_LOCAL_OUT
    case ir::Hook::Postrouting: return 4;  // NF_INET_POST_ROUTING
    default: return -1;
  }
}

std::string attach_point_name(const codegen::AttachPoint& at) {
  switch (at.kind) {
    case codegen::AttachKind::Xdp: return "xdp-" + at.ifname;
    case codegen::AttachKind::TcIngress: return "tcx-in-" + at.ifname;
    case codegen::AttachKind::TcEgress: return "tcx-out-" + at.ifname;
    case codegen::AttachKind::Netfilter: break;
  }
  std::string hook = ir::to_string(at.hook);
  for (auto& c : hook) c = static_cast<char>(tolower(c));
  std::string prio = at.priority < 0 ? "m" + std::to_string(-static_cast<int64_t>(at.priority))
                                     : "p" + std::to_string(at.priority);
  return std::string("nf-") + (at.pf == 10 ? "ipv6" : "ipv4") + "-" + hook + "-" + prio;
}

Result<uint32_t> resolve_ifindex(const codegen::AttachPoint& at) {
  if (at.ifindex) return at.ifindex;
  if (at.ifname.empty()) return make_error(EINVAL, std::string(codegen::to_string(at.kind)) + " attachment needs an interface");
  unsigned idx = if_nametoindex(at.ifname.c_str());
  if (idx == 0) return make_error(ENODEV, "no interface '" + at.ifname + "' in this network namespace");
  return static_cast<uint32_t>(idx);
}

Result<Fd> attach_program(int prog_fd, const codegen::AttachPoint& at) {
  if (at.kind == codegen::AttachKind::Netfilter) {
    int hook = nf_hooknum(at.hook);
    if (hook < 0) return make_error(EINVAL, std::string("hook ") + ir::to_string(at.hook) + " is not a netfilter hook");
    return link_netfilter(prog_fd, at.pf, static_cast<uint32_t>(hook), at.priority);
  }
  auto idx = resolve_ifindex(at);
  if (!idx) return idx.error();
  Result<Fd> link = at.kind == codegen::AttachKind::Xdp ? link_xdp(prog_fd, *idx)
                                                        : link_tcx(prog_fd, *idx, at.kind == codegen::AttachKind::TcEgress);
  if (!link) return make_error(link.error().err, link.error().message + " ('" + at.ifname + "')");
  return link;
}

}  // namespace nfjit::runtime
