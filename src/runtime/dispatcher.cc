#include "runtime/dispatcher.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/netfilter.h>

#include <cstring>
#include <vector>

#include "nfjit/bpf_compat.h"

namespace nfjit::runtime {

int32_t drop_verdict(uint32_t prog_type) {
  if (prog_type == BPF_PROG_TYPE_XDP) return XDP_DROP;
  if (prog_type == BPF_PROG_TYPE_SCHED_CLS) return compat::TCX_DROP;
  return NF_DROP;
}

Result<Dispatcher> make_dispatcher(uint32_t prog_type, uint32_t expected_attach_type, const std::string& name) {
  Dispatcher d;
  int pa = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "nfjit_slot", 4, 4, 1, nullptr);
  if (pa < 0) {
    int err = errno;
    return make_error(err, "cannot create the dispatcher's program array: " + std::string(strerror(err)));
  }
  d.progs.reset(pa);
  // r1 (ctx) is passed through untouched; bpf_tail_call(ctx, map, 0) does not return on success.
  const std::vector<bpf_insn> insns = {
      {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD, 0, pa},
      {0, 0, 0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0},
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, drop_verdict(prog_type)},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, lo);
  lo.expected_attach_type = static_cast<enum bpf_attach_type>(expected_attach_type);
  std::string pname = name.substr(0, 15);
  int fd = bpf_prog_load(static_cast<enum bpf_prog_type>(prog_type), pname.c_str(), "GPL", insns.data(),
                         insns.size(), &lo);
  if (fd < 0) {
    int err = errno;
    return make_error(err, "cannot load the dispatcher program (type " + std::to_string(prog_type) +
                               "): " + strerror(err));
  }
  d.prog.reset(fd);
  return d;
}

Result<void> set_slot(int progs_fd, int prog_fd) {
  uint32_t key = 0;
  uint32_t value = static_cast<uint32_t>(prog_fd);
  if (bpf_map_update_elem(progs_fd, &key, &value, BPF_ANY) == 0) return {};
  int err = errno;
  std::string why = err == EINVAL ? "the program's type or expected attach type differs from the one this "
                                    "attachment was created for"
                                  : strerror(err);
  return make_error(err, "cannot swap the ruleset program into its dispatcher slot: " + why);
}

uint32_t slot_prog_id(int progs_fd) {
  uint32_t key = 0, id = 0;
  if (bpf_map_lookup_elem(progs_fd, &key, &id) != 0) return 0;
  return id;
}

}  // namespace nfjit::runtime
