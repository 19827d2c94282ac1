// The xtables front-end's TableSink on top of the runtime Engine: a lowered (family, table) becomes one
// Engine key ("xt4-filter", "xt6-mangle", ...) whose base chains run at their netfilter hooks.
#pragma once

#include <functional>
#include <string>

#include "frontend/xtables/table_sink.h"
#include "runtime/engine.h"

namespace nfjit::daemon {

class EngineTableSink : public xt::TableSink {
 public:
  // `on_install` runs after every successful install or remove (the daemon re-reads the log rings).
  EngineTableSink(runtime::Engine& engine, std::function<void()> on_change = {});

  // Engine::update: attachment points whose programs' IR did not change keep their programs and counters.
  Result<xt::InstallCounters> install(ir::Family family, const std::string& table, const ir::Table& lowered,
                                      const std::vector<codegen::CounterSlot>& old_slots,
                                      const std::vector<codegen::CounterSlot>& new_slots) override;
  Result<void> remove(ir::Family family, const std::string& table) override;
  Result<std::vector<codegen::CounterValue>> counters(ir::Family family, const std::string& table,
                                                      const std::vector<codegen::CounterSlot>& slots) override;

  bool running(ir::Family family, const std::string& table, const std::vector<codegen::CounterSlot>& slots) override;

  static std::string key_for(ir::Family family, const std::string& table);

 private:
  runtime::Engine& engine_;
  std::function<void()> on_change_;
};

}  // namespace nfjit::daemon
