// One getsockopt/setsockopt call as the preload shim forwards it to nfjitd, and the answer the kernel
// would have given. The daemon routes it to the front-end that owns the option (xtables for
// SOL_IP/SOL_IPV6 options 64..67).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nfjit {

struct SockoptRequest {
  bool set = false;            // setsockopt (true) or getsockopt (false)
  int32_t level = 0;           // SOL_IP (0) or SOL_IPV6 (41)
  int32_t optname = 0;
  uint32_t optlen = 0;         // getsockopt: the caller's buffer size; setsockopt: data.size()
  std::vector<uint8_t> data;   // setsockopt: the option value; getsockopt: the buffer's contents on entry
                               // (GET_ENTRIES / GET_INFO / GET_REVISION_* carry their request in it).
                               // Through the daemon a getsockopt carries only the first
                               // min(optlen, wire::kGetInputMax = 1024) bytes: check sizes against optlen.
  struct ucred peer {};        // pid/uid/gid of the caller, from SO_PEERCRED
};

struct SockoptReply {
  int32_t err = 0;             // 0, or the positive errno the kernel would set
  std::vector<uint8_t> data;   // getsockopt: the bytes to copy back (its size becomes *optlen)
  int32_t retval = 0;          // the syscall's return value when err == 0 (measured on kernel 6.18: 0 for
                               // every IPT_SO_* call, revisions included — ip_getsockopt ends in put_user)
  std::vector<uint8_t> old_counters;  // SET_REPLACE only: the replaced table's counters
                               // (num_counters struct xt_counters), which the kernel writes to
                               // ipt_replace.counters in the caller's memory; the shim copies them there
  std::string message;         // with err: why, in words (a --strict refusal names the rule); the shim
                               // prints it to the failing command's stderr for setsockopt calls
};

}  // namespace nfjit
