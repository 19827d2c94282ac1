// The nf_tables state the front-end keeps, as the kernel keeps it: tables in creation order, and per
// table chains, rules (expressions as received, re-serialised by libnftnl), sets with their elements,
// named objects and flowtables, plus the handle generators and the generation id. Listings are answered
// from this, so it holds what the kernel would dump, not what the IR needs.
//
// A Store is a plain value: a batch works on a copy and replaces the committed one only when every
// message succeeded (all-or-nothing, like the kernel's commit/abort). Heavy parts (expressions, set
// attributes, elements) are shared_ptr so a copy costs a pointer per object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frontend/nftables/nftnl_ptr.h"

namespace nfjit::nft {

struct RuleObj {
  uint64_t handle = 0;
  NftnlRule exprs;                         // only the expression list is set on it
  std::vector<uint8_t> userdata;           // NFTA_RULE_USERDATA (comments), as received
  std::vector<std::string> jump_targets;   // chains named by jump/goto verdicts
  std::vector<std::string> bound_sets;     // sets named by lookup/dynset/objref expressions
};

struct ChainHook {
  uint32_t hooknum = 0;
  int32_t priority = 0;
  std::vector<std::string> devices;  // netdev/inet ingress
};

struct ChainObj {
  std::string name;
  uint64_t handle = 0;
  uint32_t flags = 0;                // NFT_CHAIN_BASE | NFT_CHAIN_HW_OFFLOAD | NFT_CHAIN_BINDING
  std::optional<ChainHook> hook;     // base chains
  std::string type;                  // "filter", "nat", "route" for base chains
  std::optional<uint32_t> policy;    // base chains: NF_ACCEPT / NF_DROP
  std::vector<uint8_t> userdata;
  std::vector<RuleObj> rules;
  bool base() const { return hook.has_value(); }
};

struct ElemObj {
  NftnlElem elem;            // key, key_end, flags, data/verdict, timeout, userdata, expressions
  std::vector<uint8_t> id;   // identity: key bytes + interval-end flag + key_end bytes
  uint64_t expires_at_ms = 0;  // CLOCK_MONOTONIC ms when a timed element expires; 0: never
};

struct SetObj {
  std::string name;
  uint64_t handle = 0;
  uint32_t flags = 0;        // NFT_SET_*
  NftnlSet attrs;            // everything but table/name/handle/id, re-serialised for dumps
  std::vector<ElemObj> elems;
  bool anonymous() const;
};

struct ObjObj {
  std::string name;
  uint32_t type = 0;         // NFT_OBJECT_*
  uint64_t handle = 0;
  NftnlObj obj;              // type-specific data; table/name/handle unset
};

struct FlowtableObj {
  std::string name;
  uint64_t handle = 0;
  NftnlFlowtable ft;         // hook, priority, devices, flags; table/name/handle unset
};

struct TableObj {
  uint8_t family = 0;
  std::string name;
  uint64_t handle = 0;
  uint32_t flags = 0;
  std::vector<uint8_t> userdata;
  uint64_t next_handle = 1;  // the kernel's per-table hgenerator shared by chains, rules, sets, objects
  std::vector<ChainObj> chains;
  std::vector<SetObj> sets;
  std::vector<ObjObj> objs;
  std::vector<FlowtableObj> flowtables;

  ChainObj* chain(const std::string& n);
  const ChainObj* chain(const std::string& n) const;
  SetObj* set(const std::string& n);
  const SetObj* set(const std::string& n) const;
  ObjObj* obj(const std::string& n, uint32_t type);
  FlowtableObj* flowtable(const std::string& n);
  ChainObj* chain_by_handle(uint64_t h);
  SetObj* set_by_handle(uint64_t h);
  // Kernel `use` counters, derived rather than tracked so they can never drift.
  uint32_t table_use() const;
  uint32_t chain_use(const ChainObj& c) const;   // rules in it + jumps/gotos to it
  uint32_t set_use(const SetObj& s) const;       // rules bound to it
  uint64_t alloc_handle() { return next_handle++; }
};

struct Store {
  std::vector<TableObj> tables;
  uint64_t next_table_handle = 1;  // net-wide, never reset (the kernel's nft_net->table_handle)
  uint32_t genid = 1;              // the kernel's base_seq; a fresh namespace starts at 1

  TableObj* table(uint8_t family, const std::string& name);
  const TableObj* table(uint8_t family, const std::string& name) const;
  TableObj* table_by_handle(uint8_t family, uint64_t h);
};

}  // namespace nfjit::nft
