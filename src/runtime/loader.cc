#include "runtime/loader.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace nfjit::runtime {

namespace {

bool is_percpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

std::string errno_text(int err) { return std::string(strerror(err)); }

// The verifier's verdict is at the end of its log; keep the last lines so an error names the reason
// without flooding the caller.
std::string log_tail(const std::string& log, size_t max_bytes = 4096) {
  if (log.size() <= max_bytes) return log;
  size_t from = log.size() - max_bytes;
  size_t nl = log.find('\n', from);
  return "...\n" + log.substr(nl == std::string::npos ? from : nl + 1);
}

}  // namespace

Result<Fd> create_map(const codegen::MapSpec& spec) {
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = spec.flags);
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(spec.type), spec.name.c_str(), spec.key_size,
                          spec.value_size, spec.max_entries, &opts);
  if (fd < 0) {
    int err = errno;
    return make_error(err, "cannot create map '" + spec.name + "': " + errno_text(err));
  }
  Fd map(fd);
  // A per-CPU map takes one value per possible CPU; an initial value given once is written to each.
  int ncpu = is_percpu(spec.type) ? libbpf_num_possible_cpus() : 1;
  if (ncpu <= 0) return make_error(EINVAL, "cannot count possible CPUs");
  // Hash maps with many initial entries (classifier segments, big sets) are written with one batch
  // update per chunk instead of one syscall per element: at 10,000 entries that is 1 ms instead of 10.
  if (!is_percpu(spec.type) && spec.type == BPF_MAP_TYPE_HASH && spec.initial.size() >= 64) {
    constexpr size_t kChunk = 4096;
    std::vector<uint8_t> keys, values;
    for (size_t first = 0; first < spec.initial.size(); first += kChunk) {
      const size_t n = std::min(kChunk, spec.initial.size() - first);
      keys.resize(n * spec.key_size);
      values.resize(n * spec.value_size);
      for (size_t i = 0; i < n; ++i) {
        const auto& [k, v] = spec.initial[first + i];
        if (k.size() != spec.key_size || v.size() != spec.value_size)
          return make_error(EINVAL, "map '" + spec.name + "': initial element has the wrong size");
        std::memcpy(keys.data() + i * spec.key_size, k.data(), k.size());
        std::memcpy(values.data() + i * spec.value_size, v.data(), v.size());
      }
      uint32_t count = static_cast<uint32_t>(n);
      LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = BPF_ANY);
      if (bpf_map_update_batch(map.get(), keys.data(), values.data(), &count, &bopts) != 0) {
        int err = errno;
        return make_error(err, "map '" + spec.name + "': cannot write initial elements: " + errno_text(err));
      }
    }
    return map;
  }
  std::vector<uint8_t> value;
  for (const auto& [k, v] : spec.initial) {
    if (k.size() != spec.key_size) return make_error(EINVAL, "map '" + spec.name + "': initial key has wrong size");
    const size_t stride = (spec.value_size + 7) / 8 * 8;
    if (is_percpu(spec.type)) {
      if (v.size() != spec.value_size)
        return make_error(EINVAL, "map '" + spec.name + "': initial value has wrong size");
      value.assign(stride * ncpu, 0);
      for (int c = 0; c < ncpu; ++c) std::memcpy(value.data() + c * stride, v.data(), v.size());
    } else {
      if (v.size() != spec.value_size)
        return make_error(EINVAL, "map '" + spec.name + "': initial value has wrong size");
      value = v;
    }
    if (bpf_map_update_elem(map.get(), k.data(), value.data(), BPF_ANY) != 0) {
      int err = errno;
      return make_error(err, "map '" + spec.name + "': cannot write initial element: " + errno_text(err));
    }
  }
  return map;
}

Result<LoadedProgram> load_program(const codegen::Program& p, const LoadOptions& opt) {
  LoadedProgram out;
  for (const auto& spec : p.maps) {
    if (!spec.shared.empty() && opt.shared) {
      if (auto it = opt.shared->find(spec.shared); it != opt.shared->end()) {
        int fd = fcntl(it->second, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) return make_error(errno, "map '" + spec.name + "': cannot share: " + errno_text(errno));
        out.maps.emplace_back(fd);
        continue;
      }
    }
    auto m = create_map(spec);
    if (!m) return m.error();
    if (!spec.shared.empty() && opt.shared) (*opt.shared)[spec.shared] = m.value().get();
    out.maps.push_back(std::move(m.value()));
  }

  // Patch map indices into fds: BPF_LD_IMM64 with src_reg BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE.
  std::vector<bpf_insn> insns = p.insns;
  for (size_t i = 0; i < insns.size(); ++i) {
    auto& in = insns[i];
    if (in.code != (BPF_LD | BPF_DW | BPF_IMM)) continue;
    if (in.src_reg == BPF_PSEUDO_MAP_FD || in.src_reg == BPF_PSEUDO_MAP_VALUE) {
      if (in.imm < 0 || static_cast<size_t>(in.imm) >= out.maps.size())
        return make_error(EINVAL, "program '" + p.name + "': instruction " + std::to_string(i) +
                                      " refers to map " + std::to_string(in.imm) + " which does not exist");
      in.imm = out.maps[in.imm].get();
    }
    ++i;  // the second half of the 16-byte instruction
  }

  auto try_load = [&](uint32_t level, std::string* log) -> int {
    std::vector<char> buf;
    LIBBPF_OPTS(bpf_prog_load_opts, lo);
    lo.expected_attach_type = static_cast<enum bpf_attach_type>(p.expected_attach_type);
    if (level > 0) {
      buf.assign(64u << 20, '\0');
      lo.log_level = level;
      lo.log_buf = buf.data();
      lo.log_size = buf.size();
    }
    int fd = bpf_prog_load(static_cast<enum bpf_prog_type>(p.prog_type), p.name.c_str(), "GPL", insns.data(),
                           insns.size(), &lo);
    int err = errno;
    if (level > 0 && log) *log = std::string(buf.data(), strnlen(buf.data(), buf.size()));
    errno = err;
    return fd;
  };

  std::string log;
  int fd = try_load(opt.log_level, &log);
  if (fd < 0) {
    int err = errno;
    if (opt.log_level == 0) {
      fd = try_load(1, &log);
      if (fd >= 0) {  // loaded with logging on: a transient failure; keep going with this fd
        out.prog.reset(fd);
      } else {
        err = errno;
      }
    }
    if (fd < 0)
      return make_error(err, "the kernel refused program '" + p.name + "' (" + std::to_string(insns.size()) +
                                 " instructions): " + errno_text(err) + "\n" + log_tail(log));
  } else {
    out.prog.reset(fd);
  }
  out.verifier_log = std::move(log);

  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(out.prog.get(), &info, &len) == 0) out.prog_id = info.id;
  return out;
}

Result<TestRunResult> test_run(int prog_fd, const std::vector<uint8_t>& data, const std::vector<uint8_t>& ctx,
                               uint32_t repeat) {
  TestRunResult r;
  r.data_out.assign(data.size() + 512, 0);
  std::vector<uint8_t> ctx_copy = ctx;
  LIBBPF_OPTS(bpf_test_run_opts, o);
  o.data_in = data.data();
  o.data_size_in = data.size();
  o.data_out = r.data_out.data();
  o.data_size_out = r.data_out.size();
  if (!ctx_copy.empty()) {
    o.ctx_in = ctx_copy.data();
    o.ctx_size_in = ctx_copy.size();
  }
  o.repeat = repeat;
  if (bpf_prog_test_run_opts(prog_fd, &o) != 0) {
    int err = errno;
    return make_error(err, "BPF_PROG_TEST_RUN failed: " + errno_text(err));
  }
  r.retval = o.retval;
  r.duration_ns = o.duration;
  r.data_out.resize(o.data_size_out);
  return r;
}

}  // namespace nfjit::runtime
