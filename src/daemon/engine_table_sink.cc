#include "daemon/engine_table_sink.h"

#include <set>

namespace nfjit::daemon {

EngineTableSink::EngineTableSink(runtime::Engine& engine, std::function<void()> on_change)
    : engine_(engine), on_change_(std::move(on_change)) {}

std::string EngineTableSink::key_for(ir::Family family, const std::string& table) {
  return std::string(family == ir::Family::Ipv6 ? "xt6-" : "xt4-") + table;
}


Result<xt::InstallCounters> EngineTableSink::install(ir::Family family, const std::string& table,
                                                     const ir::Table& lowered,
                                                     const std::vector<codegen::CounterSlot>& old_slots,
                                                     const std::vector<codegen::CounterSlot>& new_slots) {
  auto r = engine_.update(key_for(family, table), lowered);
  if (!r) return r.error();
  if (on_change_) on_change_();
  xt::InstallCounters out;
  out.old = runtime::sum_for_slots(r->old, old_slots);
  out.start = runtime::sum_for_slots(r->carried, new_slots);
  out.timings = r->timings + " (loaded";
  for (const auto& p : r->loaded) out.timings += " " + p;
  out.timings += "; kept";
  for (const auto& p : r->kept) out.timings += " " + p;
  out.timings += ")";
  return out;
}

Result<void> EngineTableSink::remove(ir::Family family, const std::string& table) {
  auto r = engine_.remove(key_for(family, table));
  if (on_change_) on_change_();
  return r;
}

bool EngineTableSink::running(ir::Family family, const std::string& table,
                              const std::vector<codegen::CounterSlot>& slots) {
  // The pinned program's meta lists the slots it counts: the same set as the saved table's lowering
  // means it was compiled from that table (the state file is written right after each install).
  auto totals = engine_.counters(key_for(family, table));
  if (!totals) return false;
  std::set<runtime::CounterKey> want;
  for (const auto& s : slots) want.insert({s.chain, s.rule});
  std::set<runtime::CounterKey> have;
  for (const auto& [k, v] : *totals) have.insert(k);
  return want == have;
}

Result<std::vector<codegen::CounterValue>> EngineTableSink::counters(
    ir::Family family, const std::string& table, const std::vector<codegen::CounterSlot>& slots) {
  auto programs = engine_.program_counters(key_for(family, table));
  if (!programs) return programs.error();
  return runtime::sum_for_slots(*programs, slots);
}

}  // namespace nfjit::daemon
