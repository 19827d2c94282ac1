// Makes conntrack run in the calling thread's network namespace, so netfilter-hook programs can read
// the connection state from skb->_nfct, without any per-packet cost from kernel rules.
//
// Conntrack's hooks are registered per namespace only while something holds a reference
// (nf_ct_netns_get). With no iptables/nft conntrack rule in the kernel nothing does. We create the
// nf_tables table `inet nfjit_conntrack` holding one REGULAR (non-base) chain with one rule
// `ct state established`: the ct expression's init (nft_ct_get_init) takes the conntrack reference for
// the inet family (IPv4 and IPv6), while a chain without a hook is never evaluated for any packet.
// Deleting the table drops the reference again.
#pragma once

#include "nfjit/result.h"

namespace nfjit::runtime {

inline constexpr const char* kConntrackTable = "nfjit_conntrack";

// Creates the table (idempotent: an existing one is replaced by the same content).
Result<void> enable_conntrack();
// Deletes it (ENOENT is not an error).
Result<void> disable_conntrack();

}  // namespace nfjit::runtime
