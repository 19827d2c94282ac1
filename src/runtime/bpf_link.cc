#include "runtime/bpf_link.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "nfjit/bpf_compat.h"

namespace nfjit::runtime {

namespace {

// link_create sits at offset 0 of union bpf_attr; the compat structs give the kernel's layout of the
// members the 6.1 header lacks. The union is large enough to hold them (they end at byte 32).
template <typename LinkAttr>
int raw_link_create(const LinkAttr& la) {
  static_assert(sizeof(LinkAttr) <= sizeof(union bpf_attr));
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  std::memcpy(&attr, &la, sizeof(la));
  return static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr)));
}

std::string hook_name(uint32_t h) {
  static const char* names[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  return h < 5 ? names[h] : "hook " + std::to_string(h);
}

}  // namespace

Result<Fd> link_netfilter(int prog_fd, uint32_t pf, uint32_t hooknum, int32_t priority, uint32_t nf_flags) {
  compat::LinkCreateNetfilter la{};
  la.prog_fd = static_cast<uint32_t>(prog_fd);
  la.attach_type = compat::BPF_NETFILTER;
  la.pf = pf;
  la.hooknum = hooknum;
  la.priority = priority;
  la.nf_flags = nf_flags;
  int fd = raw_link_create(la);
  if (fd >= 0) return Fd(fd);
  int err = errno;
  std::string where = std::string(pf == 10 ? "ipv6" : pf == 2 ? "ipv4" : "pf " + std::to_string(pf)) + " " +
                      hook_name(hooknum) + " priority " + std::to_string(priority);
  std::string why;
  switch (err) {
    case EBUSY:
    case EEXIST:
      // nf_hook_entries_grow() refuses a second BPF hook at the same pf/hook/priority.
      why = "another BPF program is already attached at this exact hook and priority (the kernel allows "
            "one per priority); choose a different priority or remove the other table";
      break;
    case ERANGE:
      why = "priority is reserved (INT_MIN/INT_MAX are netfilter's own; with defrag it must be above -400)";
      break;
    case EAFNOSUPPORT: why = "only IPv4 and IPv6 families can take a netfilter BPF link"; break;
    case EPROTO: why = "no such netfilter hook"; break;
    case EINVAL: why = "the program is not a BPF_PROG_TYPE_NETFILTER program for attach type BPF_NETFILTER"; break;
    default: why = strerror(err);
  }
  return make_error(err, "cannot attach netfilter program at " + where + ": " + why);
}

Result<Fd> link_tcx(int prog_fd, uint32_t ifindex, bool egress) {
  compat::LinkCreateTcx la{};
  la.prog_fd = static_cast<uint32_t>(prog_fd);
  la.target_ifindex = ifindex;
  la.attach_type = egress ? compat::BPF_TCX_EGRESS : compat::BPF_TCX_INGRESS;
  int fd = raw_link_create(la);
  if (fd >= 0) return Fd(fd);
  int err = errno;
  std::string why = err == ENODEV ? "no such interface in this network namespace"
                    : err == EINVAL ? "the program is not a BPF_PROG_TYPE_SCHED_CLS program"
                                    : strerror(err);
  return make_error(err, std::string("cannot attach TCX ") + (egress ? "egress" : "ingress") + " program to ifindex " +
                             std::to_string(ifindex) + ": " + why);
}

Result<Fd> link_xdp(int prog_fd, uint32_t ifindex) {
  int fd = bpf_link_create(prog_fd, static_cast<int>(ifindex), BPF_XDP, nullptr);
  if (fd >= 0) return Fd(fd);
  int err = errno;
  std::string why = err == EBUSY || err == EEXIST
                        ? "the interface already has an XDP program (one per interface and mode)"
                    : err == ENODEV ? "no such interface in this network namespace"
                                    : strerror(err);
  return make_error(err, "cannot attach XDP program to ifindex " + std::to_string(ifindex) + ": " + why);
}

Result<void> link_detach(int link_fd) {
  if (bpf_link_detach(link_fd) == 0) return {};
  int err = errno;
  return make_error(err, std::string("cannot detach link: ") + strerror(err));
}

}  // namespace nfjit::runtime
