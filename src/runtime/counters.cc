#include "runtime/counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <string>

namespace nfjit::runtime {

Result<std::vector<codegen::CounterValue>> read_counters(int map_fd, uint32_t n) {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error(EINVAL, "cannot count possible CPUs");
  std::vector<codegen::CounterValue> out(n);
  std::vector<codegen::CounterValue> percpu(static_cast<size_t>(ncpu));
  for (uint32_t i = 0; i < n; ++i) {
    if (bpf_map_lookup_elem(map_fd, &i, percpu.data()) != 0) {
      int err = errno;
      return make_error(err, "cannot read counter slot " + std::to_string(i) + ": " + strerror(err));
    }
    for (const auto& v : percpu) {
      out[i].packets += v.packets;
      out[i].bytes += v.bytes;
    }
  }
  return out;
}

}  // namespace nfjit::runtime
