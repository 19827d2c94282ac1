// ns/packet of generated programs through BPF_PROG_TEST_RUN, for linear chains of N non-matching rules
// (worst case: every rule is evaluated, then the policy) and with the first rule matching (best case),
// at each hook flavour. Also reports how long compile + load (verification) take at each N, and the
// instructions the verifier processed. Rulesets: bench_tables.h. See bench/README.md.
//
//   ./build/bench/rules_bench --benchmark_counters_tabular=true
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <linux/netfilter.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <map>
#include <memory>

#include "bench_tables.h"
#include "codegen/compile.h"
#include "codegen/kernel_btf.h"
#include "netns.h"
#include "packet.h"
#include "runtime/loader.h"

namespace {

using namespace nfjit;

struct Flavour {
  const char* name;
  codegen::AttachKind kind;
};

const Flavour kFlavours[] = {
    {"netfilter", codegen::AttachKind::Netfilter},
    {"xdp", codegen::AttachKind::Xdp},
    {"tc", codegen::AttachKind::TcIngress},
};

const codegen::KernelBtf& btf() {
  static auto b = codegen::KernelBtf::load();
  if (!b.ok()) {
    std::fprintf(stderr, "cannot load kernel BTF: %s\n", b.error().message.c_str());
    std::exit(1);
  }
  return b.value();
}

void BM_Packet(benchmark::State& state) {
  const Flavour& fl = kFlavours[state.range(0)];
  const int n = static_cast<int>(state.range(1));
  const bool best = state.range(2) != 0;
  const bool classify = state.range(3) != 0;
  const int tuples = state.range(4) ? static_cast<int>(state.range(4)) : 1;

  // Netfilter test runs use the current namespace's loopback device: stay out of the root namespace.
  test::Netns ns("bench");
  test::EnterNetns inside(ns);

  codegen::AttachPoint at;
  at.kind = fl.kind;
  at.pf = NFPROTO_IPV4;
  at.hook = ir::Hook::Input;
  at.ifname = "lo";
  at.ifindex = 1;

  auto t0 = std::chrono::steady_clock::now();
  codegen::CompileOptions opt;
  if (!classify) opt.classify.min_rules = 0;  // every rule as linear code
  auto prog = codegen::compile(bench::make_table(n, best, 3, tuples), "INPUT", at, btf(), opt);
  if (!prog.ok()) {
    state.SkipWithError(("compile: " + prog.error().message).c_str());
    return;
  }
  auto t1 = std::chrono::steady_clock::now();
  auto loaded = runtime::load_program(prog.value());
  if (!loaded.ok()) {
    state.SkipWithError(("load: " + loaded.error().message.substr(0, 400)).c_str());
    return;
  }
  auto t2 = std::chrono::steady_clock::now();

  test::PacketSpec spec;  // UDP 198.18.0.2:40000 -> 198.18.0.1:9
  std::vector<uint8_t> data = test::build_frame(spec, {2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2});
  std::vector<uint8_t> ctx;
  if (fl.kind == codegen::AttachKind::Netfilter) {
    ctx.assign(48, 0);  // struct nf_hook_state, as prog_harness.h: only hook and pf may be set
    ctx[0] = NF_INET_LOCAL_IN;
    ctx[1] = NFPROTO_IPV4;
  }
  constexpr uint32_t kRepeat = 20000;
  double ns_total = 0;
  uint64_t runs = 0;
  for (auto _ : state) {
    auto r = runtime::test_run(loaded->prog.get(), data, ctx, kRepeat);
    if (!r.ok()) {
      state.SkipWithError(("test_run: " + r.error().message).c_str());
      return;
    }
    ns_total += r->duration_ns;
    ++runs;
  }
  state.counters["ns_per_pkt"] = runs ? ns_total / runs : 0;
  state.counters["insns"] = static_cast<double>(prog->insns.size());
  bpf_prog_info info{};
  uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(loaded->prog.get(), &info, &info_len) == 0)
    state.counters["verified_insns"] = static_cast<double>(info.verified_insns);
  state.counters["compile_ms"] = std::chrono::duration<double, std::milli>(t1 - t0).count();
  state.counters["load_ms"] = std::chrono::duration<double, std::milli>(t2 - t1).count();
  size_t entries = 0;
  for (const auto& m : prog->maps)
    if (m.name.rfind("nfjit_cls_", 0) == 0) entries += m.initial.size();
  state.counters["cls_entries"] = static_cast<double>(entries);
  state.SetLabel(std::string(fl.name) + (best ? " first-rule-matches" : " no-rule-matches") +
                 (classify ? " classifier" : " linear"));
}

// Every hook, N, best/worst case, with the classifier (as shipped) and with linear code only. Linear
// code at 100,000 rules exceeds what the verifier accepts (reported as an error row).
void Args(benchmark::internal::Benchmark* b) {
  for (int f = 0; f < 3; ++f)
    for (int n : {10, 100, 1000, 10000, 100000})
      for (int best : {0, 1})
        for (int cls : {1, 0}) b->Args({f, n, best, cls, 1});
  b->ArgNames({"hook", "rules", "best", "cls", "tuples"});
  b->Iterations(5);
  b->Unit(benchmark::kMillisecond);
}

// The cost of one tuple: 10,000 rules spread over T source prefix lengths (T tuples, one lookup each),
// at netfilter, no rule matching. Sets ClassifyOptions::rules_per_tuple against the linear per-rule cost.
void TupleArgs(benchmark::internal::Benchmark* b) {
  for (int t : {1, 2, 4, 8, 16}) b->Args({0, 10000, 0, 1, t});
  b->ArgNames({"hook", "rules", "best", "cls", "tuples"});
  b->Iterations(5);
  b->Unit(benchmark::kMillisecond);
}

// Compile time alone (IR -> instructions + map contents), the part of a rule change nfjitd spends in
// codegen before the kernel loads the program.
void BM_Compile(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const ir::Table t = bench::make_table(n, false);
  codegen::AttachPoint at;
  at.kind = codegen::AttachKind::Netfilter;
  at.pf = NFPROTO_IPV4;
  at.hook = ir::Hook::Input;
  for (auto _ : state) {
    auto prog = codegen::compile(t, "INPUT", at, btf());
    if (!prog.ok()) state.SkipWithError(prog.error().message.c_str());
    benchmark::DoNotOptimize(prog);
  }
}
BENCHMARK(BM_Compile)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

BENCHMARK(BM_Packet)->Apply(Args);
BENCHMARK(BM_Packet)->Name("BM_Tuples")->Apply(TupleArgs);

}  // namespace

BENCHMARK_MAIN();
