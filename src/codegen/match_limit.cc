// Rate limit (xt_limit / nft limit) as a token bucket shared by all CPUs.
//
// State per rule: one u64 V in the Limits array, the virtual time at which the bucket was empty, so
// tokens(now) = min(cap, now - V) in nanoseconds of credit. A packet costs `cost` ns (per_ns / rate;
// bytes mode: per_ns * L3 length / rate), cap = cost * burst (bytes: per_ns * burst / rate), exactly
// nft_limit's arithmetic. Taking a token is V' = max(V, now - cap) + cost, published with a 64-bit
// BPF_CMPXCHG; a lost race re-reads V and retries (kLimitAttempts tries, unrolled). V starts far in the
// past so the bucket starts full, as both kernels do. Over the limit, V is unchanged (the kernel's
// update there does not change tokens(now) either).
//
// xt_limit (LimitClock::Jiffies) follows xt_limit.c's limit_mt() instead, in its own map
// (nfjit_xtlimits, value {u64 prev jiffies, u32 credit, u32 pad}): see emit_xt_limit_match.
#include <algorithm>
#include <cstring>
#include <functional>

#include "codegen/kernel_jiffies.h"
#include "codegen/match.h"
#include "codegen/xt_limit_math.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

inline constexpr int kLimitAttempts = 4;
inline constexpr int64_t kLimitInitial = INT64_MIN / 4;

namespace {

// Every rate limit of the table with clock `c`, in table order (chains, rules, matches): the slot of
// a limit in its map is its index here, the same in every program compiled from the table.
std::vector<const ir::LimitMatch*> table_limits(const ir::Table& t, ir::LimitClock c) {
  std::vector<const ir::LimitMatch*> out;
  for (const auto& ch : t.chains)
    for (const auto& r : ch.rules)
      for (const auto& m : r.matches)
        if (const auto* l = std::get_if<ir::LimitMatch>(&m.m); l && l->clock == c) out.push_back(l);
  return out;
}

// The limit map of clock `c` (created on first use): one slot per limit of the whole table, each
// initialised by `initial`, the same in every program of the table, which the runtime therefore
// shares between them (MapSpec::shared).
int table_limit_map(Gen& g, ir::LimitClock c, int& index, const char* name, uint32_t value_size,
                    const std::function<std::vector<uint8_t>(const ir::LimitMatch&)>& initial) {
  if (index >= 0) return index;
  MapSpec spec;
  spec.name = name;
  spec.type = BPF_MAP_TYPE_ARRAY;
  spec.key_size = 4;
  spec.value_size = value_size;
  spec.role = MapSpec::Role::Limits;
  spec.shared = name;
  const auto all = table_limits(g.table, c);
  spec.max_entries = static_cast<uint32_t>(all.size());
  for (uint32_t i = 0; i < all.size(); ++i) {
    std::vector<uint8_t> key(4);
    std::memcpy(key.data(), &i, 4);
    spec.initial.emplace_back(std::move(key), initial(*all[i]));
  }
  index = g.add_map(std::move(spec));
  return index;
}

uint32_t table_limit_slot(const ir::Table& t, const ir::LimitMatch& m) {
  const auto all = table_limits(t, m.clock);
  return static_cast<uint32_t>(std::find(all.begin(), all.end(), &m) - all.begin());
}

}  // namespace

// xt_limit.c limit_mt(), instruction for instruction, with HZ-dependent constants from the running
// kernel (kernel_hz):
//   if (credit < cost && prev == jiffies) return false;           // fast path
//   do { now = jiffies; credit_increase += (now - xchg(&prev, now)) * CREDITS_PER_JIFFY;  (u32)
//        old = credit; new = min(old + credit_increase, cap) (u32 wrap first, as the kernel);
//        ret = new >= cost; if (ret) new -= cost;
//   } while (cmpxchg(&credit, old, new) != old);
// The loop is unrolled kLimitAttempts times; losing every race counts as over the limit (as the ns
// bucket). The state starts as limit_mt_check() leaves it: prev = jiffies (at compile time), credit = cap.
Result<void> emit_xt_limit_match(Gen& g, const ir::LimitMatch& m, const ir::Rule& r, Label if_false) {
  if (m.bytes) return unsupported(g, r, "xt limit in bytes");
  auto hz = kernel_hz();
  if (!hz) return make_error(hz.error().err, "rule '" + r.origin + "': " + hz.error().message);
  const XtLimitParams xp = xt_limit_params(*hz, m.xt_avg, m.burst);
  if (xp.overflow)
    return make_error(ERANGE, "rule '" + r.origin + "': xt_limit overflow, try lower: " + std::to_string(m.xt_avg) +
                                  "/" + std::to_string(m.burst));
  auto jiffies = kernel_jiffies();
  if (!jiffies) return make_error(jiffies.error().err, "rule '" + r.origin + "': " + jiffies.error().message);

  // {prev jiffies, credit}: as limit_mt_check() leaves it.
  table_limit_map(g, ir::LimitClock::Jiffies, g.xt_limits_map, "nfjit_xtlimits", 16, [&](const ir::LimitMatch& l) {
    std::vector<uint8_t> val(16, 0);
    const uint64_t prev = *jiffies;
    const uint32_t cap = xt_limit_params(*hz, l.xt_avg, l.burst).cap;
    std::memcpy(val.data(), &prev, 8);
    std::memcpy(val.data() + 8, &cap, 4);
    return val;
  });
  const uint32_t slot = table_limit_slot(g.table, m);

  const auto cost = static_cast<int32_t>(xp.cost), cap = static_cast<int32_t>(xp.cap);  // u32 bits in imm
  auto& e = g.e;
  e.emit(st_imm(BPF_W, R7, kOffKey, static_cast<int32_t>(slot)));
  e.emit(ld_map(R1, static_cast<uint32_t>(g.xt_limits_map)));
  e.emit(mov64_reg(R2, R7));
  e.emit(alu64_imm(BPF_ADD, R2, kOffKey));
  e.emit(call_helper(kMapLookupElem));
  e.jmp_imm(BPF_JEQ, R0, 0, if_false);
  e.emit(mov64_reg(R8, R0));  // r8 = &{prev, credit}
  // Fast path: nothing to update.
  Label slow = e.new_label(), taken = e.new_label();
  e.emit(ldx(BPF_W, R1, R8, 8));
  e.jmp_imm(BPF_JGE, R1, cost, slow, true);
  e.emit(call_helper(kJiffies64));
  e.emit(ldx(BPF_DW, R1, R8, 0));
  e.jmp_reg(BPF_JNE, R1, R0, slow);
  e.ja(if_false);
  e.bind(slow);
  e.emit(mov32_imm(R9, 0));  // w9 = credit_increase
  for (int attempt = 0; attempt < kLimitAttempts; ++attempt) {
    e.emit(call_helper(kJiffies64));                 // r0 = now
    e.emit(mov64_reg(R1, R0));
    e.emit(atomic_xchg(BPF_DW, R8, R1, 0));          // r1 = xchg(&prev, now)
    e.emit(alu64_reg(BPF_SUB, R0, R1));
    e.emit(alu64_imm(BPF_MUL, R0, static_cast<int32_t>(xp.credits_per_jiffy)));
    e.emit(alu32_reg(BPF_ADD, R9, R0));              // credit_increase += (u32)
    e.emit(ldx(BPF_W, R5, R8, 8));                   // w5 = old credit
    e.emit(mov32_reg(R4, R5));
    e.emit(alu32_reg(BPF_ADD, R4, R9));              // w4 = new (u32 wrap)
    Label capped = e.new_label(), refused = e.new_label();
    e.jmp_imm(BPF_JLE, R4, cap, capped, true);
    e.emit(mov32_imm(R4, cap));
    e.bind(capped);
    e.emit(mov64_imm(R1, 0));                        // r1 = ret
    e.jmp_imm(BPF_JLT, R4, cost, refused, true);
    e.emit(alu32_imm(BPF_SUB, R4, cost));
    e.emit(mov64_imm(R1, 1));
    e.bind(refused);
    e.emit(mov64_reg(R0, R5));
    e.emit(atomic_cmpxchg(BPF_W, R8, R4, 8));        // w0 = cmpxchg(&credit, old, new)
    Label retry = e.new_label();
    e.jmp_reg(BPF_JNE, R0, R5, retry, true);
    e.jmp_imm(BPF_JEQ, R1, 0, if_false);
    e.ja(taken);
    e.bind(retry);
  }
  e.ja(if_false);  // lost every race: treat as over the limit
  e.bind(taken);
  return {};
}

Result<void> emit_limit_match(Gen& g, const ir::LimitMatch& m, const ir::Rule& r, Label if_false) {
  if (m.clock == ir::LimitClock::Jiffies) return emit_xt_limit_match(g, m, r, if_false);
  if (m.rate == 0 || m.per_ns == 0) return make_error(EINVAL, "rule '" + r.origin + "': limit rate is zero");
  table_limit_map(g, ir::LimitClock::Ns, g.limits_map, "nfjit_limits", 8, [](const ir::LimitMatch&) {
    std::vector<uint8_t> val(8);
    const int64_t init = kLimitInitial;
    std::memcpy(val.data(), &init, 8);
    return val;
  });
  const uint32_t slot = table_limit_slot(g.table, m);

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
