// Wall-clock time of the consecutive stages of one call, for the daemon's debug log ("validate 1.20 ms,
// lower 3.10 ms, ..."). Cheap enough to run always: one steady_clock read per stage.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace nfjit::xt {

class StageTimes {
 public:
  StageTimes() : last_(std::chrono::steady_clock::now()) {}
  // Ends the current stage under `name` (the time since the previous mark or construction).
  void mark(const char* name) {
    auto now = std::chrono::steady_clock::now();
    stages_.emplace_back(name, std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }
  // Adds a stage measured elsewhere (e.g. inside the sink) without moving the clock.
  void add(std::string name, double ms) { stages_.emplace_back(std::move(name), ms); }
  std::string text() const {
    std::string s;
    char buf[64];
    for (const auto& [n, ms] : stages_) {
      std::snprintf(buf, sizeof buf, "%.2f ms", ms);
      s += (s.empty() ? "" : ", ") + n + " " + buf;
    }
    return s;
  }

 private:
  std::chrono::steady_clock::time_point last_;
  std::vector<std::pair<std::string, double>> stages_;
};

}  // namespace nfjit::xt
