// The nf_tables netlink server: takes the bytes a client sent on a NETLINK_NETFILTER socket and returns
// the datagrams the kernel would queue on that socket, in order (batch ACKs and errors, echoed objects,
// GET replies, dumps). Multicast events (what `nft monitor` reads) go to a callback.
//
// Single-threaded: the daemon serialises calls per network namespace, as the kernel's nfnl mutex does.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "frontend/nftables/counters.h"
#include "frontend/nftables/netlink_msg.h"
#include "frontend/nftables/store.h"

namespace nfjit::nft {

// One message of a batch that applied: what it touched (the table is absent for a message naming none,
// e.g. a DELTABLE by handle or a family-wide flush), and for a NEWRULE the handle the rule got.
struct BatchMsg {
  const nlmsghdr* nlh = nullptr;
  uint16_t type = 0;  // NFT_MSG_*
  uint8_t family = 0;
  std::optional<std::string> table;
  std::string chain;
  uint64_t rule_handle = 0;
  std::string set;  // element messages: the set named
};

// Why the daemon refused to commit a batch: the error, and the message to report it on (null: the last).
struct CommitRefusal {
  NlError error;
  const nlmsghdr* at = nullptr;
};

// Runs before a batch that changed the ruleset commits, with the committed Store and the one about to
// replace it; puts the new version in force. A refusal aborts the batch (nothing committed) and the
// client gets its error, as if the kernel had refused the batch.
using CommitGate = std::function<std::optional<CommitRefusal>(const Store& before, const Store& after,
                                                              const std::vector<BatchMsg>& msgs)>;
// Requests of another nfnetlink subsystem the daemon relays to the kernel (nft_compat revision
// queries): the kernel's replies, or nullopt when it could not be asked.
using SubsysForward = std::function<std::optional<std::vector<Datagram>>(const nlmsghdr* nlh, const Peer& peer)>;

// Where the time of the last batch went (for the daemon's debug log and benchmarks).
struct BatchStats {
  size_t messages = 0;
  double apply_ms = 0;   // the messages applied to the batch's copy of the Store
  double gate_ms = 0;    // the commit gate (the daemon: lowering, BPF install, kernel replay)
  double commit_ms = 0;  // events, NEWGEN, the new Store in place
};

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
  // Called at the start of every dump and GET (so a counter source can take one fresh snapshot per
  // listing).
  void on_dump_begin(std::function<void()> cb) { dump_begin_ = std::move(cb); }
  // Whether anyone listens to NFNLGRP_NFTABLES; without it every batch builds its events (as if someone
  // did). With it, events nobody would receive are not built (the kernel builds none either).
  void set_has_listeners(std::function<bool()> f) { has_listeners_ = std::move(f); }
  const BatchStats& last_batch() const { return stats_; }
  // See CommitGate.
  void set_commit_gate(CommitGate gate) { gate_ = std::move(gate); }
  // Relays NFNL_SUBSYS_NFT_COMPAT requests (see SubsysForward); without it they get EINVAL.
  void set_compat_forward(SubsysForward fwd) { compat_ = std::move(fwd); }

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
  std::function<void()> dump_begin_;
  CommitGate gate_;
  SubsysForward compat_;
  std::function<bool()> has_listeners_;
  BatchStats stats_;
};

}  // namespace nfjit::nft
