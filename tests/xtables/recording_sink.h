// Test double for TableSink: records what the service installs and reports counters the test sets.
#pragma once

#include <map>

#include "frontend/xtables/table_sink.h"

namespace nfjit::xt::test {

class RecordingSink : public TableSink {
 public:
  Result<InstallCounters> install(ir::Family f, const std::string& t, const ir::Table& lowered,
                                  const std::vector<codegen::CounterSlot>& old_slots,
                                  const std::vector<codegen::CounterSlot>& new_slots) override {
    if (fail_next) {
      fail_next = false;
      return make_error(EOPNOTSUPP, "sink refused");
    }
    InstallCounters out;
    auto old = counters(f, t, old_slots);  // read "after the swap": the old program's final values
    out.old = *old;
    installed[{f, t}] = lowered;
    counters_[{f, t}].clear();  // a new program counts from zero
    out.start.assign(new_slots.size(), codegen::CounterValue{});
    ++installs;
    return out;
  }
  Result<void> remove(ir::Family f, const std::string& t) override {
    installed.erase({f, t});
    ++removes;
    return {};
  }
  Result<std::vector<codegen::CounterValue>> counters(ir::Family f, const std::string& t,
                                                      const std::vector<codegen::CounterSlot>& slots) override {
    std::vector<codegen::CounterValue> out;
    auto& m = counters_[{f, t}];
    for (const auto& s : slots) {
      auto it = m.find({s.chain, s.rule});
      out.push_back(it == m.end() ? codegen::CounterValue{} : it->second);
    }
    return out;
  }
  // What the "program" has counted for (chain, rule).
  void set_counter(ir::Family f, const std::string& t, const std::string& chain, int rule, uint64_t p, uint64_t b) {
    counters_[{f, t}][{chain, rule}] = {p, b};
  }

  std::map<std::pair<ir::Family, std::string>, ir::Table> installed;
  int installs = 0, removes = 0;
  bool fail_next = false;

 private:
  std::map<std::pair<ir::Family, std::string>, std::map<std::pair<std::string, int>, codegen::CounterValue>> counters_;
};

}  // namespace nfjit::xt::test
