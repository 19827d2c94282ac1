// The kernel's own ip_tables / ip6_tables in the current network namespace, through a raw socket: where
// tables nfjit does not lower live (nat always; by default any table with a rule nfjit cannot express),
// and the authority on which extensions and revisions exist.
#pragma once

#include <linux/netfilter/x_tables.h>

#include <string>
#include <vector>

#include "frontend/xtables/abi.h"
#include "nfjit/result.h"
#include "nfjit/sockopt.h"

namespace nfjit::xt {

class KernelXtables {
 public:
  KernelXtables() = default;
  ~KernelXtables();
  KernelXtables(const KernelXtables&) = delete;
  KernelXtables& operator=(const KernelXtables&) = delete;

  // A getsockopt/setsockopt exactly as the client asked (GET_INFO, GET_ENTRIES, GET_REVISION_*,
  // SET_ADD_COUNTERS). Not for SET_REPLACE, whose counters pointer must be redirected: see replace().
  SockoptReply forward(const SockoptRequest& req);

  // SET_REPLACE of `opt` (an ipt_replace with entries). `num_counters`, when not 0, overrides the
  // header's (used when the client counted another table's entries). On success returns the old
  // counters the kernel wrote, num_counters of them.
  Result<std::vector<xt_counters>> replace(const FamilyAbi& abi, std::vector<uint8_t> opt, uint32_t num_counters = 0);

  // GET_INFO for `table` (creating the kernel table as any getsockopt would).
  Result<ipt_getinfo> info(const FamilyAbi& abi, const std::string& table);
  // Counters of every entry of the kernel's `table`, in order.
  Result<std::vector<xt_counters>> counters(const FamilyAbi& abi, const std::string& table);
  // GET_REVISION_{MATCH,TARGET}: the best revision, or ENOENT / EPROTONOSUPPORT.
  Result<int> revision(const FamilyAbi& abi, bool target, const std::string& name, uint8_t revision);

 private:
  int fd(const FamilyAbi& abi);
  int fd4_ = -1, fd6_ = -1;
};

}  // namespace nfjit::xt
