// Test helpers: nf_tables batches built with libnftnl exactly as nft builds them, a real
// NETLINK_NETFILTER socket (used inside a test namespace) to get the kernel's answers, and decoding of
// the answers (acks, errors, extack offsets) for comparisons.
#pragma once

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "frontend/nftables/netlink_msg.h"

namespace nfjit::nft::test {

using Bytes = std::vector<uint8_t>;

// Builds one datagram: BATCH_BEGIN, messages, BATCH_END (each step optional for malformed cases).
class BatchBuilder {
 public:
  BatchBuilder& begin();
  BatchBuilder& end();
  // Appends a message whose payload `fill` writes with libnftnl/libmnl; seq numbers count from 1.
  BatchBuilder& msg(uint16_t type, uint8_t family, uint16_t flags, const std::function<void(nlmsghdr*)>& fill);
  BatchBuilder& raw(const Bytes& b);
  Bytes bytes() const { return buf_; }

 private:
  Bytes buf_;
  uint32_t seq_ = 0;
};

// Common objects, as `nft` sends them.
void fill_table(nlmsghdr* nlh, const char* name);
void fill_base_chain(nlmsghdr* nlh, const char* table, const char* chain, uint32_t hook, int32_t prio,
                     uint32_t policy);
void fill_chain(nlmsghdr* nlh, const char* table, const char* chain);
// A rule `counter accept` (or a jump to `jump_to` when given), at an optional position/handle.
void fill_rule(nlmsghdr* nlh, const char* table, const char* chain, uint64_t position = 0,
               uint64_t handle = 0, const char* jump_to = nullptr, const char* comment = nullptr);

// One reply datagram, decoded message by message.
struct Reply {
  uint16_t type = 0;     // nlmsg_type
  uint16_t flags = 0;
  int error = 0;         // for NLMSG_ERROR: the errno (negative), 0 for an ACK
  uint32_t bad_attr_offset = 0;
  Bytes bytes;           // the whole message
};
std::vector<Reply> decode(const std::vector<Datagram>& dgrams);

// A real NETLINK_NETFILTER socket in the calling thread's network namespace.
class KernelSocket {
 public:
  explicit KernelSocket(bool ext_ack = true);
  ~KernelSocket();
  std::vector<Datagram> talk(const Bytes& b);  // send, then read until nothing more comes
  uint32_t portid() const;

 private:
  mnl_socket* nl_ = nullptr;
};

}  // namespace nfjit::nft::test
