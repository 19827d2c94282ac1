// ir::Set -> BPF map. Key layout follows ir.h: the concatenation of the key fields, each in its packet
// width (addresses 4/16 bytes network order, ports 2 bytes network order, 1-byte fields, 4-byte host
// order marks/indexes), each padded to 4 bytes as nft does.
//  - exact-key sets (single field or concatenation): BPF_MAP_TYPE_HASH, key = that concatenation;
//  - single-field interval sets: BPF_MAP_TYPE_LPM_TRIE, key = u32 prefix length + the padded field,
//    every [lo, hi] decomposed into the minimal list of prefixes;
//  - interval concatenations: EOPNOTSUPP.
// Values are a u32 1 (presence). The runtime encodes live element updates with encode_set_element().
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/program.h"
#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::codegen {

struct SetMapEntry {
  std::vector<uint8_t> key;
  std::vector<uint8_t> value;
};

// Bytes a key field occupies in the packet (before padding); 0 for fields a set key cannot hold.
uint32_t set_field_width(const ir::SetKeyField& f);
// Bytes of the whole (padded) concatenation.
uint32_t set_key_bytes(const ir::Set& s);

// Map type, key/value sizes, flags and initial entries for a set; EOPNOTSUPP for what no map can hold.
Result<MapSpec> set_map_spec(const ir::Set& s);
// The map entries one element becomes (interval elements: one per prefix).
Result<std::vector<SetMapEntry>> encode_set_element(const ir::Set& s, const ir::SetElement& el);

// Minimal prefixes covering [lo, hi] over `bits`-bit big-endian numbers (bits <= 128): (value, prefixlen).
std::vector<std::pair<unsigned __int128, uint32_t>> range_to_prefixes(unsigned __int128 lo, unsigned __int128 hi,
                                                                        uint32_t bits);

}  // namespace nfjit::codegen
