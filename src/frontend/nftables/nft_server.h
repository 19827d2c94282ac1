// The nf_tables netlink server: takes the bytes a client sent on a NETLINK_NETFILTER socket and returns
// the datagrams the kernel would queue on that socket, in order (batch ACKs and errors, echoed objects,
// GET replies, dumps). Multicast events (what `nft monitor` reads) go to a callback.
//
// Single-threaded: the daemon serialises calls per network namespace, as the kernel's nfnl mutex does.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "frontend/nftables/counters.h"
#include "frontend/nftables/netlink_msg.h"
#include "frontend/nftables/store.h"

namespace nfjit::nft {

class NftServer {
 public:
  // Replies for one sendmsg()/sendto() of `len` bytes from `peer`.
  std::vector<Datagram> handle(const uint8_t* buf, size_t len, const Peer& peer,
                               const SocketOptions& opt = {});

  // Multicast group NFNLGRP_NFTABLES events, one datagram each, after every committed batch.
  void on_notify(std::function<void(const Datagram&)> cb) { notify_ = std::move(cb); }
  // Called after each batch that changed the ruleset; the daemon lowers and swaps from here.
  void on_ruleset_changed(std::function<void(const Store&)> cb) { changed_ = std::move(cb); }
  // Live counter values for listings (the runtime's BPF maps).
  void set_counter_source(CounterSource src) { counters_ = std::move(src); }

  const Store& store() const { return store_; }
  uint32_t genid() const { return store_.genid; }

 private:
  void handle_batch(const uint8_t* buf, size_t len, const Peer& peer, const SocketOptions& opt,
                    std::vector<Datagram>& out);
  // One non-batch message; returns the error to ack with (or nullopt), and whether to ack at all.
  Status handle_request(const nlmsghdr* nlh, const Peer& peer, std::vector<Datagram>& out, bool& no_ack);
  Status dump(const nlmsghdr* nlh, const Peer& peer, std::vector<Datagram>& out);
  Status get_one(const nlmsghdr* nlh, const Peer& peer, std::vector<Datagram>& out);
  uint64_t now_ms() const;

  Store store_;
  std::function<void(const Datagram&)> notify_;
  std::function<void(const Store&)> changed_;
  CounterSource counters_;
};

}  // namespace nfjit::nft
