// Tuple-space classifier for long runs of rules (docs/classifier.md).
//
// A run of consecutive rules whose matches are all masked equalities over packet fields (addresses and
// prefixes, protocol, ports and port ranges, ICMP type/code, TCP flags, ct state, marks, interface
// names, MAC...) and whose actions end the chain's evaluation (ACCEPT, DROP, RETURN, goto, and the
// xtables hotdrop) becomes one *segment*: a hash map whose keys are the packet fields under a mask.
// Rules that use the same masks share a *tuple*; per packet the program builds one masked key per tuple
// and looks it up. Each entry's value is the lowest rule index with that masked key, so the minimum over
// the tuples is the first rule of the run that matches: first-match semantics and its counter, with
// per-packet work proportional to the number of tuples, not of rules.
//
// Planning (this file) is pure: it decides the segments of a chain and computes their map contents.
// Emission is classify_emit.cc; the action dispatch lives with the chain layout (compile.cc).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "codegen/gen.h"
#include "codegen/program.h"

namespace nfjit::codegen {

// What one part of a classifier key holds. The key is a sequence of 32-bit words in memory order (what
// a 4-byte load of the bytes yields): [tuple id][valid][fields...].
enum class KeyPart : uint8_t {
  Valid,  // the descriptor's valid word plus presence bits of metadata read for the segment
  Desc,   // a descriptor integer field (host-order u32): field = which
  Meta,   // a metadata field loaded through the hook (mark, ct state, ...): field = which
  Addr,   // source / destination address: 1 or 4 words, network order
  Iface,  // interface name, 4 words (field IifIndex = in, OifIndex = out)
  Mac,    // source MAC: 2 words, the last half-word zero
};

struct KeyField {
  KeyPart part = KeyPart::Valid;
  ir::Field field = ir::Field::NfProto;
  uint8_t words = 1;
  uint16_t off = 0;  // byte offset in the key (the tuple id is at 0)
  bool operator<(const KeyField& o) const { return std::tie(part, field) < std::tie(o.part, o.field); }
};

// The action stored in a map value.
enum ClsAction : uint32_t { kClsAccept = 0, kClsDrop = 1, kClsReturn = 2, kClsHotdrop = 3, kClsGotoFirst = 4 };

struct ClsValue {
  uint32_t rule = 0;    // index of the rule in its chain
  uint32_t action = 0;  // ClsAction; kClsGotoFirst + i = goto Segment::gotos[i]
};

struct Segment {
  size_t first = 0, last = 0;      // rules [first, last) of the chain
  std::vector<KeyField> layout;    // after the tuple id; layout[0] is the valid word
  uint32_t key_bytes = 0;          // including the tuple id
  std::vector<std::vector<uint32_t>> tuples;  // per tuple: mask words of the key after the tuple id
  // Tuples from first_hotdrop on hold only xtables hotdrop entries: they are looked up only when the
  // packet has one of the hotdrop conditions in hotdrop_bits (a "no condition" valid bit clear).
  size_t first_hotdrop = 0;
  uint32_t hotdrop_bits = 0;
  std::vector<std::string> gotos;  // goto targets, indexed by action - kClsGotoFirst
  // Map contents: key bytes -> value, one per key (the lowest rule index), sorted by key.
  std::vector<std::pair<std::vector<uint8_t>, ClsValue>> entries;
  std::vector<uint32_t> actions;   // the distinct ClsActions of the entries, plus every goto

  std::vector<ir::Field> metas;    // metadata fields loaded at the segment's entry (order = presence bit)
  bool mac = false;                // the source MAC is loaded at the segment's entry
  bool iif = false, oif = false;   // interface names loaded at the segment's entry
};

// Valid-word bits the classifier adds for metadata it loads itself (beside packet_desc.h's ValidBit).
inline constexpr uint32_t kClsMacPresent = 1u << 23;
inline constexpr uint32_t kClsMetaPresentFirst = 24;  // + index in Segment::metas
inline constexpr size_t kClsMaxMetas = 8;
// Largest key (bytes) a segment may use: the key area of the descriptor (packet_desc.h).
inline constexpr uint32_t kClsMaxKeyBytes = 96;

struct ClassifyOptions {
  // A run becomes a segment only with at least this many rules (0: never classify).
  uint32_t min_rules = 32;
  // ... and at most this many tuples, and at least `rules_per_tuple` rules per tuple on average (a
  // lookup costs about as much as that many linear rules; bench/README.md has the measurement).
  uint32_t max_tuples = 48;
  uint32_t rules_per_tuple = 24;
  // A rule whose matches expand to more entries than this is left to linear code.
  uint32_t max_entries_per_rule = 256;
};

// The segments of `chain` (sorted, disjoint). Rules outside them are emitted as linear code.
std::vector<Segment> plan_segments(const Gen& g, const ir::Chain& chain, const ClassifyOptions& opt);

// The hash map of a segment, with its entries as initial contents (moved out of `s`).
MapSpec segment_map_spec(Segment& s, const std::string& chain);

// Emits the lookups of segment `s` (map index `map`): falls through with r8 = the index of the first
// matching rule of the segment and r9 = its ClsAction, or jumps to `none` when no rule matches.
// Clobbers r0-r5.
Result<void> emit_classify_lookup(Gen& g, const Segment& s, int map, const ir::Rule& first_rule, Label none);

}  // namespace nfjit::codegen
