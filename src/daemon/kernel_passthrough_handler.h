// A RequestHandler that hands every xtables call to the kernel netfilter of the namespace the handler
// was created in, and returns the kernel's answer verbatim (including SET_REPLACE's old counters, which
// it collects in its own memory and returns for the shim to copy back).
//
// It is what nfjitd serves until the xtables front-end is wired in main.cc, and what end-to-end tests use
// to prove the shim + wire + daemon path is transparent: a command through nfjitd must behave exactly
// as without it. Its system calls bypass libc on purpose: nfjitd itself may run under
// /etc/ld.so.preload, and must never forward its own calls to itself.
#pragma once

#include <string>

#include "daemon/request_handler.h"
#include "runtime/fd.h"

namespace nfjit::daemon {

class KernelPassthroughHandler : public RequestHandler {
 public:
  // Opens raw IPv4/IPv6 sockets (and the table-name lists) in the calling thread's network namespace.
  KernelPassthroughHandler();
  SockoptReply sockopt(const SockoptRequest& req) override;
  std::string status() override;

 private:
  runtime::Fd raw4_, raw6_;
  runtime::Fd names4_, names6_;  // /proc/net/ip{,6}_tables_names of that namespace
};

}  // namespace nfjit::daemon
