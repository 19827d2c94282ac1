#include "frontend/nftables/store.h"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>

namespace nfjit::nft {

bool SetObj::anonymous() const { return flags & NFT_SET_ANONYMOUS; }

template <typename V, typename P>
static auto find_in(V& v, P pred) -> decltype(&v[0]) {
  auto it = std::find_if(v.begin(), v.end(), pred);
  return it == v.end() ? nullptr : &*it;
}

ChainObj* TableObj::chain(const std::string& n) {
  return find_in(chains, [&](const ChainObj& c) { return c.name == n; });
}
const ChainObj* TableObj::chain(const std::string& n) const {
  return find_in(chains, [&](const ChainObj& c) { return c.name == n; });
}
SetObj* TableObj::set(const std::string& n) {
  return find_in(sets, [&](const SetObj& s) { return s.name == n; });
}
const SetObj* TableObj::set(const std::string& n) const {
  return find_in(sets, [&](const SetObj& s) { return s.name == n; });
}
ObjObj* TableObj::obj(const std::string& n, uint32_t type) {
  return find_in(objs, [&](const ObjObj& o) { return o.name == n && o.type == type; });
}
FlowtableObj* TableObj::flowtable(const std::string& n) {
  return find_in(flowtables, [&](const FlowtableObj& f) { return f.name == n; });
}
ChainObj* TableObj::chain_by_handle(uint64_t h) {
  return find_in(chains, [&](const ChainObj& c) { return c.handle == h; });
}
SetObj* TableObj::set_by_handle(uint64_t h) {
  return find_in(sets, [&](const SetObj& s) { return s.handle == h; });
}

uint32_t TableObj::table_use() const {
  // The kernel counts chains, sets, objects and flowtables; an anonymous set bound to a rule gives its
  // table reference back when bound, so only named sets count.
  uint32_t named_sets = 0;
  for (const auto& s : sets)
    if (!s.anonymous()) ++named_sets;
  return chains.size() + named_sets + objs.size() + flowtables.size();
}

uint32_t TableObj::chain_use(const ChainObj& c) const {
  uint32_t use = c.rules.size();
  for (const auto& other : chains)
    for (const auto& r : other.rules)
      use += std::count(r.jump_targets.begin(), r.jump_targets.end(), c.name);
  return use;
}

uint32_t TableObj::set_use(const SetObj& s) const {
  uint32_t use = 0;
  for (const auto& c : chains)
    for (const auto& r : c.rules) use += std::count(r.bound_sets.begin(), r.bound_sets.end(), s.name);
  return use;
}

TableObj* Store::table(uint8_t family, const std::string& name) {
  return find_in(tables, [&](const TableObj& t) { return t.family == family && t.name == name; });
}
const TableObj* Store::table(uint8_t family, const std::string& name) const {
  return find_in(tables, [&](const TableObj& t) { return t.family == family && t.name == name; });
}
TableObj* Store::table_by_handle(uint8_t family, uint64_t h) {
  return find_in(tables, [&](const TableObj& t) { return t.family == family && t.handle == h; });
}

}  // namespace nfjit::nft
