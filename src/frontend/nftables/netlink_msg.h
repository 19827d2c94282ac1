// Building the netlink messages the kernel sends back on a NETLINK_NETFILTER socket: nf_tables object
// messages (nlmsghdr + nfgenmsg + attributes, built with libmnl/libnftnl), ACK/error messages with
// extended-ack TLVs, and NLMSG_DONE. Also the error type every handler returns.
#pragma once

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nfjit::nft {

using Datagram = std::vector<uint8_t>;

// What the requesting socket asked for with setsockopt(SOL_NETLINK, ...): these change ACK shapes.
struct SocketOptions {
  bool ext_ack = false;   // NETLINK_EXT_ACK: append NLMSGERR_ATTR_* TLVs
  bool cap_ack = false;   // NETLINK_CAP_ACK: never echo the request payload in errors
};

// Who sent the request (the kernel reports it in NEWGEN messages).
struct Peer {
  uint32_t portid = 0;
  uint32_t pid = 0;
  std::string comm;
};

// A failed request, as the kernel reports it: negative errno in the ack, plus extack details.
struct NlError {
  int err = 0;                        // positive errno
  const nlattr* bad_attr = nullptr;   // NLMSGERR_ATTR_OFFS (must point into the request)
  std::string msg;                    // NLMSGERR_ATTR_MSG
  uint32_t miss_type = 0;             // NLMSGERR_ATTR_MISS_TYPE (0: none)
};
using Status = std::optional<NlError>;  // nullopt: success
inline NlError nl_error(int err, const nlattr* bad = nullptr, std::string msg = {}) {
  return NlError{err, bad, std::move(msg), 0};
}

// Appends nf_tables messages into one growing buffer. Each message starts with begin() and is closed by
// end(), which trims it to its real length and strips NLA_F_NESTED from every nest (the kernel's dumps
// use nla_nest_start_noflag; libmnl always sets the flag).
//
// A message is built in a zeroed scratch area big enough for any message (libmnl writes without bounds
// checks and older libmnl leaves attribute padding as it finds it) and copied out at end(), so the
// buffer holds exactly the bytes written: building 100,000 one-element events costs their bytes, not
// 100,000 scratch areas.
class MsgWriter {
 public:
  MsgWriter() = default;
  MsgWriter(MsgWriter&& o) noexcept;
  MsgWriter& operator=(MsgWriter&& o) noexcept;
  ~MsgWriter();
  // type: NFT_MSG_*; the subsystem is added here. res_id carries the low 16 bits of the genid.
  nlmsghdr* begin(uint16_t type, uint16_t flags, uint32_t seq, uint32_t portid, uint8_t family,
                  uint16_t res_id);
  void end();
  nlmsghdr* current() { return cur_; }
  const std::vector<uint8_t>& bytes() const { return buf_; }
  std::vector<uint8_t> take() { return std::move(buf_); }
  bool empty() const { return buf_.empty(); }

 private:
  void release_scratch();
  std::vector<uint8_t> buf_;
  uint8_t* scratch_ = nullptr;      // the message being built (null between messages)
  bool own_scratch_ = false;        // a private one: another writer's message was open meanwhile
  nlmsghdr* cur_ = nullptr;
};

// NLMSG_ERROR for `req`: err == 0 is an ACK. Shaped as netlink_ack() shapes it.
Datagram build_ack(const nlmsghdr* req, const NlError* e, uint32_t portid, const SocketOptions& opt);
// NLMSG_DONE closing a dump (payload: int 0), with NLM_F_MULTI.
void append_done(std::vector<uint8_t>& out, uint32_t seq, uint32_t portid);

// Recursively clears NLA_F_NESTED in the attributes [data, data+len).
void strip_nested_flag(uint8_t* data, size_t len);

}  // namespace nfjit::nft
