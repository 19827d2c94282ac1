// Test-only LD_PRELOAD library: gives an unmodified `nft` (or any libmnl client) an in-process NftServer
// in place of the kernel's NETLINK_NETFILTER socket, so the real binary can be driven against nfjit's
// nf_tables front-end without the daemon. (The product's shim is src/preload/, talking to nfjitd; this
// one exists only so tests/nftables can compare the real nft's output on both sides.)
//
// State survives across processes through a replay log: every committed batch is appended to
// $NFJIT_NFT_STATE and replayed into the server at the next start, so `nft -f FILE` followed by
// `nft list ruleset` in another process sees the same ruleset (handles and genids included, since the
// server is deterministic).
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "frontend/nftables/nft_server.h"

namespace {

using nfjit::nft::NftServer;

struct ShimState {
  NftServer server;
  int fd = -1, peer = -1;
  nfjit::nft::SocketOptions opt;
  nfjit::nft::Peer who;
  bool loaded = false;
};

ShimState& state() {
  static ShimState s;
  return s;
}

template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

std::string state_path() {
  const char* p = std::getenv("NFJIT_NFT_STATE");
  return p ? p : "";
}

// Replays the log: [u32 length][bytes]... one record per committed batch.
void load(ShimState& s) {
  if (s.loaded) return;
  s.loaded = true;
  s.who.pid = getpid();
  s.who.portid = getpid();
  std::ifstream comm("/proc/self/comm");
  std::getline(comm, s.who.comm);
  std::string path = state_path();
  if (path.empty()) return;
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t off = 0;
  while (off + 4 <= all.size()) {
    uint32_t len;
    std::memcpy(&len, all.data() + off, 4);
    off += 4;
    if (off + len > all.size()) break;
    (void)s.server.handle(all.data() + off, len, s.who, s.opt);
    off += len;
  }
}

void record(const uint8_t* buf, size_t len) {
  std::string path = state_path();
  if (path.empty()) return;
  std::ofstream out(path, std::ios::binary | std::ios::app);
  uint32_t l = len;
  out.write(reinterpret_cast<const char*>(&l), 4);
  out.write(reinterpret_cast<const char*>(buf), len);
}

ssize_t serve(const uint8_t* buf, size_t len) {
  ShimState& s = state();
  load(s);
  uint32_t before = s.server.genid();
  auto replies = s.server.handle(buf, len, s.who, s.opt);
  if (s.server.genid() != before) record(buf, len);
  auto send_fn = real<ssize_t (*)(int, const void*, size_t, int)>("send");
  for (const auto& d : replies) send_fn(s.peer, d.data(), d.size(), 0);
  return static_cast<ssize_t>(len);
}

}  // namespace

extern "C" {

int socket(int domain, int type, int protocol) {
  if (domain == AF_NETLINK && protocol == NETLINK_NETFILTER) {
    ShimState& s = state();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | (type & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0, sv) < 0) return -1;
    // Big enough for a whole dump queued at once.
    int sz = 8 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    s.fd = sv[0];
    s.peer = sv[1];
    return s.fd;
  }
  return real<int (*)(int, int, int)>("socket")(domain, type, protocol);
}

int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  if (fd == state().fd && fd >= 0) return 0;
  return real<int (*)(int, const struct sockaddr*, socklen_t)>("bind")(fd, addr, len);
}

int getsockname(int fd, struct sockaddr* addr, socklen_t* len) {
  if (fd == state().fd && fd >= 0) {
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    nl.nl_pid = getpid();
    std::memcpy(addr, &nl, std::min<size_t>(*len, sizeof nl));
    *len = sizeof nl;
    return 0;
  }
  return real<int (*)(int, struct sockaddr*, socklen_t*)>("getsockname")(fd, addr, len);
}

int setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  ShimState& s = state();
  if (fd == s.fd && fd >= 0) {
    int on = len >= sizeof(int) ? *static_cast<const int*>(val) : 0;
    if (level == SOL_NETLINK && name == NETLINK_EXT_ACK) s.opt.ext_ack = on;
    if (level == SOL_NETLINK && name == NETLINK_CAP_ACK) s.opt.cap_ack = on;
    return 0;
  }
  return real<int (*)(int, int, int, const void*, socklen_t)>("setsockopt")(fd, level, name, val, len);
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* a, socklen_t al) {
  if (fd == state().fd && fd >= 0) return serve(static_cast<const uint8_t*>(buf), len);
  return real<ssize_t (*)(int, const void*, size_t, int, const struct sockaddr*, socklen_t)>("sendto")(
      fd, buf, len, flags, a, al);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  if (fd == state().fd && fd >= 0) {
    std::vector<uint8_t> all;
    for (size_t i = 0; i < msg->msg_iovlen; ++i) {
      auto* p = static_cast<const uint8_t*>(msg->msg_iov[i].iov_base);
      all.insert(all.end(), p, p + msg->msg_iov[i].iov_len);
    }
    serve(all.data(), all.size());
    return static_cast<ssize_t>(all.size());
  }
  return real<ssize_t (*)(int, const struct msghdr*, int)>("sendmsg")(fd, msg, flags);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  if (fd == state().fd && fd >= 0) {
    void* name = msg->msg_name;
    socklen_t namelen = msg->msg_namelen;
    msg->msg_name = nullptr;
    msg->msg_namelen = 0;
    ssize_t n = real<ssize_t (*)(int, struct msghdr*, int)>("recvmsg")(fd, msg, flags);
    msg->msg_name = name;
    if (name && namelen >= sizeof(sockaddr_nl)) {
      sockaddr_nl nl{};
      nl.nl_family = AF_NETLINK;
      std::memcpy(name, &nl, sizeof nl);
      msg->msg_namelen = sizeof nl;
    }
    return n;
  }
  return real<ssize_t (*)(int, struct msghdr*, int)>("recvmsg")(fd, msg, flags);
}

int close(int fd) {
  ShimState& s = state();
  if (fd == s.fd && fd >= 0) {
    real<int (*)(int)>("close")(s.peer);
    s.fd = s.peer = -1;
  }
  return real<int (*)(int)>("close")(fd);
}

}  // extern "C"
