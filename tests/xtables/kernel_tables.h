// Test helpers that talk to the real kernel's ip_tables in the calling thread's network namespace
// (always a fresh test namespace, entered with EnterNetns): capture a table as GET_INFO/GET_ENTRIES
// return it, rebuild the SET_REPLACE option that would install it, and apply an option to see the
// kernel's errno.
#pragma once

#include <string>
#include <vector>

#include "frontend/xtables/abi.h"
#include "nfjit/sockopt.h"

namespace nfjit::xt::test {

struct KernelTable {
  std::vector<uint8_t> info;     // GET_INFO answer (sizeof(ipt_getinfo) bytes)
  std::vector<uint8_t> entries;  // GET_ENTRIES answer: ipt_get_entries header + entries (zeroed buffer in)
  ipt_getinfo gi{};
  std::vector<uint8_t> blob() const { return {entries.begin() + sizeof(ipt_get_entries), entries.end()}; }
};

KernelTable capture(const FamilyAbi& abi, const std::string& table);
// An ipt_replace for `k`'s contents with num_counters as given (counters pointer left 0).
std::vector<uint8_t> replace_option(const KernelTable& k, uint32_t num_counters);
// setsockopt(SET_REPLACE) on the kernel: 0 or errno.
int kernel_replace_errno(const FamilyAbi& abi, std::vector<uint8_t> opt);
// Zero the counters of every entry of a GET_ENTRIES answer (to compare tables that saw other traffic).
void zero_counters(const FamilyAbi& abi, std::vector<uint8_t>& get_entries_answer);

// Requests as the preload shim sends them.
SockoptRequest get_info_request(const FamilyAbi& abi, const std::string& table);
SockoptRequest get_entries_request(const FamilyAbi& abi, const std::string& table, uint32_t size);
SockoptRequest set_request(const FamilyAbi& abi, int optname, std::vector<uint8_t> data);

std::string data_path(const std::string& file);

}  // namespace nfjit::xt::test
