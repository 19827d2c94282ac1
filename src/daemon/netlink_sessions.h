// nfjitd's netlink sessions: every shim socket(AF_NETLINK, *, NETLINK_NETFILTER) in the daemon's
// namespace is one session, served by the one NftServer of the daemon (shared by all sessions, as the
// kernel's nf_tables state is shared by all sockets of a namespace).
//
// Per session: read a datagram with MSG_PEEK, check its sender's credentials (SCM_CREDENTIALS: nfnetlink
// requires CAP_NET_ADMIN of the socket's opener and of the sender, for reads too), hand it to
// NftServer::handle, queue the replies, write what the socket takes, and only then consume the request:
// the shim's sendmsg waits for that consumption, so replies are queued when sendmsg returns, as with the
// kernel. Multicast membership (NFNLGRP_NFTABLES) makes NftServer's events go to that session.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/netlink_session_service.h"
#include "frontend/nftables/nft_server.h"

namespace nfjit::daemon {

struct NetlinkSessionLimits {
  size_t max_sessions = 4096;
  // Daemon-side SO_SNDBUF of each session: how many reply bytes may wait in the client's receive queue
  // (nft drains acks with a zero-timeout select(), so they must be there at once).
  int sndbuf = 16 << 20;
  // Replies the client does not read beyond this are dropped (the kernel drops on a full receive
  // buffer too, with ENOBUFS); logged once per session.
  size_t max_queued = 64u << 20;
  int datagrams_per_turn = 256;  // fairness between sessions
};

class NetlinkSessions : public NetlinkSessionService {
 public:
  NetlinkSessions(nft::NftServer& server, SelfNamespaces self, NetlinkSessionLimits limits = {});
  ~NetlinkSessions() override;

  Result<OpenedSession> open_session(const Peer& opener, bool opener_allowed) override;
  void poll_fds(std::vector<pollfd>& fds) override;
  void on_poll(std::span<const pollfd> fds) override;

  size_t session_count() const { return sessions_.size(); }

 private:
  struct Session {
    runtime::Fd fd;  // the daemon's end
    uint32_t portid = 0;
    bool opener_allowed = false;
    nft::SocketOptions opt;
    uint32_t groups = 0;  // bit g-1: member of multicast group g
    std::deque<std::vector<uint8_t>> out;
    size_t out_bytes = 0;
    bool overrun_logged = false;
    std::vector<uint8_t> frag;  // a fragmented message being reassembled
    uint64_t frag_total = 0;
    bool in_frag = false;
    pid_t comm_pid = 0;  // sender whose comm is cached
    std::string comm;
  };
  enum class Step { kMore, kEmpty, kDead };

  Step read_one(Session& s, bool hup);
  void process(Session& s, const uint8_t* data, size_t len, const ucred& sender);
  void apply_control(Session& s, const uint8_t* data, size_t len, bool sender_allowed);
  void deliver(Session& s, const uint8_t* data, size_t len, const ucred& sender, bool sender_allowed);
  void queue(Session& s, std::vector<uint8_t> datagram);
  bool flush(Session& s);  // false: the client is gone
  bool sender_allowed(const Session& s, const ucred& sender) const;
  uint32_t pick_portid(pid_t opener) const;

  nft::NftServer& server_;
  SelfNamespaces self_;
  NetlinkSessionLimits limits_;
  std::map<int, std::unique_ptr<Session>> sessions_;  // by the daemon end's fd
  std::vector<int> polled_;                            // fds in the order poll_fds() appended them
  std::vector<uint8_t> buf_;                           // one peeked datagram
  mutable uint32_t rover_ = static_cast<uint32_t>(-4096);
};

}  // namespace nfjit::daemon
