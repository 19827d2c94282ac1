// Reading the per-CPU counters map a generated program updates: one {packets, bytes} per CPU per slot,
// summed here.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/program.h"
#include "nfjit/result.h"

namespace nfjit::runtime {

// Sums every CPU's value for slots [0, n), with batched map lookups (one per slot where the kernel has
// no batch operations for the map).
Result<std::vector<codegen::CounterValue>> read_counters(int map_fd, uint32_t n);

// What one program counted: values[i] is the total of slots[i].
struct ProgramCounters {
  std::vector<codegen::CounterSlot> slots;
  std::vector<codegen::CounterValue> values;
};

// One value per requested slot: the sum over `programs` of what they count for it (a slot no program
// counts reads 0; a user chain reached from several points is counted by several programs). Linear in
// the number of slots: no ordered map of strings.
std::vector<codegen::CounterValue> sum_for_slots(const std::vector<ProgramCounters>& programs,
                                                 const std::vector<codegen::CounterSlot>& slots);

}  // namespace nfjit::runtime
