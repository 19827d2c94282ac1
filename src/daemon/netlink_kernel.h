// The kernel's own nf_tables in the daemon's namespace, reached over a real NETLINK_NETFILTER socket
// (raw syscalls: nfjitd may itself run under the preload shim and must never talk to itself).
//
// Two jobs: (1) tables nfjit cannot lower are kept there, replayed from the Store's objects (the
// messages the dump builder writes, less the read-only attributes) — every change of such a table is one
// kernel batch (DELTABLE + re-add), so no packet ever sees half of it; (2) requests only the kernel can
// answer (iptables-nft's nft_compat revision queries) are forwarded and the kernel's replies relayed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "frontend/nftables/counters.h"
#include "frontend/nftables/netlink_msg.h"
#include "frontend/nftables/store.h"
#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::daemon {

// Counter values of the kernel's copy of a table: (chain, rule position in the chain, expression index).
using KernelCounters = std::map<std::tuple<std::string, size_t, uint32_t>, nft::CounterValue>;

class KernelNftables {
 public:
  // Opens the socket lazily; nothing is sent before the first call.
  KernelNftables() = default;

  // One batch: deletes the kernel's copy of the table when `had_copy`, then adds `table` when not null
  // (counter expressions start at the values `counters` gives, so a replacement keeps them). On failure
  // the kernel aborted the whole batch: the Error carries its errno and extended-ack message.
  Result<void> replace(uint8_t family, const std::string& name, bool had_copy, const nft::TableObj* table,
                       const nft::CounterSource& counters);

  // The counters of every rule of the kernel's copy of a table, by position.
  Result<KernelCounters> counters(uint8_t family, const std::string& name);

  // Sends one non-batch request as the client sent it and returns the kernel's replies, the port id in
  // each replaced by `portid` (the client's).
  Result<std::vector<nft::Datagram>> forward(const uint8_t* msg, size_t len, uint32_t portid);

 private:
  Result<void> ensure_open();
  Result<void> send(const std::vector<uint8_t>& bytes);
  // Reads every queued datagram (nfnetlink answers synchronously, inside the sender's sendmsg()).
  Result<std::vector<nft::Datagram>> drain(bool wait_for_done, uint32_t seq);
  runtime::Fd fd_;
  uint32_t seq_ = 1;
};

}  // namespace nfjit::daemon
