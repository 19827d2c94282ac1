#include "frontend/xtables/kernel_passthrough.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace nfjit::xt {

namespace {

// The kernel's own get/setsockopt, never an interposed libc symbol: under /etc/ld.so.preload the daemon
// itself carries the shim, and its calls to the kernel must not come back to it.
int kernel_setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  return static_cast<int>(syscall(SYS_setsockopt, fd, level, name, val, len));
}

int kernel_getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  return static_cast<int>(syscall(SYS_getsockopt, fd, level, name, val, len));
}

}  // namespace

KernelXtables::~KernelXtables() {
  if (fd4_ >= 0) close(fd4_);
  if (fd6_ >= 0) close(fd6_);
}

int KernelXtables::fd(const FamilyAbi& abi) {
  int& f = abi.family == ir::Family::Ipv6 ? fd6_ : fd4_;
  if (f < 0) f = socket(abi.family == ir::Family::Ipv6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  return f;
}

SockoptReply KernelXtables::forward(const SockoptRequest& req) {
  SockoptReply rep;
  const FamilyAbi* abi = abi_for_level(req.level);
  int f = abi ? fd(*abi) : -1;
  if (f < 0) {
    rep.err = abi ? errno : ENOPROTOOPT;
    return rep;
  }
  if (req.set) {
    int rc = kernel_setsockopt(f, req.level, req.optname, req.data.data(), static_cast<socklen_t>(req.data.size()));
    if (rc < 0) rep.err = errno;
    else rep.retval = rc;
    return rep;
  }
  std::vector<uint8_t> buf(req.data);
  buf.resize(req.optlen);
  socklen_t len = req.optlen;
  int rc = kernel_getsockopt(f, req.level, req.optname, buf.data(), &len);
  if (rc < 0) {
    rep.err = errno;
    return rep;
  }
  buf.resize(std::min<size_t>(len, buf.size()));
  rep.data = std::move(buf);
  rep.retval = rc;
  return rep;
}

Result<std::vector<xt_counters>> KernelXtables::replace(const FamilyAbi& abi, std::vector<uint8_t> opt,
                                                       uint32_t num_counters) {
  if (opt.size() < sizeof(ipt_replace)) return make_error(EINVAL, "short replace");
  int f = fd(abi);
  if (f < 0) return make_error(errno, "raw socket");
  auto* r = reinterpret_cast<ipt_replace*>(opt.data());
  if (num_counters) r->num_counters = num_counters;
  // Bound what the kernel may write: it writes exactly num_counters entries, and refuses absurd counts.
  std::vector<xt_counters> old(std::min<uint32_t>(r->num_counters, 1u << 24));
  if (old.size() != r->num_counters) return make_error(ENOMEM, "num_counters too large");
  r->counters = old.data();
  if (kernel_setsockopt(f, abi.level, IPT_SO_SET_REPLACE, opt.data(), static_cast<socklen_t>(opt.size())) < 0)
    return make_error(errno, "kernel refused the table");
  return old;
}

Result<ipt_getinfo> KernelXtables::info(const FamilyAbi& abi, const std::string& table) {
  int f = fd(abi);
  if (f < 0) return make_error(errno, "raw socket");
  ipt_getinfo gi{};
  std::strncpy(gi.name, table.c_str(), sizeof(gi.name) - 1);
  socklen_t len = sizeof gi;
  if (kernel_getsockopt(f, abi.level, IPT_SO_GET_INFO, &gi, &len) < 0) return make_error(errno, "GET_INFO " + table);
  return gi;
}

Result<std::vector<xt_counters>> KernelXtables::counters(const FamilyAbi& abi, const std::string& table) {
  auto gi = info(abi, table);
  if (!gi.ok()) return gi.error();
  std::vector<uint8_t> buf(sizeof(ipt_get_entries) + gi->size, 0);
  auto* ge = reinterpret_cast<ipt_get_entries*>(buf.data());
  std::strncpy(ge->name, table.c_str(), sizeof(ge->name) - 1);
  ge->size = gi->size;
  socklen_t len = buf.size();
  if (kernel_getsockopt(fd(abi), abi.level, IPT_SO_GET_ENTRIES, buf.data(), &len) < 0)
    return make_error(errno, "GET_ENTRIES " + table);
  std::vector<xt_counters> out;
  std::span<const uint8_t> b(buf);
  for (size_t pos = sizeof(ipt_get_entries); pos < buf.size();) {
    out.push_back(load<xt_counters>(b, pos + abi.off_counters));
    uint16_t next = load<uint16_t>(b, pos + abi.off_next_offset);
    if (next == 0) break;
    pos += next;
  }
  return out;
}

Result<int> KernelXtables::revision(const FamilyAbi& abi, bool target, const std::string& name, uint8_t rev) {
  int f = fd(abi);
  if (f < 0) return make_error(errno, "raw socket");
  xt_get_revision r{};
  std::strncpy(r.name, name.c_str(), sizeof(r.name) - 1);
  r.revision = rev;
  socklen_t len = sizeof r;
  int rc = kernel_getsockopt(f, abi.level, target ? IPT_SO_GET_REVISION_TARGET : IPT_SO_GET_REVISION_MATCH, &r, &len);
  if (rc < 0) return make_error(errno, name);
  return rc;
}

}  // namespace nfjit::xt
