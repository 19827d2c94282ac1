// The nf_tables state the front-end keeps, as the kernel keeps it: tables in creation order, and per
// table chains, rules (expressions as received, re-serialised by libnftnl), sets with their elements,
// named objects and flowtables, plus the handle generators and the generation id. Listings are answered
// from this, so it holds what the kernel would dump, not what the IR needs.
//
// A Store is a plain value: a batch works on a copy and replaces the committed one only when every
// message succeeded (all-or-nothing, like the kernel's commit/abort). A copy must stay cheap however big
// the ruleset: expressions and set attributes are shared_ptr, a chain's rule list is copied only when the
// batch changes that chain (CowVector), and a set's elements are shared with a per-copy delta (ElemSet).
// Use counts (`use` in listings) are kept per table as they change, not recounted.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <string>
#include <vector>

#include "frontend/nftables/elem_set.h"
#include "frontend/nftables/nftnl_ptr.h"

namespace nfjit::nft {

// A vector shared between copies until one of them changes it (copy-on-write): reading is free,
// mut() copies the elements only if another copy still shares them.
template <typename T>
class CowVector {
 public:
  const std::vector<T>& get() const { return v_ ? *v_ : none(); }
  std::vector<T>& mut() {
    if (!v_) v_ = std::make_shared<std::vector<T>>();
    else if (v_.use_count() > 1) v_ = std::make_shared<std::vector<T>>(*v_);
    return *v_;
  }
  void clear() { v_.reset(); }  // never copies
  size_t size() const { return get().size(); }
  bool empty() const { return get().empty(); }
  const T& operator[](size_t i) const { return get()[i]; }
  typename std::vector<T>::const_iterator begin() const { return get().begin(); }
  typename std::vector<T>::const_iterator end() const { return get().end(); }

 private:
  static const std::vector<T>& none() {
    static const std::vector<T> e;
    return e;
  }
  std::shared_ptr<std::vector<T>> v_;
};

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
  CowVector<RuleObj> rules;          // change only through TableObj's rule functions (use counts)
  bool base() const { return hook.has_value(); }
};

struct SetObj {
  std::string name;
  uint64_t handle = 0;
  uint32_t flags = 0;        // NFT_SET_*
  NftnlSet attrs;            // everything but table/name/handle/id, re-serialised for dumps
  ElemSet elems;
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
  std::vector<SetObj> sets;          // change only through add_set / erase_sets (name index)
  std::vector<ObjObj> objs;
  std::vector<FlowtableObj> flowtables;

  ChainObj* chain(const std::string& n);
  const ChainObj* chain(const std::string& n) const;
  SetObj* set(const std::string& n);              // by name: a hash lookup (tables with 10,000
  const SetObj* set(const std::string& n) const;  // anonymous sets look sets up per rule)
  SetObj& add_set(SetObj s);
  void erase_sets(const std::set<std::string>& names);  // in one pass
  // The lowest n >= 0 that no set's name reads as with sscanf(name, pattern, &n), as
  // nf_tables_set_alloc_name() picks the number of an anonymous set ("__set%d").
  int lowest_free_set_number(const std::string& pattern);
  ObjObj* obj(const std::string& n, uint32_t type);
  FlowtableObj* flowtable(const std::string& n);
  ChainObj* chain_by_handle(uint64_t h);
  SetObj* set_by_handle(uint64_t h);
  // Kernel `use` counters.
  uint32_t table_use() const;
  uint32_t chain_use(const ChainObj& c) const;   // rules in it + jumps/gotos to it
  uint32_t set_use(const SetObj& s) const;       // rules bound to it
  uint64_t alloc_handle() { return next_handle++; }

  // Every change of a chain's rules goes through these, which keep the references counted.
  void insert_rule(ChainObj& c, size_t index, RuleObj r);
  void replace_rule(ChainObj& c, size_t index, RuleObj r);
  void erase_rule(ChainObj& c, size_t index);
  // Removes every rule of `c`; `each(i)` runs, in order, right after rule i's references are released.
  template <typename F>
  void clear_rules(ChainObj& c, F each) {
    for (size_t i = 0; i < c.rules.size(); ++i) {
      bind(c.rules[i], -1);
      each(i);
    }
    c.rules.clear();
  }

 private:
  void bind(const RuleObj& r, int delta);
  // Name -> position in `sets`, and the numbers set names take for one "%d" pattern: derived from
  // `sets`, built when first needed and kept up to date by add_set / erase_sets. Shared between copies
  // of the table until one of them adds or removes a set (then that one copies it).
  struct SetNames {
    std::unordered_map<std::string, size_t> pos;
    std::string pattern;                 // empty: `numbers` not built
    std::map<int, uint32_t> numbers;     // number -> sets whose name reads as it
    int lowest_free = 0;                 // the lowest number not in `numbers`
  };
  const SetNames& set_names() const;
  SetNames& set_names_mut();
  mutable std::shared_ptr<SetNames> set_names_;
  // name -> references from rules (by name, as the rules hold them): jump/goto targets, and sets bound
  // by lookup/dynset/objref. Shared between copies until changed, so copying a table does not copy them.
  std::shared_ptr<std::map<std::string, uint32_t>> jump_refs_, set_refs_;
};

struct Store {
  std::vector<TableObj> tables;
  uint64_t next_table_handle = 1;  // net-wide, never reset (the kernel's nft_net->table_handle)
  uint32_t genid = 1;              // the kernel's base_seq; a fresh namespace starts at 1

  TableObj* table(uint8_t family, const std::string& name);
  const TableObj* table(uint8_t family, const std::string& name) const;
  TableObj* table_by_handle(uint8_t family, uint64_t h);
  // After a commit: folds every set's batch changes into its (no longer shared) committed elements.
  void settle();
};

}  // namespace nfjit::nft
