// The elements of one nf_tables set, built for sets of 100,000+ elements and for the copy every batch
// makes of the Store:
//
// - lookup by identity is a hash lookup (not a scan), listing is in insertion order;
// - a copy shares the committed elements (`base`, immutable while shared) and records its own changes
//   in a small `delta` (added elements, removed identities), so copying a set costs O(1) and a batch that
//   adds one element to a 100k set touches one element;
// - after a commit, settle() folds the delta into the base in place (the old Store is gone by then, so
//   the base is no longer shared), O(size of the delta) amortised;
// - the delta is also exactly what a batch changed (diff()), which the daemon turns into BPF map writes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "frontend/nftables/nftnl_ptr.h"

namespace nfjit::nft {

struct ElemObj {
  NftnlElem elem;              // key, key_end, flags, data/verdict, timeout, userdata, expressions
  std::string id;              // identity: key bytes + interval-end flag + key_end bytes
  uint64_t expires_at_ms = 0;  // CLOCK_MONOTONIC ms when a timed element expires; 0: never
};

class ElemSet {
  struct Base;
  struct Delta;

 public:
  ElemSet();
  ~ElemSet();
  ElemSet(const ElemSet& o);
  ElemSet& operator=(const ElemSet& o);
  ElemSet(ElemSet&&) noexcept;
  ElemSet& operator=(ElemSet&&) noexcept;

  const ElemObj* find(const std::string& id) const;
  size_t size() const;
  bool empty() const { return size() == 0; }
  // Appends `e`; its id must not be present (find() first).
  void add(ElemObj e);
  // Removes the element with this id; false when there is none.
  bool remove(const std::string& id);
  void clear();

  // Folds the changes into the base (copying it first only if another ElemSet still shares it).
  void settle();
  // When this set is `before` plus changes (a batch's copy of it): the elements added and removed,
  // net (an element removed and added back with the same identity is in neither). False when the two
  // do not share a base (the set was replaced or flushed): then the caller compares them whole.
  bool diff(const ElemSet& before, std::vector<const ElemObj*>& added, std::vector<const ElemObj*>& removed) const;

  class const_iterator {
   public:
    using value_type = ElemObj;
    using reference = const ElemObj&;
    using pointer = const ElemObj*;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    const ElemObj& operator*() const { return *cur_; }
    const ElemObj* operator->() const { return cur_; }
    const_iterator& operator++();
    bool operator==(const const_iterator& o) const { return cur_ == o.cur_; }
    bool operator!=(const const_iterator& o) const { return cur_ != o.cur_; }

   private:
    friend class ElemSet;
    void skip();
    const ElemSet* set_ = nullptr;
    bool in_added_ = false;
    size_t i_ = 0;
    const ElemObj* cur_ = nullptr;
  };
  const_iterator begin() const;
  const_iterator end() const { return const_iterator(); }

 private:
  std::shared_ptr<Base> base_;
  std::unique_ptr<Delta> delta_;
  Delta& delta();
};

}  // namespace nfjit::nft
