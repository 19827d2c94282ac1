// The protocol between the preload shim (and the nfjit CLI) and nfjitd, over a unix SOCK_STREAM socket.
//
// Why a stream with length-prefixed frames and not SOCK_SEQPACKET: a seqpacket message must fit the
// sender's socket buffer in one piece (net.core.wmem_max, 208 KiB by default), and a 100k-rule
// ipt_replace blob is tens of MB. A stream carries any size, and the shim can send the caller's buffer
// straight from its own memory (sendmsg with an iovec) without copying or allocating.
//
// One connection carries one request and its reply (the shim connects per call; the CLI too). The daemon
// accepts further requests on the same connection, so a long-lived client may reuse it.
//
// Every frame: FrameHeader (16 bytes, host byte order — both ends are on the same host) then `length`
// payload bytes.
//
//   kSockoptRequest  payload: SockoptRequestFixed, then the option bytes:
//                      setsockopt: all `optlen` bytes of optval;
//                      getsockopt: the first min(optlen, kGetInputMax) bytes of the caller's buffer (the
//                      kernel reads only a small header from it: ipt_getinfo.name, ipt_get_entries.name
//                      and .size, xt_get_revision). `optlen` always holds the caller's full *optlen.
//   kSockoptReply    payload: SockoptReplyFixed, then `data_len` bytes to copy to the caller's optval
//                      (getsockopt; *optlen becomes data_len), then the rest of the payload is the old
//                      counters (see below).
//   kStatusRequest   payload: empty. A peer without CAP_NET_ADMIN is answered with a kSockoptReply
//                      whose err is EPERM instead of a kStatusReply.
//   kStatusReply     payload: UTF-8 text for `nfjit status`.
//   kProtocolError   payload: UTF-8 text; the daemon sends it for a frame it cannot parse (bad magic,
//                      unknown version or type, oversized) and then closes the connection.
//
// The SET_REPLACE old-counters quirk: on IPT_SO_SET_REPLACE / IP6T_SO_SET_REPLACE the kernel writes the
// replaced table's counters (num_counters struct xt_counters) into the CALLER's memory at
// ((struct ipt_replace*)optval)->counters, and libiptc adds them back with SET_ADD_COUNTERS. The daemon
// cannot write the client's memory, so a successful SET_REPLACE reply carries those counters after the
// (empty) data, and the shim copies min(num_counters * 16, their size) bytes to that pointer before it
// returns. If that pointer is bad the shim returns EFAULT, as the kernel does (the table stays replaced,
// as in the kernel). ip6t_replace has the same layout for these fields.
//
// Credentials: the daemon takes the peer's pid/uid/gid from SO_PEERCRED and answers EPERM (in
// SockoptReplyFixed.err) unless the peer holds CAP_NET_ADMIN in the daemon's user namespace.
//
// Disposition kNotThisNamespace: the peer lives in another network namespace than the daemon, so this
// daemon does not own the peer's firewall; the shim then makes the call to the kernel itself, as it does
// when no daemon listens.
#pragma once

#include <cstdint>

namespace nfjit::wire {

inline constexpr uint32_t kMagic = 0x544a464e;  // "NFJT" in little-endian memory
inline constexpr uint16_t kVersion = 1;
inline constexpr uint64_t kMaxFrame = 1ull << 30;  // 1 GiB: far above any real table, bounds garbage
inline constexpr uint32_t kGetInputMax = 1024;     // getsockopt input bytes forwarded (see above)
inline constexpr const char* kDefaultSocket = "/run/nfjit/nfjitd.sock";
inline constexpr const char* kSocketEnv = "NFJIT_SOCKET";

enum FrameType : uint16_t {
  kSockoptRequest = 1,
  kSockoptReply = 2,
  kStatusRequest = 3,
  kStatusReply = 4,
  kProtocolError = 5,
};

struct FrameHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t type;     // FrameType
  uint64_t length;   // payload bytes that follow
};
static_assert(sizeof(FrameHeader) == 16);

struct SockoptRequestFixed {
  uint8_t set;       // 1: setsockopt, 0: getsockopt
  uint8_t pad[3];
  int32_t level;     // SOL_IP or SOL_IPV6
  int32_t optname;
  uint32_t optlen;   // setsockopt: optlen; getsockopt: *optlen on entry
};
static_assert(sizeof(SockoptRequestFixed) == 16);

enum Disposition : uint32_t {
  kAnswered = 0,           // err/retval/data are the call's outcome
  kNotThisNamespace = 1,   // make the call to the kernel instead (see above)
};

struct SockoptReplyFixed {
  int32_t err;          // 0 or a positive errno: the call returns -1 with errno = err
  int32_t retval;       // the call's return value when err == 0
  uint32_t disposition; // Disposition
  uint32_t pad;
  uint64_t data_len;    // bytes of getsockopt output that follow; old counters follow those
};
static_assert(sizeof(SockoptReplyFixed) == 24);

// The calls the shim forwards (levels SOL_IP = 0 and SOL_IPV6 = 41; SOCK_RAW sockets only).
// Note the IPv6 revision options are 68/69, not 66/67 (ip6_tables.h: IP6T_BASE_CTL + 4 / + 5).
constexpr bool routes_to_daemon(bool set, int level, int optname) {
  if (level == 0) return set ? (optname == 64 || optname == 65) : (optname >= 64 && optname <= 67);
  if (level == 41) {
    return set ? (optname == 64 || optname == 65)
               : (optname == 64 || optname == 65 || optname == 68 || optname == 69);
  }
  return false;
}

}  // namespace nfjit::wire
