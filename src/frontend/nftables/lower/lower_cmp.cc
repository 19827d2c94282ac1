// cmp / range / bitwise: the comparisons nft emits after a load (payload+cmp, payload+bitwise+cmp,
// meta+cmp, ct+bitwise+cmp, cmp gte + cmp lte for ranges) -> IR matches on the loaded field.
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <linux/netfilter/nf_tables.h>

#include <algorithm>

#include "frontend/nftables/lower/rule_lowerer.h"

namespace nfjit::nft::lower {

namespace {

bool all_zero(const std::vector<uint8_t>& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

ir::Match int_match(ir::Field f, uint32_t mask, std::vector<ir::Range> ranges, bool invert) {
  ir::IntMatch m;
  m.field = f;
  m.mask = mask;
  m.ranges = std::move(ranges);
  return ir::Match{m, invert};
}

ir::Match anybit(ir::Field f, uint32_t mask, bool invert) {
  ir::IntMatch m;
  m.field = f;
  m.op = ir::IntOp::AnyBit;
  m.mask = mask;
  return ir::Match{m, invert};
}

uint32_t nfproto_of(const RuleLowerer& rl, const RegVal& v, const uint8_t* p) {
  if (v.kind == RegVal::Kind::NfProto) {
    if (p[0] == NFPROTO_IPV4) return 4;
    if (p[0] == NFPROTO_IPV6) return 6;
    rl.refuse("'meta nfproto' compared with " + std::to_string(p[0]) + " (only ipv4/ipv6 have an IR value)");
  }
  uint16_t et = static_cast<uint16_t>((p[0] << 8) | p[1]);
  if (et == 0x0800) return 4;
  if (et == 0x86dd) return 6;
  rl.refuse("'meta protocol' compared with an ethertype other than ip/ip6");
}

// Big-endian add/subtract one over a byte string; false on wrap-around.
bool be_step(std::vector<uint8_t>& b, int d) {
  for (size_t i = b.size(); i-- > 0;) {
    if (d > 0) {
      if (++b[i] != 0) return true;
    } else {
      if (b[i]-- != 0) return true;
    }
  }
  return false;
}

}  // namespace

ir::Match cmp_match(const RuleLowerer& rl, const RegVal& v, uint32_t op, const std::vector<uint8_t>& data) {
  const std::string what = "'" + v.what + "'";
  if (!v.xor_.empty() && !all_zero(v.xor_)) rl.refuse(what + " with a bitwise xor before the compare");
  bool eqne = op == NFT_CMP_EQ || op == NFT_CMP_NEQ;
  bool inv = op == NFT_CMP_NEQ;
  switch (v.kind) {
    case RegVal::Kind::Data: rl.refuse("compare of immediate data");
    case RegVal::Kind::IfName: {
      if (!eqne || !v.mask.empty() || data.empty() || data.size() > 16) rl.refuse(what + ": only ==/!= on names is lowered");
      auto nul = std::find(data.begin(), data.end(), 0);
      ir::IfaceMatch m;
      m.out = v.out;
      m.name.assign(data.begin(), nul);
      if (nul != data.end()) {
        if (!std::all_of(nul, data.end(), [](uint8_t x) { return x == 0; })) rl.refuse(what + ": bytes after the name's end");
      } else {
        m.wildcard = data.size() < 16;  // `iifname "eth*"` compares the prefix only
        if (!m.wildcard) rl.refuse(what + ": a 16-byte name without its terminating NUL");
      }
      return ir::Match{m, inv};
    }
    case RegVal::Kind::NfProto:
    case RegVal::Kind::EtherType: {
      if (!eqne || !v.mask.empty() || data.size() != v.len) rl.refuse(what + ": only ==/!= is lowered");
      uint32_t fam = nfproto_of(rl, v, data.data());
      return int_match(ir::Field::NfProto, 0xffffffffu, {{fam, fam}}, inv);
    }
    case RegVal::Kind::Addr: {
      if (data.size() != v.len) rl.refuse(what + ": compare length differs from the load");
      if (eqne) {
        ir::AddrMatch m;
        m.field = v.field;
        m.len = v.addr_len;
        for (uint32_t i = 0; i < v.len; ++i) {
          m.mask[i] = v.mask.empty() ? 0xff : v.mask[i];
          if (data[i] & ~m.mask[i]) rl.refuse(what + ": compared value has bits outside the mask");
          m.value[i] = data[i];
        }
        return ir::Match{m, inv};
      }
      if (!v.mask.empty()) rl.refuse(what + ": ordered compare after a bitwise");
      std::vector<uint8_t> b = data;
      ir::AddrRangeMatch m;
      m.field = v.field;
      m.len = v.addr_len;
      std::fill(m.lo.begin(), m.lo.begin() + v.addr_len, 0x00);
      std::fill(m.hi.begin(), m.hi.begin() + v.addr_len, 0xff);
      if (op == NFT_CMP_GT && !be_step(b, +1)) rl.refuse(what + " > the largest value never matches");
      if (op == NFT_CMP_LT && !be_step(b, -1)) rl.refuse(what + " < 0 never matches");
      if (op == NFT_CMP_GT || op == NFT_CMP_GTE) std::copy(b.begin(), b.end(), m.lo.begin());
      else std::copy(b.begin(), b.end(), m.hi.begin());
      return ir::Match{m, false};
    }
    case RegVal::Kind::BigEndianInt:
    case RegVal::Kind::HostInt: break;
  }
  if (data.size() != v.len) rl.refuse(what + ": compare length differs from the load");
  uint32_t val = int_value(v, data.data(), data.size());
  bool masked = !v.mask.empty();
  uint32_t mask = masked ? int_value(v, v.mask.data(), v.mask.size()) : 0xffffffffu;
  if (v.field == ir::Field::CtState) {
    // The state is one bit per packet: `ct state x` is bitwise+cmp neq 0, `ct state != x` a plain cmp.
    if (!eqne) rl.refuse(what + ": ordered compare");
    if (masked) {
      if (val != 0) rl.refuse(what + " & mask compared with a non-zero value");
      return anybit(ir::Field::CtState, mask, op == NFT_CMP_EQ);
    }
    if (val == 0 || (val & (val - 1))) rl.refuse(what + " compared with a value that is not one state");
    return anybit(ir::Field::CtState, val, inv);
  }
  if (eqne) {
    if (val & ~mask) rl.refuse(what + ": compared value has bits outside the mask");
    return int_match(v.field, mask, {{val, val}}, inv);
  }
  if (masked) rl.refuse(what + ": ordered compare after a bitwise");
  if (v.kind == RegVal::Kind::HostInt && v.len != 1) rl.refuse(what + ": ordered compare of host-order bytes");
  uint32_t max = v.len >= 4 ? 0xffffffffu : (1u << (8 * v.len)) - 1;
  switch (op) {
    case NFT_CMP_GTE: return int_match(v.field, 0xffffffffu, {{val, max}}, false);
    case NFT_CMP_LTE: return int_match(v.field, 0xffffffffu, {{0, val}}, false);
    case NFT_CMP_GT:
      if (val == max) rl.refuse(what + " > its largest value never matches");
      return int_match(v.field, 0xffffffffu, {{val + 1, max}}, false);
    case NFT_CMP_LT:
      if (val == 0) rl.refuse(what + " < 0 never matches");
      return int_match(v.field, 0xffffffffu, {{0, val - 1}}, false);
  }
  rl.refuse("cmp operator " + std::to_string(op));
}

void RuleLowerer::cmp(nftnl_expr* e) {
  const RegVal& v = reg(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG), "cmp");
  add_match(cmp_match(*this, v, nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), attr_bytes(e, NFTNL_EXPR_CMP_DATA)));
}

void RuleLowerer::range(nftnl_expr* e) {
  const RegVal& v = reg(nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_SREG), "range");
  bool inv = nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP) == NFT_RANGE_NEQ;
  auto from = attr_bytes(e, NFTNL_EXPR_RANGE_FROM_DATA), to = attr_bytes(e, NFTNL_EXPR_RANGE_TO_DATA);
  if (from.size() != v.len || to.size() != v.len) refuse("range length differs from the load");
  if (!v.mask.empty()) refuse("range after a bitwise");
  if (v.kind == RegVal::Kind::Addr) {
    if (v.len != v.addr_len) refuse("address range over part of an address");
    ir::AddrRangeMatch m;
    m.field = v.field;
    m.len = v.addr_len;
    std::copy(from.begin(), from.end(), m.lo.begin());
    std::copy(to.begin(), to.end(), m.hi.begin());
    return add_match(ir::Match{m, inv});
  }
  if (v.kind != RegVal::Kind::BigEndianInt && !(v.kind == RegVal::Kind::HostInt && v.len == 1) ) refuse("range on '" + v.what + "'");
  if (v.field == ir::Field::CtState) refuse("range on 'ct state'");
  ir::IntMatch m;
  m.field = v.field;
  m.ranges = {{int_value(v, from.data(), from.size()), int_value(v, to.data(), to.size())}};
  add_match(ir::Match{m, inv});
}

void RuleLowerer::bitwise(nftnl_expr* e) {
  if (nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_OP) && nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_OP) != NFT_BITWISE_BOOL)
    refuse("bitwise shifts are not lowered");
  RegVal v = reg(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG), "bitwise");
  uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_LEN);
  auto mask = attr_bytes(e, NFTNL_EXPR_BITWISE_MASK), x = attr_bytes(e, NFTNL_EXPR_BITWISE_XOR);
  if (len != v.len || mask.size() != len || x.size() != len) refuse("bitwise over a length other than the load's");
  if (v.kind == RegVal::Kind::NfProto || v.kind == RegVal::Kind::EtherType || v.kind == RegVal::Kind::IfName ||
      v.kind == RegVal::Kind::Data)
    refuse("bitwise on '" + v.what + "'");
  // ((x & m1) ^ x1) & m2 ^ x2 = (x & (m1 & m2)) ^ ((x1 & m2) ^ x2)
  std::vector<uint8_t> m1 = v.mask.empty() ? std::vector<uint8_t>(len, 0xff) : v.mask;
  std::vector<uint8_t> x1 = v.xor_.empty() ? std::vector<uint8_t>(len, 0) : v.xor_;
  for (uint32_t i = 0; i < len; ++i) {
    uint8_t nm = m1[i] & mask[i], nx = (x1[i] & mask[i]) ^ x[i];
    m1[i] = nm;
    x1[i] = nx;
  }
  v.mask = m1;
  v.xor_ = x1;
  store(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG), v);
}

ir::SetKeyField key_field(const RuleLowerer& rl, const RegVal& v) {
  if ((!v.mask.empty() && !std::all_of(v.mask.begin(), v.mask.end(), [](uint8_t b) { return b == 0xff; })) ||
      (!v.xor_.empty() && !all_zero(v.xor_)))
    rl.refuse("set key '" + v.what + "' after a bitwise");
  ir::SetKeyField f;
  f.field = v.field;
  switch (v.kind) {
    case RegVal::Kind::Addr:
      if (v.len != v.addr_len) rl.refuse("set key of part of an address");
      f.len = v.addr_len;
      return f;
    case RegVal::Kind::IfName:
      f.out = v.out;
      f.len = 16;
      return f;
    case RegVal::Kind::BigEndianInt:
      if (v.field == ir::Field::Length) break;
      f.len = static_cast<uint8_t>(v.len);
      return f;
    case RegVal::Kind::HostInt:
      if (v.field == ir::Field::Length || v.field == ir::Field::CtState) break;
      f.len = static_cast<uint8_t>(v.len);
      return f;
    default: break;
  }
  rl.refuse("'" + v.what + "' as a set key is not lowered");
}

}  // namespace nfjit::nft::lower
