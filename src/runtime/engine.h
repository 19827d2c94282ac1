// The runtime's API for the daemon: install, replace and remove whole tables as BPF programs, read their
// counters, update their sets live, and find everything again after a restart.
//
// Each base chain of a table runs at one or more attachment points (netfilter hook + family + priority,
// XDP on a device, TCX ingress/egress on a device). Every attachment point owns a dispatcher attached
// once (see dispatcher.h); installing a new version of a table loads all its programs first and only
// then swaps them into the dispatchers' slots, so a failure anywhere changes nothing.
//
// With a bpffs directory configured, each key's objects are pinned under <bpffs>/<key>/<point>/:
//   link      the BPF link (keeps the dispatcher attached while no process holds it)
//   progs     the dispatcher's PROG_ARRAY (a pin keeps its slot filled: see dispatcher.h)
//   counters  the current program's counters map
//   log       its log ring, when it has LOG rules
//   set_<n>   its set maps
//   meta      what the slots and logs mean (attachment_meta.h)
// A restarted daemon calls restore() and keeps filtering throughout: nothing is ever detached for it.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "codegen/program.h"
#include "ir/ir.h"
#include "nfjit/result.h"
#include "runtime/counters.h"
#include "runtime/fd.h"

namespace nfjit::runtime {

// Where base chains go instead of their default attachment (netfilter hooks for ip/ip6/inet, TCX for
// netdev): a chain placed at XDP or TC on named interfaces.
struct Placement {
  struct Override {
    std::string chain;
    codegen::AttachKind kind = codegen::AttachKind::Xdp;
    std::vector<std::string> ifnames;
  };
  std::vector<Override> overrides;
};

// Compiles one base chain of a table for one attachment point: codegen::compile with the daemon's
// KernelBtf and options bound in.
using CompileFn = std::function<Result<codegen::Program>(const ir::Table&, const std::string& base_chain,
                                                         const codegen::AttachPoint&)>;

// One key/value pair of a set map.
struct MapEntry {
  std::vector<uint8_t> key, value;
};
// Encodes a set element into the entries of the set's map (codegen's set encoding).
using SetEncodeFn = std::function<Result<std::vector<MapEntry>>(const codegen::MapSpec&, const ir::Set&,
                                                                const ir::SetElement&)>;

// Counters keyed by (chain, rule index; -1 = the chain's policy), summed over all attachment points of a
// key (an inet table's IPv4 and IPv6 programs add up).
using CounterKey = std::pair<std::string, int32_t>;
using CounterTotals = std::map<CounterKey, codegen::CounterValue>;
CounterTotals totals_of(const std::vector<ProgramCounters>& programs);

// What Engine::update did, point by point, and the counters the caller needs to carry them over.
struct InstallReport {
  // Every program of the version that was in force, read once the new one is: a replaced program's
  // final values, a kept program's values at that moment (sum_for_slots() adds them up per slot).
  std::vector<ProgramCounters> old;
  // The kept programs' part of `old`: they go on counting from there, so the new version's counters
  // start at these values instead of 0 (a program loaded by this install starts at 0).
  std::vector<ProgramCounters> carried;
  std::vector<std::string> loaded, kept, removed;  // attachment point names
  std::string timings;                              // "compile 2.10 ms, load 8.00 ms, ..." (debug logs)
};

struct EngineOptions {
  CompileFn compile;
  SetEncodeFn encode_set_element;  // needed only for update_set
  std::string bpffs;               // empty: nothing is pinned
};

class Engine {
 public:
  explicit Engine(EngineOptions opt);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Installs or replaces the table under `key`. On success returns the counters of the version it
  // replaced, read after the swap (empty for a first install), so the caller can carry them over.
  // On failure nothing changed and the Error names the chain and rule.
  Result<CounterTotals> install(const std::string& key, const ir::Table& table, const Placement& placement = {});

  // Like install(), but an attachment point whose program would be compiled from exactly the same IR
  // (its base chain, every chain it reaches, the table's sets, the same attachment point) keeps the
  // program in force, with its counters: changing INPUT does not recompile or swap FORWARD and OUTPUT.
  // The report says which points were loaded and kept, and what the caller must carry over.
  Result<InstallReport> update(const std::string& key, const ir::Table& table, const Placement& placement = {});

  // Detaches and unpins everything of `key`.
  Result<void> remove(const std::string& key);

  Result<CounterTotals> counters(const std::string& key) const;
  // The same, program by program (cheaper for many slots: see sum_for_slots()).
  Result<std::vector<ProgramCounters>> program_counters(const std::string& key) const;

  // Adds / deletes elements of set `set` in every program of `key` that has it.
  Result<void> update_set(const std::string& key, const ir::Set& set, const std::vector<ir::SetElement>& add,
                          const std::vector<ir::SetElement>& del);

  // Adopts everything pinned under the bpffs directory (after a daemon restart). Returns the keys found.
  Result<std::vector<std::string>> restore();

  std::vector<std::string> keys() const;

  // The attachment point names of a key ("nf-ipv4-input-p0", ...), for status output and tests.
  std::vector<std::string> attachment_names(const std::string& key) const;
  // The id of the program in each attachment point's slot (as `bpftool prog show id N` knows it), by
  // point name: it changes exactly when the point's program was replaced.
  std::map<std::string, uint32_t> program_ids(const std::string& key) const;

  // Log rings of the current programs, with what their log ids mean, for a LogReader.
  struct LogRing {
    int map_fd;
    const std::vector<ir::LogAction>* logs;
    const std::vector<codegen::CounterSlot>* slots;
  };
  std::vector<LogRing> log_rings() const;

 private:
  struct Attachment;
  struct Entry;
  EngineOptions opt_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  // Keys whose netfilter-hook programs read conntrack state: while there is one, conntrack runs in the
  // namespace (conntrack_enabler.h). After restore() every adopted key counts, since its IR is unknown.
  std::set<std::string> ct_users_;
  Result<void> track_conntrack_user(const std::string& key, bool uses);
  Result<InstallReport> install_impl(const std::string& key, const ir::Table& table, const Placement& placement,
                                     bool keep_unchanged);

  std::string dir_of(const std::string& key) const;
};

}  // namespace nfjit::runtime
