// Branch-free match evaluation. The verifier keeps one pending state per conditional branch whose other
// side it has not explored yet; a rule with k failure branches to its `next` label leaves k-1 of them
// pending while the first one walks on through every later rule, so a chain of N multi-match rules
// needs N pending states (BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192) and revisits. Instead, every match that
// needs no helper call ORs a "mismatch" value into r0 with plain ALU ops, and the rule branches once
// on r0 (compile.cc). One branch per rule: the match side ends in the action, the mismatch side is the
// only state that reaches the next rule, and verification stays linear.
//
// Arithmetic used (x is a zero-extended 32-bit value in a 64-bit register, so bit 63 is free):
//   x == 0          -> (x - 1) >> 63        (1 when x == 0)
//   x != 0          -> (-x) >> 63
//   x not in lo..hi -> ((hi - lo) - (u32)(x - lo)) >> 63   (the unsigned range test, without a branch)
// Validity of the fields a rule reads is checked once per rule (compile.cc): absent fields make the rule
// fail whether a match is inverted or not (ir.h), so inversion only flips the field compare itself.
#include <cstring>

#include "codegen/hook.h"
#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

// r<reg> = 1 if r<reg> == 0 else 0.
void is_zero(Gen& g, uint8_t reg) {
  g.e.emit(alu64_imm(BPF_SUB, reg, 1));
  g.e.emit(alu64_imm(BPF_RSH, reg, 63));
}
// r<reg> = 1 if r<reg> != 0 else 0.
void is_nonzero(Gen& g, uint8_t reg) {
  g.e.emit(alu64_imm(BPF_NEG, reg, 0));
  g.e.emit(alu64_imm(BPF_RSH, reg, 63));
}

// r<out> = 1 when the 32-bit value in r<x> lies outside lo..hi, else 0. Clobbers r<tmp>.
void out_of_range(Gen& g, uint8_t x, uint32_t lo, uint32_t hi, uint8_t out, uint8_t tmp) {
  auto& e = g.e;
  if (lo == hi) {
    e.emit(mov64_reg(out, x));
    e.emit(alu32_imm(BPF_XOR, out, static_cast<int32_t>(lo)));
    is_nonzero(g, out);
    return;
  }
  e.emit(mov64_reg(tmp, x));
  if (lo) e.emit(alu32_imm(BPF_SUB, tmp, static_cast<int32_t>(lo)));  // u32 wrap-around, zero-extended
  e.emit(mov32_imm(out, static_cast<int32_t>(hi - lo)));              // zero-extended
  e.emit(alu64_reg(BPF_SUB, out, tmp));
  e.emit(alu64_imm(BPF_RSH, out, 63));
}

// r0 |= (inverted ? r<miss> == 0 : r<miss>) where r<miss> is non-zero exactly when the plain match fails.
void accumulate(Gen& g, uint8_t miss, bool invert) {
  if (invert) is_zero(g, miss);
  g.e.emit(alu64_reg(BPF_OR, R0, miss));
}

uint8_t addr_family(ir::Field, uint8_t len) { return len == 4 ? 4 : 6; }

int16_t addr_off(ir::Field f) { return f == ir::Field::Saddr ? kOffSaddr : kOffDaddr; }

// r0 |= (packet family != the address's) where the family is not fixed at compile time.
void check_family(Gen& g, uint8_t fam) {
  if (g.pf || g.table.family == ir::Family::Ipv4 || g.table.family == ir::Family::Ipv6) return;
  g.e.emit(ldx(BPF_W, R1, R7, kOffNfProto));
  g.e.emit(alu32_imm(BPF_XOR, R1, fam));
  g.e.emit(alu64_reg(BPF_OR, R0, R1));
}


Result<void> int_match(Gen& g, const ir::IntMatch& m, bool invert, const ir::Rule& r) {
  auto& e = g.e;
  if (m.op == ir::IntOp::InRanges && m.ranges.empty())
    return make_error(EINVAL, "rule '" + r.origin + "': integer match with no values");
  if (auto d = desc_field(m.field)) {
    e.emit(ldx(BPF_W, R1, R7, d->off));
    if (d->shift) e.emit(alu32_imm(BPF_RSH, R1, static_cast<int32_t>(d->shift)));
  } else {
    Label absent = e.new_label();
    if (auto res = g.hook.load_meta(g, m.field, absent, r); !res) return res;
    if (e.used(absent))
      return make_error(EINVAL, "internal: load of " + std::string(ir::to_string(m.field)) + " is not branch-free");
  }
  if (m.mask != 0xffffffffu) e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>(m.mask)));
  if (m.op == ir::IntOp::AnyBit) {  // plain match: (x & mask) != 0; miss when zero
    is_zero(g, R1);
    if (invert) e.emit(alu64_imm(BPF_XOR, R1, 1));
    e.emit(alu64_reg(BPF_OR, R0, R1));
    return {};
  }
  if (m.ranges.size() == 1 && m.ranges[0].lo == m.ranges[0].hi) {
    e.emit(alu32_imm(BPF_XOR, R1, static_cast<int32_t>(m.ranges[0].lo)));
    accumulate(g, R1, invert);
    return {};
  }
  // r4 = AND over ranges of "outside this range" = outside all of them.
  bool first = true;
  for (const auto& rg : m.ranges) {
    if (rg.lo > rg.hi) return make_error(EINVAL, "rule '" + r.origin + "': empty range");
    out_of_range(g, R1, rg.lo, rg.hi, first ? R4 : R2, R3);
    if (!first) e.emit(alu64_reg(BPF_AND, R4, R2));
    first = false;
  }
  if (invert) e.emit(alu64_imm(BPF_XOR, R4, 1));
  e.emit(alu64_reg(BPF_OR, R0, R4));
  return {};
}

Result<void> addr_match(Gen& g, const ir::AddrMatch& m, bool invert, const ir::Rule& r) {
  if (m.len != 4 && m.len != 16) return make_error(EINVAL, "rule '" + r.origin + "': address length must be 4 or 16");
  auto& e = g.e;
  const uint8_t fam = addr_family(m.field, m.len);
  if (family_impossible(g, fam)) {
    e.emit(mov64_imm(R0, 1));
    return {};
  }
  check_family(g, fam);
  // r4 = OR over words of (word & mask) ^ value: non-zero when the prefix differs.
  bool any = false;
  for (int w = 0; w < m.len / 4; ++w) {
    uint32_t mask, want;
    std::memcpy(&mask, m.mask.data() + 4 * w, 4);  // the value a 32-bit load of these bytes yields
    std::memcpy(&want, m.value.data() + 4 * w, 4);
    want &= mask;
    if (!mask) continue;
    e.emit(ldx(BPF_W, any ? R1 : R4, R7, static_cast<int16_t>(addr_off(m.field) + 4 * w)));
    uint8_t reg = any ? R1 : R4;
    if (mask != 0xffffffffu) e.emit(alu32_imm(BPF_AND, reg, static_cast<int32_t>(mask)));
    e.emit(alu32_imm(BPF_XOR, reg, static_cast<int32_t>(want)));
    if (any) e.emit(alu64_reg(BPF_OR, R4, R1));
    any = true;
  }
  if (!any) {  // prefix length 0: any address of the family matches
    if (invert) e.emit(mov64_imm(R0, 1));
    return {};
  }
  accumulate(g, R4, invert);
  return {};
}

Result<void> addr_range_v4(Gen& g, const ir::AddrRangeMatch& m, bool invert) {
  auto& e = g.e;
  if (family_impossible(g, 4)) {
    e.emit(mov64_imm(R0, 1));
    return {};
  }
  check_family(g, 4);
  auto be32 = [](const ir::Addr& a) {
    return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
  };
  e.emit(ldx(BPF_W, R1, R7, addr_off(m.field)));
  e.emit(to_be(R1, 32));  // host-order number, zero-extended
  out_of_range(g, R1, be32(m.lo), be32(m.hi), R4, R3);
  if (invert) e.emit(alu64_imm(BPF_XOR, R4, 1));
  e.emit(alu64_reg(BPF_OR, R0, R4));
  return {};
}

}  // namespace

bool family_impossible(const Gen& g, uint8_t fam) {
  if (g.pf) return g.pf != fam;
  if (g.table.family == ir::Family::Ipv4) return fam != 4;
  if (g.table.family == ir::Family::Ipv6) return fam != 6;
  return false;
}

bool branch_free(const Gen& g, const ir::Match& m) {
  if (const auto* im = std::get_if<ir::IntMatch>(&m.m)) {
    // At a netdev table a looped-back non-IP frame has no pkttype (hook_tc.cc): a branch to `absent`.
    if (im->field == ir::Field::PktType && g.table.family == ir::Family::Netdev) return false;
    return desc_field(im->field).has_value() || g.hook.meta_branch_free(im->field);
  }
  if (std::holds_alternative<ir::AddrMatch>(m.m)) return true;
  if (const auto* ar = std::get_if<ir::AddrRangeMatch>(&m.m)) return ar->len == 4;
  return false;
}

uint32_t branch_free_valid_bits(const ir::Match& m) {
  if (const auto* im = std::get_if<ir::IntMatch>(&m.m))
    if (auto d = desc_field(im->field)) return d->valid;
  return std::holds_alternative<ir::IntMatch>(m.m) ? 0u : uint32_t{kValidL3};  // addresses need an IP header
}

Result<void> emit_branch_free_match(Gen& g, const ir::Match& m, const ir::Rule& r) {
  if (const auto* im = std::get_if<ir::IntMatch>(&m.m)) return int_match(g, *im, m.invert, r);
  if (const auto* am = std::get_if<ir::AddrMatch>(&m.m)) {
    if (am->field != ir::Field::Saddr && am->field != ir::Field::Daddr)
      return make_error(EINVAL, "rule '" + r.origin + "': address match on a non-address field");
    return addr_match(g, *am, m.invert, r);
  }
  if (const auto* ar = std::get_if<ir::AddrRangeMatch>(&m.m)) {
    if (ar->field != ir::Field::Saddr && ar->field != ir::Field::Daddr)
      return make_error(EINVAL, "rule '" + r.origin + "': address match on a non-address field");
    return addr_range_v4(g, *ar, m.invert);
  }
  return make_error(EINVAL, "internal: match kind has no branch-free form");
}

}  // namespace nfjit::codegen
