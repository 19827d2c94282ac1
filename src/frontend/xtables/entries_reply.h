// GET_ENTRIES answers built the way copy_entries_to_user() builds them: per entry the ipt_entry as
// stored (with the kernel's comefrom hook mask and the live counters), then for each match and the
// target only size, name (up to its NUL), revision and the data the extension exports (usersize), the
// rest of its aligned data zeroed. Bytes the kernel does not write keep the caller's buffer contents.
#pragma once

#include <linux/netfilter/x_tables.h>

#include <span>
#include <vector>

#include "frontend/xtables/blob.h"

namespace nfjit::xt {

// `request` is the caller's whole getsockopt buffer (ipt_get_entries header + room for the entries);
// `counters` has one value per entry.
std::vector<uint8_t> entries_reply(const Table& t, std::span<const xt_counters> counters,
                                   std::span<const uint8_t> request);

}  // namespace nfjit::xt
