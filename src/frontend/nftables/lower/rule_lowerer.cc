// The rule-level driver of the nft lowering: walks a rule's expressions, keeps the symbolic register
// file, and turns the gathered matches and statements into IR rules.
//
// How one nft rule becomes IR rules: matches accumulate in order; every statement (log, meta mark set, a
// verdict) becomes an IR rule with the matches gathered so far and that action. A `counter` counts the
// packets that reach it, so it is given to the next IR rule emitted with exactly the matches seen before
// it, or to a Continue rule of its own when a further match comes first. Re-evaluating stateless
// matches for a second IR rule gives the same answer; a limit must not be evaluated twice, so a rule
// whose limit would land in two IR rules is refused.
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include "frontend/nftables/lower/rule_lowerer.h"

#include <libnftnl/rule.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>

namespace nfjit::nft::lower {

void RuleLowerer::refuse(std::string why) const { throw Refuse{std::move(why)}; }

void RuleLowerer::run() {
  nftnl_expr_iter* it = nftnl_expr_iter_create(rule_.exprs.get());
  if (!it) refuse("out of memory");
  struct IterGuard {
    nftnl_expr_iter* i;
    ~IterGuard() { nftnl_expr_iter_destroy(i); }
  } guard{it};
  uint32_t index = 0;
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it), ++index) {
    const char* n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    std::string name = n ? n : "?";
    if (terminated_) refuse("'" + name + "' after the rule's verdict");
    if (name == "payload") payload(e);
    else if (name == "meta") meta(e);
    else if (name == "ct") ct(e);
    else if (name == "cmp") cmp(e);
    else if (name == "bitwise") bitwise(e);
    else if (name == "range") range(e);
    else if (name == "lookup") lookup(e);
    else if (name == "immediate") immediate(e);
    else if (name == "counter") counter(index);
    else if (name == "objref") objref(e, index);
    else if (name == "limit") limit(e);
    else if (name == "log") log(e);
    else if (name == "reject") reject(e);
    else if (name == "match") xt_match(e);
    else if (name == "target") xt_target(e);
    else refuse("expression '" + name + "' is not lowered (no IR equivalent yet)");
  }
  flush_counters();
  // A rule of matches only still gets an IR rule, so every nft rule has one.
  if (out_.empty()) emit(ir::Action{});
}

int RuleLowerer::slot_of(uint32_t reg) {
  if (reg >= NFT_REG_1 && reg <= NFT_REG_4) return static_cast<int>((reg - NFT_REG_1) * 4);
  if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15) return static_cast<int>(reg - NFT_REG32_00);
  return -1;
}

void RuleLowerer::store(uint32_t r, RegVal v) {
  int s = slot_of(r);
  if (s < 0) refuse("load into register " + std::to_string(r));
  int n = static_cast<int>((v.len + 3) / 4);
  if (n == 0 || s + n > 16) refuse("load of " + std::to_string(v.len) + " bytes into register " + std::to_string(r));
  // Drop whatever the new value overlaps.
  for (auto it = regs_.begin(); it != regs_.end();) {
    int a = it->first, b = a + static_cast<int>((it->second.len + 3) / 4);
    if (a < s + n && s < b) it = regs_.erase(it);
    else ++it;
  }
  regs_[s] = std::move(v);
}

const RegVal& RuleLowerer::reg(uint32_t r, const char* user) const {
  int s = slot_of(r);
  auto it = regs_.find(s);
  if (s < 0 || it == regs_.end())
    refuse(std::string(user) + " reads register " + std::to_string(r) + ", which holds no value the lowering knows");
  return it->second;
}

RegVal& RuleLowerer::reg_mut(uint32_t r, const char* user) { return const_cast<RegVal&>(reg(r, user)); }

std::vector<const RegVal*> RuleLowerer::regs_for(uint32_t r, uint32_t len, const char* user) const {
  int s = slot_of(r);
  std::vector<const RegVal*> out;
  uint32_t done = 0, unpadded_end = 0;  // a set's key length leaves the last field unpadded (l4proto: 1)
  while (done < len) {
    auto it = regs_.find(s);
    if (s < 0 || it == regs_.end())
      refuse(std::string(user) + " reads a register slot that holds no value the lowering knows");
    out.push_back(&it->second);
    uint32_t padded = (it->second.len + 3) / 4 * 4;
    unpadded_end = done + it->second.len;
    done += padded;
    s += static_cast<int>(padded / 4);
  }
  if (done != len && unpadded_end != len)
    refuse(std::string(user) + ": key length does not match the registers loaded");
  return out;
}

void RuleLowerer::add_match(ir::Match m) {
  flush_counters();
  matches_.push_back(std::move(m));
}

static bool is_stateful(const ir::Match& m) { return std::holds_alternative<ir::LimitMatch>(m.m); }

bool RuleLowerer::has_stateful() const {
  for (const auto& m : matches_)
    if (is_stateful(m)) return true;
  return false;
}

void RuleLowerer::emit(ir::Action a, const std::vector<ir::Match>& extra) {
  if (!extra.empty()) flush_counters();
  ir::Rule r;
  r.matches = matches_;
  r.matches.insert(r.matches.end(), extra.begin(), extra.end());
  r.action = std::move(a);
  r.origin = origin_;
  for (const auto& m : r.matches)
    if (is_stateful(m)) {
      if (++stateful_rules_ > 1)
        refuse("its limit would be evaluated by more than one IR rule (statements after a limit need one IR "
               "rule each); the kernel evaluates it once");
      break;
    }
  size_t idx = out_.size();
  out_.push_back(std::move(r));
  if (extra.empty()) {
    for (uint32_t c : pending_counters_) counter_rule_[c] = idx;
    for (auto& [name, _] : pending_objrefs_) objref_counter_.push_back({name, idx});
    pending_counters_.clear();
    pending_objrefs_.clear();
  }
}

void RuleLowerer::flush_counters() {
  if (pending_counters_.empty() && pending_objrefs_.empty()) return;
  emit(ir::Action{});
}

void RuleLowerer::counter(uint32_t index) { pending_counters_.push_back(index); }

std::optional<int> RuleLowerer::l3_family() const {
  if (tc_.family == NFPROTO_IPV4) return 4;
  if (tc_.family == NFPROTO_IPV6) return 6;
  for (const auto& m : matches_) {
    auto* im = std::get_if<ir::IntMatch>(&m.m);
    if (!im || m.invert || im->field != ir::Field::NfProto || im->op != ir::IntOp::InRanges || im->mask != 0xffffffffu ||
        im->ranges.size() != 1 || im->ranges[0].lo != im->ranges[0].hi)
      continue;
    return static_cast<int>(im->ranges[0].lo);
  }
  return std::nullopt;
}

std::set<uint32_t> RuleLowerer::pinned_l4() const {
  std::optional<std::set<uint32_t>> acc;
  for (const auto& m : matches_) {
    auto* im = std::get_if<ir::IntMatch>(&m.m);
    if (!im || m.invert || im->field != ir::Field::L4Proto || im->op != ir::IntOp::InRanges || im->mask != 0xffffffffu)
      continue;
    std::set<uint32_t> vals;
    for (const auto& r : im->ranges)
      for (uint32_t v = r.lo; v <= r.hi && v <= 255; ++v) vals.insert(v);
    if (!acc) {
      acc = vals;
    } else {
      std::set<uint32_t> both;
      for (uint32_t v : *acc)
        if (vals.count(v)) both.insert(v);
      acc = both;
    }
  }
  return acc.value_or(std::set<uint32_t>{});
}

const std::set<ir::Hook>& RuleLowerer::hooks() const { return tc_.hooks_of[chain_.name]; }

const char* hook_name(ir::Hook h) {
  switch (h) {
    case ir::Hook::Prerouting: return "prerouting";
    case ir::Hook::Input: return "input";
    case ir::Hook::Forward: return "forward";
    case ir::Hook::Output: return "output";
    case ir::Hook::Postrouting: return "postrouting";
    case ir::Hook::Ingress: return "ingress";
    case ir::Hook::Egress: return "egress";
  }
  return "?";
}

std::vector<uint8_t> attr_bytes(nftnl_expr* e, uint16_t attr) {
  uint32_t len = 0;
  const void* p = nftnl_expr_get(e, attr, &len);
  if (!p) return {};
  auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + len);
}

uint32_t int_value(const RegVal& v, const uint8_t* p, size_t n) {
  if (v.kind == RegVal::Kind::HostInt || v.kind == RegVal::Kind::NfProto) {
    if (n == 1) return p[0];
    if (n == 2) { uint16_t x; std::memcpy(&x, p, 2); return x; }
    uint32_t x = 0;
    std::memcpy(&x, p, std::min<size_t>(n, 4));
    return x;
  }
  uint32_t x = 0;
  for (size_t i = 0; i < n && i < 4; ++i) x = (x << 8) | p[i];
  return x;
}

}  // namespace nfjit::nft::lower
