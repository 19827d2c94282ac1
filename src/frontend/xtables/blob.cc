#include "frontend/xtables/blob.h"

#include <algorithm>
#include <climits>

namespace nfjit::xt {

namespace {

Error einval(const std::string& why) { return make_error(EINVAL, "invalid table blob: " + why); }

// x_tables.c verdict_ok(): positive jump offsets, RETURN, ACCEPT, DROP, QUEUE. Zero is refused.
bool verdict_ok(int32_t v) {
  if (v > 0) return true;
  if (v < 0) {
    if (v == XT_RETURN) return true;
    int n = -v - 1;
    return n == NF_ACCEPT || n == NF_DROP || n == NF_QUEUE;
  }
  return false;
}

// xt_check_entry_match(): matches tile [elems, target) exactly, each aligned and at least a header.
int check_entry_match(std::span<const uint8_t> blob, size_t match, size_t target) {
  long length = static_cast<long>(target) - static_cast<long>(match);
  if (length == 0) return 0;
  size_t pos = match;
  do {
    if (pos % alignof(xt_entry_match)) return -EINVAL;
    if (length < static_cast<long>(sizeof(xt_entry_match))) return -EINVAL;
    uint16_t msize = load<uint16_t>(blob, pos);
    if (msize < sizeof(xt_entry_match)) return -EINVAL;
    if (msize > length) return -EINVAL;
    length -= msize;
    pos += msize;
  } while (length > 0);
  return 0;
}

// xt_check_entry_offsets(), with `e` the entry's offset into `blob` (its bounds were checked before).
int check_entry_offsets(const FamilyAbi& abi, std::span<const uint8_t> blob, size_t e, uint32_t target_offset,
                        uint32_t next_offset) {
  if (target_offset < abi.entry_size) return -EINVAL;
  if (target_offset + sizeof(xt_entry_target) > next_offset) return -EINVAL;
  size_t t = e + target_offset;
  uint16_t tsize = load<uint16_t>(blob, t);
  if (tsize < sizeof(xt_entry_target)) return -EINVAL;
  if (target_offset + tsize > next_offset) return -EINVAL;
  const uint8_t* name = blob.data() + t + 2;
  std::string tname = fixed_name(name, XT_EXTENSION_MAXNAMELEN);
  // The kernel's strcmp() reads up to the NUL; an unterminated name equals neither "" nor "ERROR".
  bool terminated = tname.size() < XT_EXTENSION_MAXNAMELEN;
  if (terminated && tname == XT_STANDARD_TARGET) {
    if (xt_align(target_offset + sizeof(xt_standard_target)) != next_offset) return -EINVAL;
    if (!verdict_ok(load<int32_t>(blob, t + sizeof(xt_entry_target)))) return -EINVAL;
  } else if (terminated && tname == XT_ERROR_TARGET) {
    // error_tg_ok(): exact size and a terminated errorname.
    if (tsize != sizeof(xt_error_target)) return -EINVAL;
    if (strnlen(reinterpret_cast<const char*>(blob.data() + t + sizeof(xt_entry_target)), XT_FUNCTION_MAXNAMELEN) >=
        XT_FUNCTION_MAXNAMELEN)
      return -EINVAL;
  }
  return check_entry_match(blob, e + abi.entry_size, e + target_offset);
}

bool ip_part_zero(std::span<const uint8_t> ip) {
  return std::all_of(ip.begin(), ip.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

int Table::index_at(uint32_t offset) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), offset,
                             [](const Entry& e, uint32_t o) { return e.offset < o; });
  if (it == entries.end() || it->offset != offset) return -1;
  return static_cast<int>(it - entries.begin());
}

Result<ReplaceHeader> parse_replace_header(std::span<const uint8_t> opt) {
  // The kernel copies sizeof(ipt_replace) unconditionally; a shorter option can only fail the length
  // check below (len < size + sizeof(header)).
  if (opt.size() < sizeof(ipt_replace)) return einval("option shorter than the replace header");
  ipt_replace r;
  std::memcpy(&r, opt.data(), sizeof(r));
  ReplaceHeader h;
  // do_replace(): overflow check first, then the zero-counters check, then the length.
  if (r.num_counters >= INT_MAX / sizeof(xt_counters))
    return make_error(ENOMEM, "num_counters too large");
  if (r.num_counters == 0) return einval("num_counters is 0");
  if (static_cast<uint64_t>(opt.size()) < static_cast<uint64_t>(r.size) + sizeof(r))
    return einval("option shorter than header + size");
  // xt_alloc_table_info(): sizes the kernel would not allocate.
  // sizeof(struct xt_table_info) on x86-64 (kernel-internal: hook/underflow arrays, sizes, jumpstack...).
  constexpr uint64_t kTableInfoSize = 64;
  if (kTableInfoSize + static_cast<uint64_t>(r.size) >= kMaxTableSize)
    return make_error(ENOMEM, "table size too large");
  r.name[sizeof(r.name) - 1] = 0;
  h.name = r.name;
  h.valid_hooks = r.valid_hooks;
  h.num_entries = r.num_entries;
  h.size = r.size;
  for (unsigned i = 0; i < kNumHooks; ++i) {
    h.hook_entry[i] = r.hook_entry[i];
    h.underflow[i] = r.underflow[i];
  }
  h.num_counters = r.num_counters;
  h.counters_ptr = reinterpret_cast<uintptr_t>(r.counters);
  return h;
}

Result<Table> validate_structure(const FamilyAbi& abi, const ReplaceHeader& h, std::vector<uint8_t> blob_in) {
  Table t;
  t.abi = &abi;
  t.name = h.name;
  t.valid_hooks = h.valid_hooks;
  t.blob = std::move(blob_in);
  t.hook_entry.fill(kNoOffset);
  t.underflow.fill(kNoOffset);
  std::span<const uint8_t> blob(t.blob);
  const size_t size = h.size;
  if (blob.size() < size) return einval("fewer bytes than size");

  // xt_alloc_entry_offsets(): an absurd num_entries cannot be allocated.
  if (h.num_entries > kMaxTableSize / sizeof(unsigned int)) return make_error(ENOMEM, "num_entries too large");

  // Entry walk (xt_entry_foreach + check_entry_size_and_hooks).
  uint32_t count = 0;
  for (size_t pos = 0; pos < size;) {
    if (pos % alignof(ipt_entry) != 0 || pos + abi.entry_size >= size)
      return einval("entry at " + std::to_string(pos) + " misaligned or past the end");
    uint16_t next = load<uint16_t>(blob, pos + abi.off_next_offset);
    uint16_t toff = load<uint16_t>(blob, pos + abi.off_target_offset);
    if (pos + next > size) return einval("entry at " + std::to_string(pos) + " runs past the end");
    if (next < abi.entry_size + sizeof(xt_entry_target))
      return einval("entry at " + std::to_string(pos) + " smaller than an entry with a target");
    uint8_t flags = blob[pos + abi.ip_size - 2], invflags = blob[pos + abi.ip_size - 1];
    if ((flags & ~abi.flags_mask) || (invflags & ~abi.invflags_mask))
      return einval("entry at " + std::to_string(pos) + " has unknown ip flags");
    if (check_entry_offsets(abi, blob, pos, toff, next) != 0)
      return einval("entry at " + std::to_string(pos) + " has bad target/match offsets");

    Entry e;
    e.offset = static_cast<uint32_t>(pos);
    e.target_offset = toff;
    e.next_offset = next;
    for (size_t m = abi.entry_size; m < toff;) {
      ExtRef x;
      x.offset = static_cast<uint32_t>(m);
      x.size = load<uint16_t>(blob, pos + m);
      x.name = fixed_name(blob.data() + pos + m + 2, XT_EXTENSION_MAXNAMELEN);
      x.revision = blob[pos + m + 2 + XT_EXTENSION_MAXNAMELEN];
      e.matches.push_back(x);
      m += x.size;
    }
    e.target.offset = toff;
    e.target.size = load<uint16_t>(blob, pos + toff);
    e.target.name = fixed_name(blob.data() + pos + toff + 2, XT_EXTENSION_MAXNAMELEN);
    e.target.revision = blob[pos + toff + 2 + XT_EXTENSION_MAXNAMELEN];
    bool terminated = e.target.name.size() < XT_EXTENSION_MAXNAMELEN;
    e.standard = terminated && e.target.name == XT_STANDARD_TARGET;
    e.error = terminated && e.target.name == XT_ERROR_TARGET;
    if (e.standard) e.verdict = load<int32_t>(blob, pos + toff + sizeof(xt_entry_target));
    if (e.error)
      e.error_name = fixed_name(blob.data() + pos + toff + sizeof(xt_entry_target), XT_FUNCTION_MAXNAMELEN);
    // unconditional(): target right after the entry and an all-zero ip part.
    e.unconditional = toff == abi.entry_size && ip_part_zero(blob.subspan(pos, abi.ip_size));

    for (unsigned hk = 0; hk < kNumHooks; ++hk) {
      if (!(h.valid_hooks & (1u << hk))) continue;
      if (pos == h.hook_entry[hk]) t.hook_entry[hk] = h.hook_entry[hk];
      if (pos == h.underflow[hk]) {
        // check_underflow(): unconditional STANDARD ACCEPT or DROP.
        int v = -e.verdict - 1;
        if (!e.unconditional || !e.standard || (v != NF_DROP && v != NF_ACCEPT))
          return einval("underflow of hook " + std::to_string(hk) + " is not an unconditional ACCEPT/DROP");
        t.underflow[hk] = h.underflow[hk];
      }
    }
    t.entries.push_back(std::move(e));
    ++count;
    pos += next;
  }
  if (count != h.num_entries)
    return einval(std::to_string(count) + " entries, header says " + std::to_string(h.num_entries));

  // xt_check_table_hooks(): every valid hook found, entries and underflows strictly increasing.
  {
    bool check = false;
    uint32_t max_entry = 0, max_uflow = 0;
    for (unsigned i = 0; i < kNumHooks; ++i) {
      if (!(h.valid_hooks & (1u << i))) continue;
      if (t.hook_entry[i] == kNoOffset) return einval("hook " + std::to_string(i) + " entry not at an entry");
      if (t.underflow[i] == kNoOffset) return einval("hook " + std::to_string(i) + " underflow not at an entry");
      if (check && (max_uflow >= t.underflow[i] || max_entry >= t.hook_entry[i]))
        return einval("hook entries/underflows unsorted or duplicate");
      max_entry = t.hook_entry[i];
      max_uflow = t.underflow[i];
      check = true;
    }
  }

  // mark_source_chains(): walk every hook's path, refusing loops and jumps to non-entries. The kernel
  // keeps back pointers in counters.pcnt and a "being visited" bit (1 << NF_INET_NUMHOOKS) in comefrom.
  const uint32_t kBusy = 1u << kNumHooks;
  std::vector<uint32_t> back(t.entries.size(), 0);
  auto loop = [](const std::string& why) { return make_error(ELOOP, "table has a loop or bad jump: " + why); };
  for (unsigned hook = 0; hook < kNumHooks; ++hook) {
    if (!(h.valid_hooks & (1u << hook))) continue;
    uint32_t pos = t.hook_entry[hook];
    int idx = t.index_at(pos);
    back[idx] = pos;
    for (;;) {
      Entry* e = &t.entries[idx];
      bool visited = e->comefrom & (1u << hook);
      if (e->comefrom & kBusy) return loop("entry at " + std::to_string(pos) + " reached twice");
      e->comefrom |= (1u << hook) | kBusy;
      if ((e->unconditional && e->standard && e->verdict < 0) || visited) {
        uint32_t oldpos;
        do {
          e->comefrom ^= kBusy;
          oldpos = pos;
          pos = back[idx];
          back[idx] = 0;
          if (pos == oldpos) goto next_hook;
          idx = t.index_at(pos);
          e = &t.entries[idx];
        } while (oldpos == pos + e->next_offset);
        uint32_t sz = e->next_offset;
        if (pos + sz >= size) return loop("fell off the end of the table");
        idx = t.index_at(pos + sz);
        back[idx] = pos;
        pos += sz;
      } else {
        int64_t newpos = e->verdict;
        if (e->standard && newpos >= 0) {
          if (t.index_at(static_cast<uint32_t>(newpos)) < 0)
            return loop("jump to " + std::to_string(newpos) + " is not an entry");
        } else {
          newpos = pos + e->next_offset;
          if (newpos >= static_cast<int64_t>(size)) return loop("fell off the end of the table");
        }
        idx = t.index_at(static_cast<uint32_t>(newpos));
        back[idx] = pos;
        pos = static_cast<uint32_t>(newpos);
      }
    }
  next_hook:;
  }
  return t;
}

}  // namespace nfjit::xt
