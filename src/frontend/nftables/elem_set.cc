#include "frontend/nftables/elem_set.h"

namespace nfjit::nft {

// Committed elements. A removed element leaves a tombstone (null `elem`) so positions stay valid;
// tombstones are compacted away once they outnumber the live elements.
struct ElemSet::Base {
  std::vector<ElemObj> slots;                        // insertion order
  std::unordered_map<std::string, uint32_t> index;   // id -> slot of a live element
  size_t live = 0;
};

// A copy's own changes on top of the shared base.
struct ElemSet::Delta {
  std::vector<ElemObj> added;                        // insertion order; tombstones when removed again
  std::unordered_map<std::string, uint32_t> added_index;
  std::unordered_set<std::string> removed;           // ids of base elements this copy removed
  size_t added_live = 0;
};

ElemSet::ElemSet() = default;
ElemSet::~ElemSet() = default;
ElemSet::ElemSet(ElemSet&&) noexcept = default;
ElemSet& ElemSet::operator=(ElemSet&&) noexcept = default;
ElemSet::ElemSet(const ElemSet& o) : base_(o.base_), delta_(o.delta_ ? std::make_unique<Delta>(*o.delta_) : nullptr) {}
ElemSet& ElemSet::operator=(const ElemSet& o) {
  if (this != &o) {
    base_ = o.base_;
    delta_ = o.delta_ ? std::make_unique<Delta>(*o.delta_) : nullptr;
  }
  return *this;
}

ElemSet::Delta& ElemSet::delta() {
  if (!delta_) delta_ = std::make_unique<Delta>();
  return *delta_;
}

const ElemObj* ElemSet::find(const std::string& id) const {
  if (delta_) {
    auto a = delta_->added_index.find(id);
    if (a != delta_->added_index.end()) return &delta_->added[a->second];
    if (delta_->removed.count(id)) return nullptr;
  }
  if (!base_) return nullptr;
  auto b = base_->index.find(id);
  return b == base_->index.end() ? nullptr : &base_->slots[b->second];
}

size_t ElemSet::size() const {
  size_t n = base_ ? base_->live : 0;
  if (delta_) n = n - delta_->removed.size() + delta_->added_live;
  return n;
}

void ElemSet::add(ElemObj e) {
  Delta& d = delta();
  d.added_index.emplace(e.id, static_cast<uint32_t>(d.added.size()));
  d.added.push_back(std::move(e));
  ++d.added_live;
}

bool ElemSet::remove(const std::string& id) {
  if (delta_) {
    auto a = delta_->added_index.find(id);
    if (a != delta_->added_index.end()) {
      delta_->added[a->second].elem.reset();
      delta_->added_index.erase(a);
      --delta_->added_live;
      return true;
    }
    if (delta_->removed.count(id)) return false;
  }
  if (!base_ || !base_->index.count(id)) return false;
  delta().removed.insert(id);
  return true;
}

void ElemSet::clear() {
  base_.reset();
  delta_.reset();
}

void ElemSet::settle() {
  if (!delta_) return;
  if ((!base_ || base_->slots.empty()) && delta_->removed.empty()) {
    // A set filled by this batch (the usual load): the delta becomes the base as it is.
    auto b = std::make_shared<Base>();
    b->slots = std::move(delta_->added);
    b->index = std::move(delta_->added_index);
    b->live = delta_->added_live;
    base_ = std::move(b);
    delta_.reset();
    return;
  }
  if (!base_)
    base_ = std::make_shared<Base>();
  else if (base_.use_count() > 1)
    base_ = std::make_shared<Base>(*base_);  // someone still reads the old version: keep it intact
  Base& b = *base_;
  for (const auto& id : delta_->removed) {
    auto it = b.index.find(id);
    if (it == b.index.end()) continue;
    b.slots[it->second].elem.reset();
    b.index.erase(it);
    --b.live;
  }
  for (auto& e : delta_->added) {
    if (!e.elem) continue;
    b.index[e.id] = static_cast<uint32_t>(b.slots.size());
    b.slots.push_back(std::move(e));
    ++b.live;
  }
  delta_.reset();
  if (b.slots.size() - b.live > b.live + 1024) {
    std::vector<ElemObj> live;
    live.reserve(b.live);
    for (auto& e : b.slots)
      if (e.elem) live.push_back(std::move(e));
    b.slots = std::move(live);
    b.index.clear();
    b.index.reserve(b.slots.size());
    for (uint32_t i = 0; i < b.slots.size(); ++i) b.index.emplace(b.slots[i].id, i);
  }
}

bool ElemSet::diff(const ElemSet& before, std::vector<const ElemObj*>& added,
                   std::vector<const ElemObj*>& removed) const {
  if (base_ != before.base_ || before.delta_) return false;
  if (!delta_) return true;
  for (const auto& e : delta_->added)
    if (e.elem && !delta_->removed.count(e.id)) added.push_back(&e);
  for (const auto& id : delta_->removed) {
    if (delta_->added_index.count(id)) continue;  // removed and added back: unchanged
    removed.push_back(&base_->slots[base_->index.at(id)]);
  }
  return true;
}

ElemSet::const_iterator ElemSet::begin() const {
  const_iterator it;
  it.set_ = this;
  it.skip();
  return it;
}

ElemSet::const_iterator& ElemSet::const_iterator::operator++() {
  ++i_;
  skip();
  return *this;
}

// Moves to the first live element at or after the current position (base slots, then added ones).
void ElemSet::const_iterator::skip() {
  const Base* b = set_->base_.get();
  const Delta* d = set_->delta_.get();
  if (!in_added_) {
    for (; b && i_ < b->slots.size(); ++i_) {
      const ElemObj& e = b->slots[i_];
      if (!e.elem || (d && !d->removed.empty() && d->removed.count(e.id))) continue;
      cur_ = &e;
      return;
    }
    in_added_ = true;
    i_ = 0;
  }
  for (; d && i_ < d->added.size(); ++i_) {
    if (!d->added[i_].elem) continue;
    cur_ = &d->added[i_];
    return;
  }
  cur_ = nullptr;
}

}  // namespace nfjit::nft
