// Shared helpers for program tests: IR builders, compile+load through the runtime loader, BPF_PROG_TEST_RUN
// of crafted packets per hook flavour, counters read back from the counters map.
#pragma once

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "codegen/compile.h"
#include "ir/ir.h"
#include "netns.h"
#include "packet.h"
#include "privileged.h"
#include "runtime/loader.h"

namespace nfjit::test {

using namespace nfjit::ir;
using codegen::AttachKind;
using codegen::AttachPoint;

inline Match m_int(Field f, uint32_t lo, uint32_t hi, bool invert = false, uint32_t mask = 0xffffffffu) {
  IntMatch im;
  im.field = f;
  im.mask = mask;
  im.ranges = {{lo, hi}};
  return Match{im, invert};
}
inline Match m_eq(Field f, uint32_t v, bool invert = false) { return m_int(f, v, v, invert); }
inline Match m_anybit(Field f, uint32_t mask, bool invert = false) {
  IntMatch im;
  im.field = f;
  im.op = IntOp::AnyBit;
  im.mask = mask;
  return Match{im, invert};
}
inline Addr addr(const std::string& s) {
  Addr a{};
  if (s.find(':') != std::string::npos) inet_pton(AF_INET6, s.c_str(), a.data());
  else inet_pton(AF_INET, s.c_str(), a.data());
  return a;
}
inline Match m_addr(Field f, const std::string& a, int plen, bool invert = false) {
  AddrMatch am;
  am.field = f;
  am.len = a.find(':') != std::string::npos ? 16 : 4;
  am.value = addr(a);
  for (int i = 0; i < plen; ++i) am.mask[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  return Match{am, invert};
}
inline Match m_range(Field f, const std::string& lo, const std::string& hi, bool invert = false) {
  AddrRangeMatch am;
  am.field = f;
  am.len = lo.find(':') != std::string::npos ? 16 : 4;
  am.lo = addr(lo);
  am.hi = addr(hi);
  return Match{am, invert};
}
inline Match m_iface(const std::string& name, bool out = false, bool wildcard = false, bool invert = false) {
  return Match{IfaceMatch{out, name, wildcard}, invert};
}
inline Rule rule(std::string origin, std::vector<Match> ms, ActionKind k, std::string target = "") {
  Rule r;
  r.origin = std::move(origin);
  r.matches = std::move(ms);
  r.action.kind = k;
  r.action.target = std::move(target);
  return r;
}
inline Chain base_chain(const std::string& name, std::vector<Rule> rules, Policy pol = Policy::Accept,
                        Hook hook = Hook::Input) {
  Chain c;
  c.name = name;
  c.base = BaseChain{hook, 0, pol, {}};
  c.rules = std::move(rules);
  return c;
}
inline Chain user_chain(const std::string& name, std::vector<Rule> rules) {
  Chain c;
  c.name = name;
  c.rules = std::move(rules);
  return c;
}

inline AttachPoint nf_at(int family) {
  AttachPoint at;
  at.kind = AttachKind::Netfilter;
  at.pf = family == 6 ? 10 : 2;
  at.hook = Hook::Input;
  return at;
}
inline AttachPoint dev_at(AttachKind k, const std::string& ifname = "veth0", uint32_t ifindex = 7) {
  AttachPoint at;
  at.kind = k;
  at.ifname = ifname;
  at.ifindex = ifindex;
  at.hook = Hook::Ingress;
  return at;
}

inline const codegen::KernelBtf& kernel_btf() {
  static auto btf = codegen::KernelBtf::load();
  if (!btf) throw std::runtime_error(btf.error().message);
  return *btf;
}

// A compiled and loaded program plus what a test needs to drive it.
struct Loaded {
  codegen::Program prog;
  runtime::LoadedProgram lp;
  AttachPoint at;

  // The hook's own return codes.
  uint32_t accept() const {
    switch (at.kind) {
      case AttachKind::Netfilter: return 1;
      case AttachKind::Xdp: return 2;  // XDP_PASS
      default: return static_cast<uint32_t>(-1);  // TCX_NEXT
    }
  }
  uint32_t drop() const {
    switch (at.kind) {
      case AttachKind::Netfilter: return 0;
      case AttachKind::Xdp: return 1;  // XDP_DROP
      default: return 2;               // TCX_DROP
    }
  }

  uint32_t run(const PacketSpec& s, uint32_t repeat = 1, uint32_t* ns = nullptr) const {
    auto frame = build_frame(s, {0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2});
    return run_frame(frame, s.family, repeat, ns);
  }
  uint32_t run_frame(const std::vector<uint8_t>& frame, int family, uint32_t repeat = 1, uint32_t* ns = nullptr) const {
    std::vector<uint8_t> ctx;
    if (at.kind == AttachKind::Netfilter) {
      ctx.assign(48, 0);  // struct nf_hook_state: only hook and pf may be set
      ctx[0] = 1;         // NF_INET_LOCAL_IN
      ctx[1] = family == 6 ? 10 : 2;
    }
    auto r = runtime::test_run(lp.prog.get(), frame, ctx, repeat);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return 0xdeadbeef;
    if (ns) *ns = r->duration_ns;
    return r->retval;
  }

  // {packets, bytes} summed over CPUs for the counter slot of (chain, rule).
  std::pair<uint64_t, uint64_t> counter(const std::string& chain, int rule) const {
    for (size_t slot = 0; slot < prog.counters.size(); ++slot) {
      if (prog.counters[slot].chain != chain || prog.counters[slot].rule != rule) continue;
      int ncpu = libbpf_num_possible_cpus();
      std::vector<codegen::CounterValue> v(ncpu);
      uint32_t key = static_cast<uint32_t>(slot);
      EXPECT_EQ(bpf_map_lookup_elem(lp.maps[prog.counters_map].get(), &key, v.data()), 0);
      uint64_t p = 0, b = 0;
      for (auto& c : v) p += c.packets, b += c.bytes;
      return {p, b};
    }
    ADD_FAILURE() << "no counter slot for " << chain << " rule " << rule;
    return {0, 0};
  }
};

// Compile options with a disassembly (printed when a load fails); `rules_per_block` as in CompileOptions.
inline codegen::CompileOptions opts(uint32_t rules_per_block = codegen::CompileOptions{}.rules_per_block) {
  return {.disasm = true, .rules_per_block = rules_per_block};
}

inline std::optional<Loaded> load(const Table& t, const std::string& chain, const AttachPoint& at,
                                  std::string* err = nullptr, const codegen::CompileOptions& o = opts()) {
  auto p = codegen::compile(t, chain, at, kernel_btf(), o);
  if (!p) {
    if (err) *err = p.error().message;
    else ADD_FAILURE() << "compile: " << p.error().message;
    return std::nullopt;
  }
  auto lp = runtime::load_program(*p);
  if (!lp) {
    ADD_FAILURE() << "load: " << lp.error().message << "\n" << p->disassembly;
    return std::nullopt;
  }
  return Loaded{std::move(*p), std::move(*lp), at};
}

inline Table table_of(Family f, std::vector<Chain> chains, std::vector<Set> sets = {}) {
  Table t;
  t.name = "filter";
  t.family = f;
  t.chains = std::move(chains);
  t.sets = std::move(sets);
  return t;
}

// The hook flavours every match test runs on.
struct Flavour {
  const char* name;
  AttachPoint at;
  int family;
};
inline std::vector<Flavour> flavours() {
  return {{"nf4", nf_at(4), 4},
          {"nf6", nf_at(6), 6},
          {"xdp4", dev_at(AttachKind::Xdp), 4},
          {"xdp6", dev_at(AttachKind::Xdp), 6},
          {"tc4", dev_at(AttachKind::TcIngress), 4},
          {"tc6", dev_at(AttachKind::TcIngress), 6}};
}

inline PacketSpec pkt(int family, uint8_t proto = 17) {
  PacketSpec s;
  s.family = family;
  s.proto = proto;
  if (family == 6) {
    s.src = "2001:db8::2";
    s.dst = "2001:db8::1";
  }
  if (family == 6 && proto == 1) s.proto = 58;
  return s;
}

inline uint64_t l3_len(const PacketSpec& s) { return build_l3(s).size(); }

}  // namespace nfjit::test
