// Matches: each ir::Match kind is one file (match_int.cc, match_addr.cc, match_set.cc, match_limit.cc,
// match_mac.cc); emit_match() dispatches. Contract of every emitter: fall through when the plain
// (non-inverted) match holds, jump to `if_false` when it does not, and to `absent` when the packet has
// no such field (then the rule fails whether inverted or not). Registers r0-r5, r8, r9 are free.
#pragma once

#include <optional>

#include "codegen/gen.h"

namespace nfjit::codegen {

// A match whose value is known at compile time (interface names at XDP/TC): emits nothing.
std::optional<bool> static_match(const Gen& g, const ir::Match& m);

// The test of a whole rule: falls through when all its matches hold, jumps to `next` when one does not,
// and to `hotdrop` (created on first use; the caller binds it to a drop that counts nothing) when an
// xtables hotdrop condition holds (ir::Hotdrop, rule_test.cc). Returns false when the rule can never
// match (code after the test is unreachable). Matches decided at compile time (static_match) are
// skipped; a false one makes the rule never match (it may still hotdrop on a match before it).
Result<bool> emit_rule_test(Gen& g, const ir::Rule& r, Label next, Label& hotdrop);

// Packets of another family never reach a rule of an ip or ip6 table (parse.cc), nor of a netfilter
// program (compiled per family): then an address match of the other family can never hold.
bool family_impossible(const Gen& g, uint8_t fam);

// The "no hotdrop condition" bits (packet_desc.h) of hotdrop `h`: all set when none of its conditions
// holds for the packet.
uint32_t hotdrop_ok_bits(const Gen& g, const ir::Hotdrop& h);

Result<void> emit_match(Gen& g, const ir::Match& m, const ir::Rule& r, Label if_false, Label absent);

// Where an integer field lives in the packet descriptor, and which valid bit says it holds a value.
struct DescField {
  int16_t off;
  uint32_t valid;
  uint32_t shift = 0;  // Dscp = tos >> 2
};
std::optional<DescField> desc_field(ir::Field f);  // nullopt: not a descriptor field (metadata, addresses)

// Whether reading `f` needs the transport header parsed.
bool field_needs_l4(ir::Field f);

// r1 = the 32-bit value of an integer field (host order), or jump to `absent`.
Result<void> load_field(Gen& g, ir::Field f, Label absent, const ir::Rule& r);

Result<void> emit_int_match(Gen& g, const ir::IntMatch& m, const ir::Rule& r, Label if_false, Label absent);
Result<void> emit_addr_match(Gen& g, const ir::AddrMatch& m, const ir::Rule& r, Label if_false, Label absent);
Result<void> emit_addr_range_match(Gen& g, const ir::AddrRangeMatch& m, const ir::Rule& r, Label if_false,
                                   Label absent);
Result<void> emit_mac_match(Gen& g, const ir::MacMatch& m, const ir::Rule& r, Label if_false, Label absent);
Result<void> emit_set_match(Gen& g, const ir::SetMatch& m, const ir::Rule& r, Label if_false, Label absent);
// Branch-free forms (match_branch_free.cc): r0 |= non-zero when the match (inversion applied) fails.
// Only for matches branch_free() accepts; the caller checks branch_free_valid_bits() once per rule.
// Clobbers r1-r4.
bool branch_free(const Gen& g, const ir::Match& m);
uint32_t branch_free_valid_bits(const ir::Match& m);
Result<void> emit_branch_free_match(Gen& g, const ir::Match& m, const ir::Rule& r);

Result<void> emit_limit_match(Gen& g, const ir::LimitMatch& m, const ir::Rule& r, Label if_false);

}  // namespace nfjit::codegen
