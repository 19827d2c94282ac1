#include "daemon/kernel_passthrough_handler.h"

// netinet/in.h before the linux/ headers: the reverse order redefines struct in_addr.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
// (keep)
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <sstream>

#include "nfjit/wire.h"

namespace nfjit::daemon {
namespace {

// Beyond this many counters no real table exists; the kernel itself refuses INT_MAX / 16 with ENOMEM.
constexpr uint64_t kMaxCounters = 16u << 20;

long sys_getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  return syscall(SYS_getsockopt, fd, level, name, val, len);
}
long sys_setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  return syscall(SYS_setsockopt, fd, level, name, val, len);
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(fd, buf, sizeof(buf), off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

SockoptReply errno_reply(int err) {
  SockoptReply r;
  r.err = err;
  return r;
}

}  // namespace

KernelPassthroughHandler::KernelPassthroughHandler()
    : raw4_(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)),
      raw6_(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)),
      names4_(::open("/proc/thread-self/net/ip_tables_names", O_RDONLY | O_CLOEXEC)),
      names6_(::open("/proc/thread-self/net/ip6_tables_names", O_RDONLY | O_CLOEXEC)) {}

SockoptReply KernelPassthroughHandler::sockopt(const SockoptRequest& req) {
  int fd = req.level == SOL_IPV6 ? raw6_.get() : raw4_.get();
  if (fd < 0) return errno_reply(EAFNOSUPPORT);
  if (!req.set) {
    if (req.optlen > wire::kMaxFrame) return errno_reply(ENOMEM);
    SockoptReply r;
    r.data.assign(req.optlen, 0);
    std::memcpy(r.data.data(), req.data.data(), req.data.size());
    socklen_t len = req.optlen;
    long rc = sys_getsockopt(fd, req.level, req.optname, r.data.data(), &len);
    if (rc < 0) return errno_reply(errno);
    r.data.resize(len);
    r.retval = static_cast<int32_t>(rc);
    return r;
  }
  if (req.optname != IPT_SO_SET_REPLACE || req.data.size() < sizeof(ipt_replace)) {
    long rc = sys_setsockopt(fd, req.level, req.optname, req.data.data(), static_cast<socklen_t>(req.data.size()));
    return rc < 0 ? errno_reply(errno) : SockoptReply{};
  }
  // SET_REPLACE: the kernel will write the old counters through replace->counters, a pointer into the
  // client's memory; point it at ours instead and send them back.
  std::vector<uint8_t> blob = req.data;
  unsigned int num_counters;
  std::memcpy(&num_counters, blob.data() + offsetof(ipt_replace, num_counters), sizeof(num_counters));
  if (num_counters > kMaxCounters) return errno_reply(ENOMEM);
  SockoptReply r;
  r.old_counters.assign(static_cast<size_t>(num_counters) * sizeof(xt_counters), 0);
  void* ptr = r.old_counters.data();
  std::memcpy(blob.data() + offsetof(ipt_replace, counters), &ptr, sizeof(ptr));
  if (sys_setsockopt(fd, req.level, req.optname, blob.data(), static_cast<socklen_t>(blob.size())) < 0)
    return errno_reply(errno);
  return r;
}

std::string KernelPassthroughHandler::status() {
  std::ostringstream out;
  out << "nfjitd: every table runs in the kernel's netfilter (passthrough): this daemon serves "
         "xtables calls with the kernel passthrough handler; no table is lowered to BPF.\n";
  struct Family {
    const char* name;
    int fd;
    const runtime::Fd& names;
    int level;
  };
  for (const Family& f : {Family{"ipv4", raw4_.get(), names4_, SOL_IP}, Family{"ipv6", raw6_.get(), names6_, SOL_IPV6}}) {
    // Only tables that exist: asking GET_INFO for any other would make the kernel instantiate it.
    std::istringstream names(f.names.valid() ? read_all(f.names.get()) : "");
    std::string table;
    while (std::getline(names, table)) {
      if (table.empty()) continue;
      ipt_getinfo info{};  // same layout as ip6t_getinfo
      std::strncpy(info.name, table.c_str(), sizeof(info.name) - 1);
      socklen_t len = sizeof(info);
      out << f.name << " " << table << ": kernel (passthrough)";
      if (sys_getsockopt(f.fd, f.level, IPT_SO_GET_INFO, &info, &len) == 0)
        out << ", " << info.num_entries << " entries, " << info.size << " bytes";
      out << " — why: no BPF lowering in this daemon\n";
    }
  }
  return out.str();
}

}  // namespace nfjit::daemon
