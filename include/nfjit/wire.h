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
//                      counters (see below). When err != 0 the rest is instead a UTF-8 message saying
//                      why (version 2), which the shim prints to stderr for a failed setsockopt: iptables
//                      itself can only print strerror(errno).
//   kStatusRequest   payload: empty. A peer without CAP_NET_ADMIN is answered with a kSockoptReply
//                      whose err is EPERM instead of a kStatusReply.
//   kStatusReply     payload: UTF-8 text for `nfjit status`.
//   kProtocolError   payload: UTF-8 text; the daemon sends it for a frame it cannot parse (bad magic,
//                      unknown version or type, oversized) and then closes the connection.
//   kTableNamesRequest  payload: TableNamesRequest. What /proc/net/ip{,6}_tables_names would list in the
//                      daemon's namespace: the tables nfjit holds (those a client has touched, as the
//                      kernel instantiates a table on first use) merged with the kernel's own list.
//                      The shim asks it when iptables-legacy-save fopen()s that file. A peer without
//                      CAP_NET_ADMIN gets a kSockoptReply with err EACCES (the file is 0440 root);
//                      a peer of another namespace a kSockoptReply with disposition kNotThisNamespace.
//   kTableNamesReply payload: the file's text, one table name and '\n' per line.
//
//   kNetlinkSessionRequest  payload: NetlinkSessionRequest. The shim's socket(AF_NETLINK, *,
//                      NETLINK_NETFILTER): the daemon creates a socketpair(AF_UNIX, SOCK_SEQPACKET), keeps
//                      one end as the session and answers kNetlinkSessionReply with the other end attached
//                      (SCM_RIGHTS). A peer of another namespace gets disposition kNotThisNamespace (no fd);
//                      a peer without CAP_NET_ADMIN still gets a session (socket() needs no privilege) whose
//                      requests are answered EPERM, as nfnetlink does. See docs/daemon.md "Netlink sessions".
//   kNetlinkSessionReply payload: NetlinkSessionReply.
//
// Versions: 1 = sockopt, status, protocol error; 2 adds kTableNamesRequest/Reply; 3 adds netlink sessions.
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
inline constexpr uint16_t kVersion = 3;
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
  kTableNamesRequest = 16,  // (version 2)
  kTableNamesReply = 17,
  kNetlinkSessionRequest = 32,  // (version 3)
  kNetlinkSessionReply = 33,
  // Inside a netlink session only (never on the daemon socket): datagrams that begin with a FrameHeader
  // of these types are the shim's, not the client's netlink messages (see NetlinkControl).
  kNetlinkControl = 34,
  kNetlinkFragment = 35,
};

struct FrameHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t type;     // FrameType
  uint64_t length;   // payload bytes that follow
};
static_assert(sizeof(FrameHeader) == 16);

// Every frame type this version knows (the daemon refuses others with kProtocolError).
constexpr bool is_known_frame_type(uint16_t t) {
  return (t >= kSockoptRequest && t <= kProtocolError) || t == kTableNamesRequest || t == kTableNamesReply ||
         t == kNetlinkSessionRequest || t == kNetlinkSessionReply;
}

// --- Netlink sessions (version 3) ---
struct NetlinkSessionRequest {
  int32_t protocol;  // NETLINK_NETFILTER (the only family served)
  uint32_t pad;
};
static_assert(sizeof(NetlinkSessionRequest) == 8);

struct NetlinkSessionReply {
  int32_t err;           // 0, or the errno socket() fails with (no fd attached)
  uint32_t disposition;  // Disposition: kNotThisNamespace -> the shim opens the kernel's socket
  uint32_t portid;       // the session's netlink port id (what getsockname reports)
  uint32_t pad;
};
static_assert(sizeof(NetlinkSessionReply) == 16);

// The daemon binds the client's end of every session to this abstract unix name, so the shim recognises
// a session fd (and its port id) from getsockname() alone: no table of fds to keep in step with close,
// dup, fork or exec. Bytes: '\0' "nfjit-nl-v3" then u32 daemon pid, u32 port id.
struct NetlinkSessionName {
  char tag[12];  // "\0nfjit-nl-v3" without a terminating NUL
  uint32_t daemon_pid;
  uint32_t portid;
};
static_assert(sizeof(NetlinkSessionName) == 20);
inline constexpr char kNetlinkSessionTag[12] = {'\0', 'n', 'f', 'j', 'i', 't', '-', 'n', 'l', '-', 'v', '3'};

// In-band shim datagrams on a session. A netlink datagram cannot begin with kMagic: its first u32 is
// nlmsg_len (<= the datagram's length) and no datagram is 1.4 GB long; so a datagram that begins with
// {kMagic, kVersion, kNetlinkControl or kNetlinkFragment} is the shim's.
//   kNetlinkControl:  FrameHeader{length = sizeof(NetlinkControl)} + NetlinkControl: a setsockopt at
//                     SOL_NETLINK (or a bind's groups) applied in order with the client's messages.
//   kNetlinkFragment: FrameHeader{length = whole message's length} + u64 offset + bytes: one piece of a
//                     sendmsg too large for one seqpacket datagram; the daemon handles the message when
//                     offset + bytes == length, and drops a partial one when anything else arrives.
struct NetlinkControl {
  int32_t level;    // SOL_NETLINK (270), or kNetlinkBindGroups
  int32_t optname;  // NETLINK_* option
  uint32_t value;   // the option's int (for kNetlinkBindGroups: the nl_groups mask)
  uint32_t pad;
};
static_assert(sizeof(NetlinkControl) == 16);
inline constexpr int32_t kNetlinkBindGroups = -1;
struct NetlinkFragmentFixed {
  uint64_t offset;
};
static_assert(sizeof(NetlinkFragmentFixed) == 8);
// Messages above this go as fragments: each piece then needs no more than order-2 page allocations in
// the kernel's unix socket code, however large the batch (one seqpacket skb is one linear allocation).
inline constexpr uint32_t kNetlinkFragmentPayload = 60 * 1024;

struct TableNamesRequest {
  uint32_t family;  // 4: /proc/net/ip_tables_names, 6: /proc/net/ip6_tables_names
};
static_assert(sizeof(TableNamesRequest) == 4);

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
