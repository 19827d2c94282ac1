// Formats a codegen::LogRecord the way the kernel's LOG target does (net/netfilter/nf_log_syslog.c),
// so nfjit's log lines are indistinguishable from iptables/nft LOG output:
//   "<prefix>IN=eth0 OUT= MAC=.. SRC=.. DST=.. LEN=.. TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=..
//    DPT=.. WINDOW=.. RES=0x00 SYN URGP=0 "  (the kernel leaves the trailing space too)
#pragma once

#include <string>

#include "codegen/log_record.h"
#include "ir/ir.h"

namespace nfjit::runtime {

// `action` is the LOG action the record's log_id names (prefix, flags).
std::string format_log_line(const codegen::LogRecord& rec, const ir::LogAction& action);

}  // namespace nfjit::runtime
