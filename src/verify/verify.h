// `nfjit verify FILE`: the evidence that nfjit enforces a ruleset exactly as the kernel does. The dump
// is restored into the kernel's own ip_tables of scratch namespace K and, through the unmodified
// iptables-legacy-restore and the preload shim, into a private nfjitd in scratch namespace N; the same
// packets (corpus.h) go through both; every difference in a packet's fate or in a rule's counters is
// reported with the rule as written and the packet.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nfjit::verify {

struct Options {
  std::string file;
  uint64_t seed = 1;
  size_t max_packets = 1000;
  int family = 0;            // 0: guess from the file (4 when nothing says 6), else 4 / 6
  std::string nfjitd;        // path of nfjitd
  std::string preload_lib;   // path of libnfjit-preload.so
  // Extra environment for nfjitd only (the test hook NFJIT_DEBUG_MISLOWER travels here).
  std::vector<std::string> daemon_env;
  std::function<void(size_t done, size_t total)> progress;  // may be empty
};

struct Divergence {
  std::string kind;      // "verdict" or "counter"
  std::string rule;      // the rule as written in the file (with its line), or the chain's policy
  std::string packet;    // one-line description
  std::string hex;       // the frame as injected (Ethernet header included)
  std::string kernel, nfjit;  // both outcomes
  std::string why;       // what the packet was made for
  std::string counters;  // verdict divergences: the counters that differ because of this packet
};

struct NotLowered {
  std::string rule;
  std::string reason;
};

struct Report {
  std::string file;
  int family = 4;
  uint64_t seed = 0;
  size_t rules = 0;           // rules in the dump
  size_t rules_compared = 0;  // rules of tables nfjit runs as BPF
  size_t rules_hit = 0;       // rules some packet matched (kernel counters)
  size_t packets = 0;         // frames sent (to each side)
  std::vector<std::string> placement;   // "filter: BPF", "nat: kernel (why)"
  std::vector<NotLowered> not_lowered;  // rules nfjit passes to the kernel
  std::vector<NotLowered> not_driven;   // rules no packet was aimed at, and why
  std::vector<Divergence> divergences;
  size_t divergences_total = 0;         // before the list was capped
  double seconds = 0;
  bool clean() const { return divergences_total == 0; }
};

// Throws std::runtime_error on setup failures (no root, tools missing, the dump refused by the kernel)
// and Interrupted on Ctrl-C; the scratch world is gone either way.
Report run_verify(const Options& opt);

std::string report_text(const Report& r);
std::string report_json(const Report& r);

}  // namespace nfjit::verify
