// The program that is attached at a hook once and never replaced: it tail-calls slot 0 of its own
// one-slot PROG_ARRAY, where the current ruleset program sits. Replacing a ruleset is then a single
// bpf_map_update_elem of that slot, which the kernel does with one xchg of the slot pointer: every
// packet runs either the whole old program or the whole new one. If the slot is ever empty the tail
// call falls through and the dispatcher returns the hook's DROP verdict (fail closed).
//
// Kernel constraints (kernel/bpf/core.c __bpf_prog_map_compatible): every program placed in the array
// must have the array owner's prog type, expected_attach_type, JIT state and xdp_has_frags, so the
// dispatcher is loaded with exactly the ruleset program's type and expected attach type.
// A PROG_ARRAY loses all its entries when its last user-space reference goes away (map_release_uref),
// which is why the engine pins it: a dispatcher whose array is flushed drops everything.
#pragma once

#include <cstdint>
#include <string>

#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::runtime {

struct Dispatcher {
  Fd progs;  // BPF_MAP_TYPE_PROG_ARRAY, 1 entry
  Fd prog;   // the dispatcher program
};

// The verdict the dispatcher returns when its slot is empty: XDP_DROP, TCX_DROP or NF_DROP.
int32_t drop_verdict(uint32_t prog_type);

Result<Dispatcher> make_dispatcher(uint32_t prog_type, uint32_t expected_attach_type, const std::string& name);

// Puts `prog_fd` into slot 0: atomic for every packet.
Result<void> set_slot(int progs_fd, int prog_fd);

// The id of the program in slot 0 (0 when empty).
uint32_t slot_prog_id(int progs_fd);

}  // namespace nfjit::runtime
