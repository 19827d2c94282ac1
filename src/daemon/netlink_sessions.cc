#include "daemon/netlink_sessions.h"

#include <fcntl.h>
#include <time.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <fstream>

#include "daemon/log.h"
#include "frontend/nftables/netlink_msg.h"
#include "nfjit/wire.h"

namespace nfjit::daemon {
namespace {

std::string read_comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

bool is_shim_frame(const uint8_t* data, size_t len, uint16_t type) {
  if (len < sizeof(wire::FrameHeader)) return false;
  wire::FrameHeader h;
  std::memcpy(&h, data, sizeof(h));
  return h.magic == wire::kMagic && h.version == wire::kVersion && h.type == type;
}

}  // namespace

NetlinkSessions::NetlinkSessions(nft::NftServer& server, SelfNamespaces self, NetlinkSessionLimits limits)
    : server_(server), self_(self), limits_(limits), buf_(64 * 1024) {
  // Events go to every member of NFNLGRP_NFTABLES, the sender's own session included (the kernel
  // excludes the sender only for echoed reports, which NftServer returns as replies instead).
  server_.on_notify([this](const nft::Datagram& d) {
    for (auto& [fd, s] : sessions_) {
      if (s->groups & (1u << (NFNLGRP_NFTABLES - 1))) queue(*s, d);
    }
  });
  // Events nobody receives are not built (a 100,000-element batch would build 100,000 of them).
  server_.set_has_listeners([this] {
    for (const auto& [fd, s] : sessions_)
      if (s->groups & (1u << (NFNLGRP_NFTABLES - 1))) return true;
    return false;
  });
}

NetlinkSessions::~NetlinkSessions() {
  server_.on_notify({});
  server_.set_has_listeners({});
}

uint32_t NetlinkSessions::pick_portid(pid_t opener) const {
  auto used = [&](uint32_t id) {
    for (const auto& [fd, s] : sessions_)
      if (s->portid == id) return true;
    return false;
  };
  // The kernel's autobind: the process's tgid when free, else a negative number counting down.
  if (opener > 0 && !used(static_cast<uint32_t>(opener))) return static_cast<uint32_t>(opener);
  uint32_t id;
  do id = rover_--;
  while (id == 0 || used(id));
  return id;
}

Result<OpenedSession> NetlinkSessions::open_session(const Peer& opener, bool opener_allowed) {
  if (sessions_.size() >= limits_.max_sessions) return make_error(ENFILE, "too many netlink sessions");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return make_error(errno, std::string("socketpair: ") + std::strerror(errno));
  runtime::Fd mine(sv[0]), theirs(sv[1]);
  auto s = std::make_unique<Session>();
  s->opener_allowed = opener_allowed;
  // The name tells the shim this fd is a session and what its port id is (wire::NetlinkSessionName).
  for (int attempt = 0;; ++attempt) {
    s->portid = pick_portid(attempt == 0 ? opener.cred.pid : 0);
    wire::NetlinkSessionName name{};
    std::memcpy(name.tag, wire::kNetlinkSessionTag, sizeof(name.tag));
    name.daemon_pid = static_cast<uint32_t>(getpid());
    name.portid = s->portid;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, &name, sizeof(name));
    socklen_t len = offsetof(sockaddr_un, sun_path) + sizeof(name);
    if (::bind(theirs.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) break;
    if (errno != EADDRINUSE || attempt > 16)
      return make_error(errno, std::string("bind session name: ") + std::strerror(errno));
  }
  int one = 1;
  // Per-datagram sender credentials: the kernel checks the sender of every message, not only the opener.
  if (::setsockopt(mine.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0)
    return make_error(errno, std::string("SO_PASSCRED: ") + std::strerror(errno));
  if (::setsockopt(mine.get(), SOL_SOCKET, SO_SNDBUFFORCE, &limits_.sndbuf, sizeof(limits_.sndbuf)) != 0)
    ::setsockopt(mine.get(), SOL_SOCKET, SO_SNDBUF, &limits_.sndbuf, sizeof(limits_.sndbuf));
  ::fcntl(mine.get(), F_SETFL, O_RDWR | O_NONBLOCK);
  s->fd = std::move(mine);
  OpenedSession out;
  out.portid = s->portid;
  out.client_end = std::move(theirs);
  int key = s->fd.get();
  sessions_.emplace(key, std::move(s));
  return out;
}

void NetlinkSessions::poll_fds(std::vector<pollfd>& fds) {
  polled_.clear();
  for (auto& [fd, s] : sessions_) {
    fds.push_back({fd, static_cast<short>(POLLIN | (s->out.empty() ? 0 : POLLOUT)), 0});
    polled_.push_back(fd);
  }
}

void NetlinkSessions::on_poll(std::span<const pollfd> fds) {
  std::vector<int> dead;
  for (size_t i = 0; i < fds.size() && i < polled_.size(); ++i) {
    auto it = sessions_.find(polled_[i]);
    if (it == sessions_.end() || !fds[i].revents) continue;
    Session& s = *it->second;
    short ev = fds[i].revents;
    bool alive = true;
    if (ev & POLLOUT) alive = flush(s);
    if (alive && (ev & (POLLIN | POLLHUP | POLLERR))) {
      bool hup = ev & (POLLHUP | POLLERR);
      for (int n = 0; alive && n < limits_.datagrams_per_turn; ++n) {
        Step st = read_one(s, hup);
        if (st == Step::kDead) alive = false;
        if (st != Step::kMore) break;
      }
    }
    if (!alive) dead.push_back(polled_[i]);
  }
  for (int fd : dead) sessions_.erase(fd);
}

NetlinkSessions::Step NetlinkSessions::read_one(Session& s, bool hup) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];  // no room for SCM_RIGHTS: such fds are dropped
  ucred sender{};
  ssize_t n;
  for (;;) {
    iovec iov{buf_.data(), buf_.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof(control);
    n = ::recvmsg(s.fd.get(), &m, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return hup ? Step::kDead : Step::kEmpty;
      return Step::kDead;
    }
    if (static_cast<size_t>(n) > buf_.size()) {  // peeked a part: make room for the whole datagram
      buf_.resize(static_cast<size_t>(n));
      continue;
    }
    for (cmsghdr* cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS && cm->cmsg_len >= CMSG_LEN(sizeof(ucred)))
        std::memcpy(&sender, CMSG_DATA(cm), sizeof(sender));
    break;
  }
  if (n == 0 && hup) return Step::kDead;  // end of file (an empty datagram is ignored below, as netlink does)
  process(s, buf_.data(), static_cast<size_t>(n), sender);
  if (!flush(s)) return Step::kDead;
  // Consumed only now: the shim's sendmsg returns when this datagram left the queue.
  ssize_t r;
  do r = ::recv(s.fd.get(), nullptr, 0, MSG_DONTWAIT | MSG_TRUNC);
  while (r < 0 && errno == EINTR);
  return r < 0 ? Step::kDead : Step::kMore;
}

bool NetlinkSessions::sender_allowed(const Session& s, const ucred& sender) const {
  if (!s.opener_allowed) return false;
  Peer p;
  p.cred = sender;
  return check_peer(p, self_) == PeerVerdict::kAllowed;
}

void NetlinkSessions::process(Session& s, const uint8_t* data, size_t len, const ucred& sender) {
  bool allowed = sender_allowed(s, sender);
  if (is_shim_frame(data, len, wire::kNetlinkControl)) return apply_control(s, data, len, allowed);
  if (is_shim_frame(data, len, wire::kNetlinkFragment) &&
      len >= sizeof(wire::FrameHeader) + sizeof(wire::NetlinkFragmentFixed)) {
    wire::FrameHeader h;
    wire::NetlinkFragmentFixed f;
    std::memcpy(&h, data, sizeof(h));
    std::memcpy(&f, data + sizeof(h), sizeof(f));
    const uint8_t* piece = data + sizeof(h) + sizeof(f);
    size_t plen = len - sizeof(h) - sizeof(f);
    if (f.offset == 0) {
      s.frag.clear();
      s.frag_total = h.length;
      s.in_frag = h.length <= wire::kMaxFrame;
    }
    // A piece out of order (a sendmsg that failed half-way) drops the message, as the kernel never saw it.
    if (!s.in_frag || f.offset != s.frag.size() || h.length != s.frag_total || s.frag.size() + plen > s.frag_total) {
      s.in_frag = false;
      s.frag.clear();
      return;
    }
    s.frag.insert(s.frag.end(), piece, piece + plen);
    if (s.frag.size() < s.frag_total) return;
    std::vector<uint8_t> whole = std::move(s.frag);
    s.frag.clear();
    s.in_frag = false;
    return deliver(s, whole.data(), whole.size(), sender, allowed);
  }
  s.in_frag = false;
  s.frag.clear();
  deliver(s, data, len, sender, allowed);
}

void NetlinkSessions::apply_control(Session& s, const uint8_t* data, size_t len, bool allowed) {
  wire::NetlinkControl c;
  if (len != sizeof(wire::FrameHeader) + sizeof(c)) return;
  std::memcpy(&c, data + sizeof(wire::FrameHeader), sizeof(c));
  if (c.level == wire::kNetlinkBindGroups) {
    if (allowed || c.value == 0) s.groups = c.value & ((1u << NFNLGRP_MAX) - 1);
    return;
  }
  if (c.level != SOL_NETLINK) return;
  bool on = c.value != 0;
  switch (c.optname) {
    case NETLINK_EXT_ACK: s.opt.ext_ack = on; break;
    case NETLINK_CAP_ACK: s.opt.cap_ack = on; break;
    case NETLINK_ADD_MEMBERSHIP:
      // The shim checked the caller's capability; a forged control from an unprivileged sender is ignored.
      if (allowed && c.value >= 1 && c.value <= NFNLGRP_MAX) s.groups |= 1u << (c.value - 1);
      break;
    case NETLINK_DROP_MEMBERSHIP:
      if (c.value >= 1 && c.value <= NFNLGRP_MAX) s.groups &= ~(1u << (c.value - 1));
      break;
    default: break;  // PKTINFO, BROADCAST_ERROR, NO_ENOBUFS, GET_STRICT_CHK: accepted, no effect here
  }
}

void NetlinkSessions::deliver(Session& s, const uint8_t* data, size_t len, const ucred& sender, bool allowed) {
  // nfnetlink_rcv: a datagram shorter than its first header is ignored without an answer.
  if (len < NLMSG_HDRLEN) return;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(data);
  if (nlh->nlmsg_len < NLMSG_HDRLEN || len < nlh->nlmsg_len) return;
  if (!allowed) {  // every nf_tables message needs CAP_NET_ADMIN, reads included: one EPERM ack
    nft::NlError e = nft::nl_error(EPERM);
    queue(s, nft::build_ack(nlh, &e, s.portid, s.opt));
    return;
  }
  if (s.comm_pid != sender.pid) {
    s.comm_pid = sender.pid;
    s.comm = read_comm(sender.pid);
  }
  nft::Peer peer{s.portid, static_cast<uint32_t>(sender.pid), s.comm};
  try {
    timespec t0{}, t1{};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    auto replies = server_.handle(data, len, peer, s.opt);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (log_debug_enabled()) {
      size_t bytes = 0;
      for (const auto& d : replies) bytes += d.size();
      double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
      if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
        const auto& b = server_.last_batch();
        logf(LOG_DEBUG, "netlink %u: batch of %zu bytes, %zu messages: %.2f ms (apply %.2f, gate %.2f, commit %.2f); "
             "%zu replies, %zu bytes", s.portid, len, b.messages, ms, b.apply_ms, b.gate_ms, b.commit_ms,
             replies.size(), bytes);
      } else {
        logf(LOG_DEBUG, "netlink %u: request type 0x%x flags 0x%x, %zu bytes: %.2f ms; %zu replies, %zu bytes",
             s.portid, nlh->nlmsg_type, nlh->nlmsg_flags, len, ms, replies.size(), bytes);
      }
    }
    for (auto& d : replies) queue(s, std::move(d));
  } catch (const std::exception& e) {
    // A front-end failure fails this request, never the daemon.
    logf(LOG_ERR, "nf_tables request from pid %d failed: %s", sender.pid, e.what());
    nft::NlError err = nft::nl_error(ENOMEM);
    queue(s, nft::build_ack(nlh, &err, s.portid, s.opt));
  }
}

void NetlinkSessions::queue(Session& s, std::vector<uint8_t> datagram) {
  if (s.out_bytes + datagram.size() > limits_.max_queued) {
    if (!s.overrun_logged)
      logf(LOG_WARNING, "netlink session %u does not read its replies: dropping them (%zu bytes queued)",
           s.portid, s.out_bytes);
    s.overrun_logged = true;
    return;
  }
  s.out_bytes += datagram.size();
  s.out.push_back(std::move(datagram));
}

bool NetlinkSessions::flush(Session& s) {
  while (!s.out.empty()) {
    const auto& d = s.out.front();
    ssize_t n = ::send(s.fd.get(), d.data(), d.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return true;
      if (errno != EMSGSIZE) return false;
      logf(LOG_ERR, "netlink session %u: a %zu-byte reply does not fit the socket; dropped", s.portid, d.size());
    }
    s.out_bytes -= d.size();
    s.out.pop_front();
  }
  return true;
}

}  // namespace nfjit::daemon
