// What the code generator hands the runtime: raw instructions plus the maps they refer to, for one
// attachment point. The runtime creates the maps, patches their fds into the instructions and loads.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ir/ir.h"

namespace nfjit::codegen {

// Where a program runs. One program per attachment point.
enum class AttachKind : uint8_t { Xdp, TcIngress, TcEgress, Netfilter };

struct AttachPoint {
  AttachKind kind = AttachKind::Netfilter;
  // Netfilter: the family of packets (NFPROTO_IPV4 = 2 or NFPROTO_IPV6 = 10), hook and priority.
  uint8_t pf = 2;
  ir::Hook hook = ir::Hook::Input;
  int32_t priority = 0;
  // Xdp / Tc: the interface the program is attached to (interface matches are decided against it).
  std::string ifname;
  uint32_t ifindex = 0;
};

const char* to_string(AttachKind);

// A map the program needs. Instructions refer to it with BPF_LD_IMM64 src_reg=BPF_PSEUDO_MAP_FD and
// imm = index into Program::maps; the loader replaces the index with the fd it created.
struct MapSpec {
  std::string name;            // <= 15 chars, shows up in bpftool
  uint32_t type = BPF_MAP_TYPE_ARRAY;
  uint32_t key_size = 4;
  uint32_t value_size = 0;
  uint32_t max_entries = 1;
  uint32_t flags = 0;
  // Initial contents: (key, value) pairs written after creation, before the program is loaded.
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> initial;
  // Which role the map plays, so the runtime and daemon can find it again (for counters, logs, sets).
  enum class Role : uint8_t { Counters, Limits, LogRing, Set, Other } role = Role::Other;
  std::string set_name;        // Role::Set: the ir::Set it holds
  // Non-empty: every program of one table installed together uses one map of this name (the runtime
  // creates it for the first and reuses it for the others). Rate-limit state is per rule in the kernel,
  // whichever hook or family evaluates the rule; a user chain reached from INPUT and FORWARD, or an inet
  // chain compiled for IPv4 and IPv6, must not get one bucket per program.
  std::string shared;
};

// One slot of the per-CPU counter array: {u64 packets, u64 bytes} per CPU, summed on read.
struct CounterSlot {
  std::string chain;
  int32_t rule = -1;  // index in the chain's rules; -1 = the chain's policy counter
};

// Value layout of the counters map, per CPU.
struct CounterValue {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct Program {
  std::string name;                   // <= 15 chars
  uint32_t prog_type = BPF_PROG_TYPE_XDP;
  uint32_t expected_attach_type = 0;
  AttachPoint attach;
  std::vector<struct bpf_insn> insns;
  std::vector<MapSpec> maps;
  std::vector<CounterSlot> counters;  // index = key in the Counters map
  int counters_map = -1;              // index into maps
  int log_map = -1;
  std::vector<ir::LogAction> logs;    // index = log id written in each ring record

  // Debugging aids (filled by codegen::compile): kfunc BTF ids by name, named instruction positions
  // (chain entries, rules), and the disassembly when CompileOptions::disasm is set.
  struct KfuncRef {
    uint32_t btf_id = 0;
    std::string name;
  };
  struct Symbol {
    uint32_t insn = 0;
    std::string name;
  };
  std::vector<KfuncRef> kfuncs;
  std::vector<Symbol> symbols;
  std::string disassembly;
};

}  // namespace nfjit::codegen
