// The running kernel's jiffies clock, for xt_limit's arithmetic (codegen/match_limit.cc): its HZ
// (CONFIG_HZ) and the current value of jiffies, both read through BPF (bpf_jiffies64) or the kernel's
// own config, never assumed.
#pragma once

#include <cstdint>

#include "nfjit/result.h"

namespace nfjit::codegen {

// CONFIG_HZ: /boot/config-$(uname -r), else /proc/config.gz, else measured (two bpf_jiffies64 reads
// ~200 ms apart, rounded to the nearest of 100/250/300/1000). Cached after the first success.
Result<uint32_t> kernel_hz();

// The kernel's jiffies now (bpf_jiffies64 in a BPF_PROG_TYPE_SYSCALL program run once).
Result<uint64_t> kernel_jiffies();

}  // namespace nfjit::codegen
