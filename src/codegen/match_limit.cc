// Rate limit (xt_limit / nft limit) as a token bucket shared by all CPUs.
//
// State per rule: one u64 V in the Limits array, the virtual time at which the bucket was empty, so
// tokens(now) = min(cap, now - V) in nanoseconds of credit. A packet costs `cost` ns (per_ns / rate;
// bytes mode: per_ns * L3 length / rate), cap = cost * burst (bytes: per_ns * burst / rate), exactly
// nft_limit's arithmetic. Taking a token is V' = max(V, now - cap) + cost, published with a 64-bit
// BPF_CMPXCHG; a lost race re-reads V and retries (kLimitAttempts tries, unrolled). V starts far in the
// past so the bucket starts full, as both kernels do. Over the limit, V is unchanged (the kernel's
// update there does not change tokens(now) either).
#include <cstring>

#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

inline constexpr int kLimitAttempts = 4;
inline constexpr int64_t kLimitInitial = INT64_MIN / 4;

Result<void> emit_limit_match(Gen& g, const ir::LimitMatch& m, const ir::Rule& r, Label if_false) {
  if (m.rate == 0 || m.per_ns == 0) return make_error(EINVAL, "rule '" + r.origin + "': limit rate is zero");
  if (g.limits_map < 0) {
    MapSpec spec;
    spec.name = "nfjit_limits";
    spec.type = BPF_MAP_TYPE_ARRAY;
    spec.key_size = 4;
    spec.value_size = 8;
    spec.role = MapSpec::Role::Limits;
    g.limits_map = g.add_map(std::move(spec));
  }
  uint32_t slot = static_cast<uint32_t>(g.limits.size());
  g.limits.push_back(&m);
  auto& spec = g.prog.maps[g.limits_map];
  spec.max_entries = slot + 1;
  std::vector<uint8_t> key(4), val(8);
  std::memcpy(key.data(), &slot, 4);
  int64_t init = kLimitInitial;
  std::memcpy(val.data(), &init, 8);
  spec.initial.emplace_back(key, val);

  const uint64_t burst = m.burst ? m.burst : 5;
  unsigned __int128 cap128 = m.bytes ? static_cast<unsigned __int128>(m.per_ns) * burst / m.rate
                                     : static_cast<unsigned __int128>(m.per_ns / m.rate) * burst;
  if (cap128 >> 62) return unsupported(g, r, "limit bucket too large");
  const uint64_t cap = static_cast<uint64_t>(cap128);
  const uint64_t cost = m.per_ns / m.rate;

  auto& e = g.e;
  e.emit(st_imm(BPF_W, R7, kOffKey, static_cast<int32_t>(slot)));
  e.emit(ld_map(R1, static_cast<uint32_t>(g.limits_map)));
  e.emit(mov64_reg(R2, R7));
  e.emit(alu64_imm(BPF_ADD, R2, kOffKey));
  e.emit(call_helper(kMapLookupElem));
  e.jmp_imm(BPF_JEQ, R0, 0, if_false);
  e.emit(mov64_reg(R8, R0));
  e.emit(call_helper(kKtimeGetNs));
  e.emit(mov64_reg(R9, R0));  // r9 = now
  Label taken = e.new_label();
  for (int attempt = 0; attempt < kLimitAttempts; ++attempt) {
    e.emit(ldx(BPF_DW, R0, R8, 0));  // r0 = V (expected value for cmpxchg)
    e.emit(mov64_reg(R4, R0));       // r4 = copy of V
    e.emit(ld_imm64(R1, cap));
    e.emit(mov64_reg(R2, R9));
    e.emit(alu64_reg(BPF_SUB, R2, R1));  // r2 = now - cap
    Label keep = e.new_label();
    e.jmp_reg(BPF_JSGE, R2, R4, keep);
    e.emit(mov64_reg(R2, R4));           // r2 = max(V, now - cap)
    e.bind(keep);
    e.emit(mov64_reg(R3, R9));
    e.emit(alu64_reg(BPF_SUB, R3, R2));  // r3 = tokens
    if (m.bytes) {
      // cost = per_ns * len / rate, computed per packet
      e.emit(ldx(BPF_W, R5, R7, kOffL3Len));
      e.emit(ld_imm64(R1, m.per_ns));
      e.emit(alu64_reg(BPF_MUL, R5, R1));
      e.emit(ld_imm64(R1, m.rate));
      e.emit(alu64_reg(BPF_DIV, R5, R1));
    } else {
      e.emit(ld_imm64(R5, cost));
    }
    e.jmp_reg(BPF_JSLT, R3, R5, if_false);  // not enough tokens
    e.emit(alu64_reg(BPF_ADD, R2, R5));     // V' = max(V, now - cap) + cost
    e.emit(atomic_cmpxchg(BPF_DW, R8, R2, 0));
    e.jmp_reg(BPF_JEQ, R0, R4, taken);
  }
  e.ja(if_false);  // lost every race: treat as over the limit
  e.bind(taken);
  return {};
}

}  // namespace nfjit::codegen
