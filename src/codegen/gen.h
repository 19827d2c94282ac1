// State shared by the passes that generate one program: the emitter, the hook's ops, the table being
// compiled and the Program being filled. Internal to codegen.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "codegen/emitter.h"
#include "codegen/kernel_btf.h"
#include "codegen/packet_desc.h"
#include "codegen/program.h"
#include "ir/ir.h"

namespace nfjit::codegen {

class HookOps;

// Internal verdicts returned by chain subprograms in r0 (the main program maps them to the hook's codes).
// kVerdictReturn only passes from a rule block to its own chain's frame (compile.cc): "the chain returns".
enum Verdict : int32_t { kVerdictContinue = 0, kVerdictAccept = 1, kVerdictDrop = 2, kVerdictReturn = 3 };

struct Gen {
  Emitter e;
  const ir::Table& table;
  const AttachPoint& at;
  const KernelBtf& btf;
  const HookOps& hook;
  Program& prog;
  uint8_t pf = 0;              // netfilter: 4 or 6 (packet family known at compile time); else 0 = runtime
  bool need_l4 = false;        // some rule reads ports/flags/icmp
  bool need_mac = false;
  bool need_ct = false;        // some rule reads ct state / ct mark
  std::vector<uint8_t> short_l4;  // distinct Hotdrop::short_l4 lengths: bit kNoShortFirst + index
  int counters_map = -1, limits_map = -1, log_map = -1;
  std::map<std::string, int> set_maps;     // set name -> map index
  int xt_limits_map = -1;  // xt_limit (LimitClock::Jiffies) state; slots are table-wide (match_limit.cc)
  Label exit_accept;           // main frame: return the hook's accept code (packet not for this table)

  Gen(const ir::Table& t, const AttachPoint& a, const KernelBtf& b, const HookOps& h, Program& p)
      : table(t), at(a), btf(b), hook(h), prog(p) {}

  // Emits a kfunc call, recording its name for the disassembler.
  Result<void> call_kfunc(const std::string& name);
  int add_map(MapSpec spec);
};

// "cannot lower at <hook>: rule '<origin>': <why>" with EOPNOTSUPP.
Error unsupported(const Gen& g, const ir::Rule& r, const std::string& why);
std::string where(const AttachPoint& at);

}  // namespace nfjit::codegen
