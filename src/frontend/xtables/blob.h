// An xtables table blob (the entries of an ipt_replace / ip6t_replace, or of a GET_ENTRIES answer)
// parsed into entries, and the kernel's structural validation of it: translate_table() up to, but not
// including, the per-extension checks (those live in extension_check.h, they need the registry).
//
// The validation follows net/ipv4/netfilter/ip_tables.c and net/netfilter/x_tables.c of the running
// kernel line by line (check_entry_size_and_hooks, xt_check_entry_offsets, xt_check_entry_match,
// xt_check_table_hooks, mark_source_chains, xt_find_jump_offset) so that a malformed blob gets exactly
// the errno the kernel would give, in the same order of checks.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "frontend/xtables/abi.h"
#include "nfjit/result.h"

namespace nfjit::xt {

// The fixed header of ipt_replace / ip6t_replace (identical layout for both families).
struct ReplaceHeader {
  std::string name;
  uint32_t valid_hooks = 0;
  uint32_t num_entries = 0;
  uint32_t size = 0;
  std::array<uint32_t, kNumHooks> hook_entry{}, underflow{};
  uint32_t num_counters = 0;
  uint64_t counters_ptr = 0;  // the caller's user pointer for the old counters (opaque here)
};

// do_replace()'s checks on the header and the option length; the entries follow the header in `opt`.
Result<ReplaceHeader> parse_replace_header(std::span<const uint8_t> opt);

// A match or target inside an entry. Offsets are relative to the start of the entry.
struct ExtRef {
  uint32_t offset = 0;  // of the xt_entry_match / xt_entry_target header
  uint16_t size = 0;    // u.match_size / u.target_size, header included
  std::string name;
  uint8_t revision = 0;
  uint32_t data_offset() const { return offset + sizeof(xt_entry_match); }
  uint32_t data_size() const { return size - sizeof(xt_entry_match); }
};

struct Entry {
  uint32_t offset = 0;  // of the entry in the table
  uint16_t target_offset = 0, next_offset = 0;
  std::vector<ExtRef> matches;
  ExtRef target;
  bool standard = false;  // target is XT_STANDARD_TARGET ("")
  int32_t verdict = 0;    // standard: negative built-in verdict or a byte offset to jump to
  bool error = false;     // target is XT_ERROR_TARGET ("ERROR"): a user chain head or the table's end
  std::string error_name; // its errorname (the user chain's name, or "ERROR" at the end)
  bool unconditional = false;  // kernel's unconditional(): no matches and an all-zero ip part
  uint32_t comefrom = 0;  // hooks this entry is reachable from, as mark_source_chains leaves it
};

// A table that passed the structural validation.
struct Table {
  const FamilyAbi* abi = nullptr;
  std::string name;
  uint32_t valid_hooks = 0;
  // As the kernel's xt_table_info holds them: 0xFFFFFFFF for hooks not in valid_hooks.
  std::array<uint32_t, kNumHooks> hook_entry{}, underflow{};
  std::vector<uint8_t> blob;  // the entries exactly as received
  std::vector<Entry> entries;

  std::span<const uint8_t> entry_bytes(const Entry& e) const {
    return std::span<const uint8_t>(blob).subspan(e.offset, e.next_offset);
  }
  std::span<const uint8_t> ext_data(const Entry& e, const ExtRef& x) const {
    return std::span<const uint8_t>(blob).subspan(e.offset + x.data_offset(), x.data_size());
  }
  // Index of the entry starting at byte `offset`, or -1.
  int index_at(uint32_t offset) const;
};

// translate_table() minus find_check_entry(): entry walk, hooks/underflows, count, loops.
Result<Table> validate_structure(const FamilyAbi& abi, const ReplaceHeader& h, std::vector<uint8_t> blob);

}  // namespace nfjit::xt
