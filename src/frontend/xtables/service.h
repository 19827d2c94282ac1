// The xtables sockopt service: answers IPT_SO_* / IP6T_SO_* exactly as the kernel's ip_tables would,
// keeping each table's blob as received, running lowerable tables as BPF (through a TableSink) and
// handing the others to the kernel's own ip_tables (KernelXtables).
//
// Contract with the preload shim / daemon (see docs/xtables.md):
//  - GET_*: `data` carries the caller's whole buffer (optlen bytes); the reply's data is what the
//    kernel would leave in it (GET_ENTRIES: header as sent + entries), its size the new *optlen.
//    GET_REVISION_* replies with retval = the best revision, as the kernel's getsockopt returns it.
//  - SET_REPLACE: on success the reply's old_counters holds the old counters, num_counters xt_counters
//    {pcnt, bcnt} in entry order; the shim copies them to the ipt_replace's `counters` user pointer,
//    as the kernel's copy_to_user does. On error data is empty and nothing changed.
//  - err is the kernel's errno; last_message() says why in words (strict refusals name the rule).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/xtables/blob.h"
#include "frontend/xtables/kernel_passthrough.h"
#include "frontend/xtables/lower.h"
#include "frontend/xtables/table_sink.h"
#include "nfjit/sockopt.h"

namespace nfjit::xt {

struct ServiceOptions {
  // Refuse tables nfjit cannot lower (EOPNOTSUPP, the rule and reason in last_message()) instead of
  // passing them to the kernel. nat always goes to the kernel.
  bool strict = false;
};

// What `nfjit status` shows for one table.
struct TableStatus {
  ir::Family family;
  std::string table;
  bool bpf = false;         // running as BPF (else in the kernel's ip_tables)
  std::string why;          // why it is in the kernel
};

class XtablesService {
 public:
  XtablesService(TableSink& sink, KernelXtables& kernel, ServiceOptions opts = {});

  SockoptReply handle(const SockoptRequest& req);

  std::vector<TableStatus> status() const;
  const std::string& last_message() const { return last_message_; }

 private:
  struct State {
    bool kernel = false;
    std::string why;
    Table table;                                          // BPF mode: the table as set
    std::vector<std::optional<codegen::CounterSlot>> slots;
    std::vector<xt_counters> base;                        // per entry: SET_ADD_COUNTERS on top of BPF
  };

  SockoptReply get_info(const FamilyAbi& abi, const SockoptRequest& req);
  SockoptReply get_entries(const FamilyAbi& abi, const SockoptRequest& req);
  SockoptReply set_replace(const FamilyAbi& abi, const SockoptRequest& req);
  SockoptReply add_counters(const FamilyAbi& abi, const SockoptRequest& req);

  // The state of a table nfjit lowers, created (bootstrap installed) on first use; nullptr when the
  // name is not such a table. Error when the bootstrap could not be installed.
  Result<State*> lowered_state(const FamilyAbi& abi, const std::string& name);
  Result<std::vector<xt_counters>> live_counters(const FamilyAbi& abi, const std::string& name, const State& s);
  SockoptReply fail(const Error& e);
  SockoptReply to_kernel(const FamilyAbi& abi, const SockoptRequest& req, const Table& t, State& s,
                         std::string why);

  TableSink& sink_;
  KernelXtables& kernel_;
  ServiceOptions opts_;
  std::map<std::pair<ir::Family, std::string>, State> tables_;
  std::string last_message_;
};

}  // namespace nfjit::xt
