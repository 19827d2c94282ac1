// What nfjitd does with each nf_tables table a batch changed, before the batch commits (NftServer's
// commit gate): a table that lowers to the IR runs as BPF (runtime Engine, key "nft-<family>-<table>");
// one that does not is put, unchanged, into the kernel's own nf_tables of the daemon's namespace
// (KernelNftables) — enforced one way or the other, never neither. With --strict a table that does not
// lower fails the batch instead (EOPNOTSUPP, extended ack naming the rule and the reason).
//
// Moves keep filtering continuous: to BPF = install BPF, then delete the kernel copy; to the kernel =
// add the kernel copy, then remove the BPF; a kernel-held table changes in one kernel batch (DELTABLE +
// re-add). Counters carry over every move. An element added to / deleted from a set of a BPF table is a
// map update (Engine::update_set), not a reload. If anything cannot be put in force the batch fails with
// that error and the tables it already moved are put back.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/netlink_kernel.h"
#include "daemon/reject_status.h"
#include "daemon/request_handler.h"
#include "frontend/nftables/lower/lower.h"
#include "frontend/nftables/nft_server.h"
#include "runtime/engine.h"

namespace nfjit::daemon {

// `cache`: the table's previous lowering, reused where it still applies (nft::LowerCache).
using NftLowerFn = std::function<Result<nft::LoweredTable>(const nft::Store&, uint8_t family, const std::string& table,
                                                           std::vector<nft::Refusal>* refusals, nft::LowerCache* cache)>;

class NftRuleset {
 public:
  // `lower` may be empty: then every table goes to the kernel (or is refused under `strict`).
  NftRuleset(nft::NftServer& server, runtime::Engine& engine, NftLowerFn lower, KernelNftables& kernel,
             bool strict);
  // The "nf_tables" part of `nfjit status`: each table, BPF (attachment points) or kernel (why).
  std::string status() const;
  static std::string key_for(uint8_t family, const std::string& table);
  // Called after each batch that may have installed or removed programs (the LOG/REJECT ring pump
  // re-reads the engine's rings).
  void set_on_change(std::function<void()> f) { on_change_ = std::move(f); }

 private:
  using TableId = std::pair<uint8_t, std::string>;
  using ExprKey = std::tuple<std::string, uint64_t, uint32_t>;  // chain, rule handle, expression index
  using Snapshot = std::map<ExprKey, nft::CounterValue>;
  enum class Where { kBpf, kKernel };
  struct TableState {
    Where where = Where::kKernel;
    std::string why;             // for status
    nft::LoweredTable lowered;   // kBpf
    Snapshot base;               // kBpf: counts of earlier programs, added to the live ones
  };

  std::optional<nft::CommitRefusal> gate(const nft::Store& before, const nft::Store& after,
                                         const std::vector<nft::BatchMsg>& msgs);
  // Puts table `id` of `after` in force (or takes it away when `after` has none).
  std::optional<nft::CommitRefusal> apply(const nft::Store& before, const nft::Store& after, const TableId& id,
                                          const std::vector<nft::BatchMsg>& msgs);
  // Only element changes of plain sets: map updates. False: not applicable or failed (reinstall instead).
  bool update_sets_live(const nft::Store& before, const nft::Store& after, const TableId& id,
                        const std::vector<nft::BatchMsg>& msgs);
  Snapshot snapshot(const nft::Store& s, const TableId& id);
  // Engine::install, with a gap-free handover when the table's kernel copy holds the hook priorities.
  Result<runtime::CounterTotals> install_bpf(const TableId& id, const nft::TableObj& t, const ir::Table& table,
                                             bool had_kernel, const Snapshot& counts);
  std::optional<nft::CounterValue> counter(const nft::Store& s, const nft::CounterKey& k, bool fresh) const;

  nft::NftServer& server_;
  runtime::Engine& engine_;
  NftLowerFn lower_;
  KernelNftables& kernel_;
  bool strict_;
  std::function<void()> on_change_;
  void forget_counter_reads() const;

  std::map<TableId, TableState> tables_;
  std::map<TableId, nft::LowerCache> lower_cache_;
  // One read of every counter per listing (and per snapshot), not one per counter expression: a
  // listing of N rules asks for N counters.
  mutable std::map<TableId, KernelCounters> kernel_cache_;            // one kernel dump
  mutable std::map<TableId, runtime::CounterTotals> bpf_cache_;       // one read of the BPF maps
  mutable std::map<TableId, std::map<std::pair<std::string, uint64_t>, size_t>> position_cache_;
};

// `nfjit status` = the inner handler's text + the nf_tables part; everything else goes to the inner one.
class WithNftStatus : public RequestHandler {
 public:
  WithNftStatus(RequestHandler& inner, const NftRuleset& nft) : inner_(inner), nft_(nft) {}
  SockoptReply sockopt(const SockoptRequest& req) override { return inner_.sockopt(req); }
  std::string status() override { return inner_.status() + nft_.status() + RejectStatus::instance().mode_line(); }
  std::string table_names(int family) override { return inner_.table_names(family); }

 private:
  RequestHandler& inner_;
  const NftRuleset& nft_;
};

}  // namespace nfjit::daemon
