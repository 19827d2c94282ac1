// Internal to the nft lowering: the state of one rule being lowered (the symbolic register file, the
// matches gathered so far, the IR rules emitted) and the per-expression-family handlers. Each
// lower_<family>.cc file implements the handlers for its expressions.
#pragma once

#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <stdio.h>      // libnftnl's headers use FILE without including it
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frontend/nftables/lower/lower.h"
#include "frontend/nftables/store.h"
#include "ir/ir.h"

namespace nfjit::nft::lower {

// What a register slot range holds: a packet/meta/ct field as loaded, maybe masked by a bitwise, or
// immediate data.
struct RegVal {
  enum class Kind : uint8_t {
    BigEndianInt,  // packet integer in network order (ports, ip protocol, ttl, tos, length): memcmp order = numeric
    HostInt,       // host-order integer (marks, ifindex, uid, ct state): 1 or 4 bytes
    Addr,          // the first `len` bytes of an address (nft loads fewer bytes for byte-aligned prefixes)
    IfName,        // 16-byte interface name
    NfProto,       // meta nfproto: NFPROTO_IPV4 2 / NFPROTO_IPV6 10 -> IR 4 / 6
    EtherType,     // meta protocol: 0x0800 / 0x86dd -> IR NfProto 4 / 6
    Data,          // immediate data
  };
  Kind kind = Kind::Data;
  ir::Field field{};
  bool out = false;        // IfName: oifname
  uint32_t len = 0;        // bytes loaded
  uint8_t addr_len = 4;    // Addr: 4 or 16
  std::vector<uint8_t> mask, xor_;  // bitwise applied to the loaded bytes; empty: none
  std::vector<uint8_t> data;        // Data
  std::string what;        // "meta l4proto", "payload th+2", for messages
};

// A refusal while lowering a rule: the reason (the rule is named by the caller).
struct Refuse {
  std::string reason;
};

struct TableCtx {
  const TableObj& t;
  uint8_t family;                       // NFPROTO_*
  ir::Table& out;
  LoweredTable& lowered;
  std::map<std::string, std::set<ir::Hook>> hooks_of;  // chain -> hooks it is reachable from
  std::map<std::pair<std::string, std::string>, std::string> ir_set_for;  // (nft set, key signature) -> IR set
  int anon_sets = 0;
};

class RuleLowerer {
 public:
  RuleLowerer(TableCtx& tc, const ChainObj& chain, const RuleObj& rule, std::string origin)
      : tc_(tc), chain_(chain), rule_(rule), origin_(std::move(origin)) {}

  // Lowers every expression; the IR rules are in rules(); a refusal throws Refuse.
  void run();
  std::vector<ir::Rule>& rules() { return out_; }
  // counter expression index -> index in rules()
  const std::map<uint32_t, size_t>& counter_rules() const { return counter_rule_; }
  const std::vector<std::pair<std::string, size_t>>& objref_counters() const { return objref_counter_; }

  // ---- handlers (one file per family) ----
  void payload(nftnl_expr* e);   // lower_payload.cc
  void meta(nftnl_expr* e);      // lower_meta.cc
  void ct(nftnl_expr* e);        // lower_meta.cc
  void cmp(nftnl_expr* e);       // lower_cmp.cc
  void bitwise(nftnl_expr* e);   // lower_cmp.cc
  void range(nftnl_expr* e);     // lower_cmp.cc
  void lookup(nftnl_expr* e);    // lower_lookup.cc
  void immediate(nftnl_expr* e); // lower_verdict.cc
  void counter(uint32_t index);  // lower_verdict.cc
  void objref(nftnl_expr* e, uint32_t index);  // lower_verdict.cc
  void limit(nftnl_expr* e);     // lower_stmt.cc
  void log(nftnl_expr* e);       // lower_stmt.cc
  void reject(nftnl_expr* e);    // lower_stmt.cc
  void xt_match(nftnl_expr* e);  // lower_xt.cc
  void xt_target(nftnl_expr* e); // lower_xt.cc

  // ---- shared helpers (rule_lowerer.cc) ----
  [[noreturn]] void refuse(std::string why) const;
  static int slot_of(uint32_t reg);                 // NFT_REG_* -> 4-byte slot, -1 for the verdict register
  void store(uint32_t reg, RegVal v);               // load into a register (clears what it overwrites)
  const RegVal& reg(uint32_t reg, const char* user) const;  // what a register holds (refuses if unknown)
  RegVal& reg_mut(uint32_t reg, const char* user);
  // The RegVals a `len`-byte read from `reg` covers, in order (concatenations).
  std::vector<const RegVal*> regs_for(uint32_t reg, uint32_t len, const char* user) const;
  void add_match(ir::Match m);                      // append a match (flushes a pending counter first)
  void emit(ir::Action a, const std::vector<ir::Match>& extra = {});  // an IR rule with the current matches
  bool terminated() const { return terminated_; }

  // Context the handlers need.
  std::optional<int> l3_family() const;             // 4 / 6 when the rule (or table family) pins it
  std::set<uint32_t> pinned_l4() const;             // L4Proto values the matches so far require
  const std::set<ir::Hook>& hooks() const;          // hooks the chain is reachable from
  const TableObj& table() const { return tc_.t; }
  TableCtx& tc() { return tc_; }
  const TableCtx& tc() const { return tc_; }
  const std::string& origin() const { return origin_; }
  bool has_stateful() const;                        // a LimitMatch among the matches

 private:
  TableCtx& tc_;
  const ChainObj& chain_;
  const RuleObj& rule_;
  std::string origin_;
  std::map<int, RegVal> regs_;       // by first slot
  std::vector<ir::Match> matches_;
  std::vector<ir::Rule> out_;
  std::vector<uint32_t> pending_counters_;  // counter expressions waiting for an IR rule with matches_
  std::vector<std::pair<std::string, size_t>> pending_objrefs_;
  std::map<uint32_t, size_t> counter_rule_;
  std::vector<std::pair<std::string, size_t>> objref_counter_;
  bool terminated_ = false;
  int stateful_rules_ = 0;           // IR rules emitted that evaluate a limit

  void flush_counters();
  friend void lower_vmap(RuleLowerer&, nftnl_expr*, const SetObj&, const std::vector<const RegVal*>&);
};

// ---- conversions shared between files ----
// One IR match for `op` (NFT_CMP_*) of a register value against `data` (cmp data bytes).
ir::Match cmp_match(const RuleLowerer& rl, const RegVal& v, uint32_t op, const std::vector<uint8_t>& data);
// The set key field a register value stands for in a set key (refuses what a set key cannot hold).
ir::SetKeyField key_field(const RuleLowerer& rl, const RegVal& v);
// Big-endian / host integer of a register value's bytes.
uint32_t int_value(const RegVal& v, const uint8_t* p, size_t n);
// Bytes of a data attribute.
std::vector<uint8_t> attr_bytes(nftnl_expr* e, uint16_t attr);
// The IR elements of an nft set ([lo, hi] for interval sets, exact keys otherwise).
std::vector<ir::SetElement> ir_elements(const SetObj& s);
// vmap: one IR rule per distinct verdict (lower_lookup.cc).
void lower_vmap(RuleLowerer& rl, nftnl_expr* e, const SetObj& map, const std::vector<const RegVal*>& key);
// Hook name for messages.
const char* hook_name(ir::Hook h);

}  // namespace nfjit::nft::lower
