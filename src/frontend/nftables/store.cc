#include "frontend/nftables/store.h"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstdio>

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
const TableObj::SetNames& TableObj::set_names() const {
  // Rebuilt when missing or visibly stale (`sets` changed behind our back: a test building a Store).
  if (!set_names_ || set_names_->pos.size() != sets.size()) {
    auto fresh = std::make_shared<SetNames>();
    fresh->pos.reserve(sets.size());
    for (size_t i = 0; i < sets.size(); ++i) fresh->pos.emplace(sets[i].name, i);
    set_names_ = std::move(fresh);
  }
  return *set_names_;
}

TableObj::SetNames& TableObj::set_names_mut() {
  set_names();
  if (set_names_.use_count() > 1) set_names_ = std::make_shared<SetNames>(*set_names_);
  return *set_names_;
}

SetObj* TableObj::set(const std::string& n) {
  return const_cast<SetObj*>(static_cast<const TableObj*>(this)->set(n));
}
const SetObj* TableObj::set(const std::string& n) const {
  auto& names = set_names();
  auto it = names.pos.find(n);
  if (it == names.pos.end()) return nullptr;
  if (it->second < sets.size() && sets[it->second].name == n) return &sets[it->second];
  set_names_.reset();  // stale: look again from scratch
  return find_in(sets, [&](const SetObj& s) { return s.name == n; });
}

namespace {
bool number_of(const std::string& name, const std::string& pattern, int& n) {
  return std::sscanf(name.c_str(), pattern.c_str(), &n) == 1 && n >= 0;
}
}  // namespace

SetObj& TableObj::add_set(SetObj s) {
  auto& names = set_names_mut();
  names.pos.emplace(s.name, sets.size());
  int n;
  if (!names.pattern.empty() && number_of(s.name, names.pattern, n)) {
    ++names.numbers[n];
    while (names.numbers.count(names.lowest_free)) ++names.lowest_free;
  }
  sets.push_back(std::move(s));
  return sets.back();
}

void TableObj::erase_sets(const std::set<std::string>& gone) {
  if (gone.empty()) return;
  std::erase_if(sets, [&](const SetObj& s) { return gone.count(s.name) != 0; });
  set_names_.reset();
}

int TableObj::lowest_free_set_number(const std::string& pattern) {
  if (set_names().pattern == pattern) return set_names_->lowest_free;
  auto& names = set_names_mut();
  {
    names.pattern = pattern;
    names.numbers.clear();
    int n;
    for (const auto& s : sets)
      if (number_of(s.name, pattern, n)) ++names.numbers[n];
    names.lowest_free = 0;
    while (names.numbers.count(names.lowest_free)) ++names.lowest_free;
  }
  return names.lowest_free;
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

namespace {
uint32_t refs_of(const std::shared_ptr<std::map<std::string, uint32_t>>& m, const std::string& n) {
  if (!m) return 0;
  auto it = m->find(n);
  return it == m->end() ? 0 : it->second;
}
void add_ref(std::shared_ptr<std::map<std::string, uint32_t>>& m, const std::string& n, int delta) {
  if (!m) m = std::make_shared<std::map<std::string, uint32_t>>();
  else if (m.use_count() > 1) m = std::make_shared<std::map<std::string, uint32_t>>(*m);
  uint32_t& v = (*m)[n];
  v += delta;
  if (v == 0) m->erase(n);
}
}  // namespace

uint32_t TableObj::chain_use(const ChainObj& c) const { return c.rules.size() + refs_of(jump_refs_, c.name); }

uint32_t TableObj::set_use(const SetObj& s) const { return refs_of(set_refs_, s.name); }

void TableObj::bind(const RuleObj& r, int delta) {
  for (const auto& j : r.jump_targets) add_ref(jump_refs_, j, delta);
  for (const auto& s : r.bound_sets) add_ref(set_refs_, s, delta);
}

void TableObj::insert_rule(ChainObj& c, size_t index, RuleObj r) {
  bind(r, +1);
  auto& v = c.rules.mut();
  v.insert(v.begin() + index, std::move(r));
}

void TableObj::replace_rule(ChainObj& c, size_t index, RuleObj r) {
  bind(c.rules[index], -1);
  bind(r, +1);
  c.rules.mut()[index] = std::move(r);
}

void TableObj::erase_rule(ChainObj& c, size_t index) {
  bind(c.rules[index], -1);
  auto& v = c.rules.mut();
  v.erase(v.begin() + index);
}

TableObj* Store::table(uint8_t family, const std::string& name) {
  return find_in(tables, [&](const TableObj& t) { return t.family == family && t.name == name; });
}
const TableObj* Store::table(uint8_t family, const std::string& name) const {
  return find_in(tables, [&](const TableObj& t) { return t.family == family && t.name == name; });
}
void Store::settle() {
  for (auto& t : tables)
    for (auto& s : t.sets) s.elems.settle();
}

TableObj* Store::table_by_handle(uint8_t family, uint64_t h) {
  return find_in(tables, [&](const TableObj& t) { return t.family == family && t.handle == h; });
}

}  // namespace nfjit::nft
