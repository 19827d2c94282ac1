// Reading the per-CPU counters map a generated program updates: one {packets, bytes} per CPU per slot,
// summed here.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/program.h"
#include "nfjit/result.h"

namespace nfjit::runtime {

// Sums every CPU's value for slots [0, n).
Result<std::vector<codegen::CounterValue>> read_counters(int map_fd, uint32_t n);

}  // namespace nfjit::runtime
