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

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/xtables/blob.h"
#include "frontend/xtables/kernel_passthrough.h"
#include "frontend/xtables/lower.h"
#include "frontend/xtables/state_store.h"
#include "frontend/xtables/table_sink.h"
#include "nfjit/sockopt.h"

namespace nfjit::xt {

struct ServiceOptions {
  // Refuse tables nfjit cannot lower (EOPNOTSUPP, the rule and reason in last_message()) instead of
  // passing them to the kernel. nat always goes to the kernel.
  bool strict = false;
  // Where each table's state is saved after every change (nullptr: nothing outlives the process).
  const StateStore* store = nullptr;
  // Problems that fail no call (a state file that could not be written): the daemon logs them.
  std::function<void(const std::string&)> warn;
  // Per-stage timings of each SET_REPLACE / SET_ADD_COUNTERS / GET_ENTRIES (the daemon's debug log);
  // nullptr: not reported.
  std::function<void(const std::string&)> debug;
};

// What `nfjit status` shows for one table.
struct TableStatus {
  ir::Family family;
  std::string table;
  bool bpf = false;         // running as BPF (else in the kernel's ip_tables)
  std::string why;          // why it is in the kernel
};

// A table name as /proc/net/ip_tables_names would list it: when it was first used (the kernel lists
// tables newest first) and whether nfjit holds its rules (else only the kernel's list can tell whether
// the kernel has it).
struct KnownTable {
  std::string name;
  uint64_t first_use = 0;
  bool held = false;
};

class XtablesService {
 public:
  XtablesService(TableSink& sink, KernelXtables& kernel, ServiceOptions opts = {});

  SockoptReply handle(const SockoptRequest& req);

  std::vector<TableStatus> status() const;
  // After a restart, before serving: loads the saved tables and reconciles them with the programs the
  // sink still runs (adopted pins keep their counters; a BPF table with no running program is installed
  // again). Returns what happened, one line per table, for the log.
  std::vector<std::string> restore();
  // The last table --strict refused (the rule and the reason), empty if none: `nfjit status` shows it.
  const std::string& last_refusal() const { return last_refusal_; }
  // Every table name of `family` a client has used through nfjit, newest first.
  std::vector<KnownTable> known_tables(ir::Family family) const;
  const std::string& last_message() const { return last_message_; }

 private:
  struct State {
    bool kernel = false;
    std::string why;
    Table table;                                          // BPF mode: the table as set
    std::vector<std::optional<codegen::CounterSlot>> slots;
    ir::Table lowered;                                    // BPF mode: what `table` lowered to (reused per rule)
    std::vector<xt_counters> base;                        // per entry: SET_ADD_COUNTERS on top of BPF
    // Per entry: the BPF value of its slot when this table was set. A program the sink kept (its rules
    // did not change) goes on counting from there; the entry shows base + live - zero.
    std::vector<xt_counters> zero;
    uint64_t first_use = 0;                               // order of creation (known_tables)
  };

  SockoptReply get_info(const FamilyAbi& abi, const SockoptRequest& req);
  SockoptReply get_entries(const FamilyAbi& abi, const SockoptRequest& req);
  SockoptReply set_replace(const FamilyAbi& abi, const SockoptRequest& req);
  SockoptReply add_counters(const FamilyAbi& abi, const SockoptRequest& req);

  // The state of a table nfjit lowers, created (bootstrap installed) on first use; nullptr when the
  // name is not such a table. Error when the bootstrap could not be installed.
  Result<State*> lowered_state(const FamilyAbi& abi, const std::string& name);
  Result<std::vector<xt_counters>> live_counters(const FamilyAbi& abi, const std::string& name, const State& s);
  // Per entry: base + live - zero, `live` holding one value per counted slot in entry order.
  static std::vector<xt_counters> shown_counters(const State& s, const std::vector<codegen::CounterValue>& live);
  SockoptReply fail(const Error& e);
  SockoptReply to_kernel(const FamilyAbi& abi, const SockoptRequest& req, const Table& t, State& s,
                         std::string why);

  TableSink& sink_;
  KernelXtables& kernel_;
  ServiceOptions opts_;
  // A table nfjit does not lower (nat) was used: the kernel now has it.
  void note_kernel_table(const FamilyAbi& abi, const std::string& name);
  // Saves the state of one table (ServiceOptions::store), reporting failures through warn.
  void persist(ir::Family family, const std::string& name);

  std::map<std::pair<ir::Family, std::string>, State> tables_;
  std::map<std::pair<ir::Family, std::string>, uint64_t> kernel_tables_;  // first use of nat & co.
  uint64_t use_seq_ = 0;
  std::string last_message_;
  std::string last_refusal_;
};

}  // namespace nfjit::xt
