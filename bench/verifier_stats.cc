// What loading a generated program costs: for linear chains of N rules (bench_tables.h) at each hook,
// compile time, load time (verification included, no verifier log), and the verifier's own statistics
// from a second load with log_level BPF_LOG_STATS (4): processed instructions, states, peak states,
// verification time. Runs inside a namespace it creates (nothing is attached anywhere).
//
//   ./build/bench/verifier_stats [N ...]        (default: 100 1000 10000)
//   NFJIT_RULES_PER_BLOCK=64 ./build/bench/verifier_stats 10000   (CompileOptions::rules_per_block)
#include <arpa/inet.h>  // before linux/netfilter.h: glibc and linux/in.h must not both define in_addr
#include <bpf/bpf.h>
#include <linux/netfilter.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <vector>

#include "bench_tables.h"
#include "codegen/compile.h"
#include "codegen/kernel_btf.h"
#include "netns.h"
#include "runtime/loader.h"

namespace {

using namespace nfjit;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// "processed 123 insns (limit 1000000) max_states_per_insn 1 total_states 10 peak_states 10 mark_read 3"
std::string stats_line(const std::string& log) {
  std::smatch m;
  static const std::regex re("processed [^\n]*");
  std::string s = std::regex_search(log, m, re) ? m.str() : "(no stats)";
  static const std::regex t("verification time [0-9]+ usec");
  if (std::regex_search(log, m, t)) s += ", " + m.str();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> ns_list;
  for (int i = 1; i < argc; ++i) ns_list.push_back(std::atoi(argv[i]));
  if (ns_list.empty()) ns_list = {100, 1000, 10000};

  auto btf = codegen::KernelBtf::load();
  if (!btf) {
    std::fprintf(stderr, "kernel BTF: %s\n", btf.error().message.c_str());
    return 1;
  }
  test::Netns ns("vstats");
  test::EnterNetns inside(ns);

  struct Hook {
    const char* name;
    codegen::AttachKind kind;
  };
  const Hook hooks[] = {{"netfilter", codegen::AttachKind::Netfilter},
                        {"xdp", codegen::AttachKind::Xdp},
                        {"tc", codegen::AttachKind::TcIngress}};
  std::printf("%-9s %6s %7s %7s %10s %10s  %s\n", "hook", "rules", "matches", "insns", "compile_ms", "load_ms",
              "verifier (log_level 4)");
  for (int n : ns_list)
    for (int matches : {2, 3})
      for (const auto& h : hooks) {
        codegen::AttachPoint at;
        at.kind = h.kind;
        at.pf = NFPROTO_IPV4;
        at.hook = ir::Hook::Input;
        at.ifname = "lo";
        at.ifindex = 1;
        auto t0 = std::chrono::steady_clock::now();
        codegen::CompileOptions co;
        if (const char* b = std::getenv("NFJIT_RULES_PER_BLOCK")) co.rules_per_block = static_cast<uint32_t>(std::atoi(b));
        auto prog = codegen::compile(bench::make_table(n, false, matches), "INPUT", at, *btf, co);
        double compile_ms = ms_since(t0);
        if (!prog) {
          std::printf("%-9s %6d %7d compile failed: %s\n", h.name, n, matches, prog.error().message.c_str());
          continue;
        }
        t0 = std::chrono::steady_clock::now();
        auto lp = runtime::load_program(*prog);
        double load_ms = ms_since(t0);
        if (!lp) {
          std::string msg = lp.error().message;
          std::printf("%-9s %6d %7d %7zu %10.1f %10.1f  refused: %s\n", h.name, n, matches, prog->insns.size(),
                      compile_ms, load_ms, msg.substr(msg.rfind('\n', msg.size() - 2) + 1).c_str());
          continue;
        }
        runtime::LoadOptions lo;
        lo.log_level = 4;  // BPF_LOG_STATS
        auto stats = runtime::load_program(*prog, lo);
        std::printf("%-9s %6d %7d %7zu %10.1f %10.1f  %s\n", h.name, n, matches, prog->insns.size(), compile_ms,
                    load_ms, stats ? stats_line(stats->verifier_log).c_str() : stats.error().message.c_str());
        std::fflush(stdout);
      }
  return 0;
}
