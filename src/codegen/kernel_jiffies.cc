#include "codegen/kernel_jiffies.h"

#include <bpf/bpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "codegen/insn.h"

namespace nfjit::codegen {
namespace {

using namespace insn;

// "CONFIG_HZ=250" in a kernel config text, or 0.
uint32_t hz_in_config(std::istream& in) {
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("CONFIG_HZ=", 0) == 0) return static_cast<uint32_t>(std::strtoul(line.c_str() + 10, nullptr, 10));
  return 0;
}

uint32_t hz_from_boot_config() {
  struct utsname u{};
  if (uname(&u) != 0) return 0;
  std::ifstream f(std::string("/boot/config-") + u.release);
  return f ? hz_in_config(f) : 0;
}

uint32_t hz_from_proc_config() {
  if (access("/proc/config.gz", R_OK) != 0) return 0;
  FILE* p = popen("gzip -dc /proc/config.gz 2>/dev/null", "r");
  if (!p) return 0;
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  pclose(p);
  std::istringstream in(text);
  return hz_in_config(in);
}

Result<uint32_t> hz_measured() {
  auto a = kernel_jiffies();
  if (!a) return a.error();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto b = kernel_jiffies();
  auto t1 = std::chrono::steady_clock::now();
  if (!b) return b.error();
  double hz = static_cast<double>(*b - *a) / std::chrono::duration<double>(t1 - t0).count();
  uint32_t best = 0;
  for (uint32_t c : {100u, 250u, 300u, 1000u})
    if (best == 0 || std::abs(hz - c) < std::abs(hz - best)) best = c;
  return best;
}

}  // namespace

Result<uint64_t> kernel_jiffies() {
  // *(u64 *)ctx = bpf_jiffies64(); return 0. Syscall programs write their ctx back to user space.
  const bpf_insn prog[] = {mov64_reg(R6, R1), call_helper(kJiffies64), stx(BPF_DW, R6, R0, 0), mov64_imm(R0, 0),
                           exit_insn()};
  LIBBPF_OPTS(bpf_prog_load_opts, lo, .prog_flags = BPF_F_SLEEPABLE);
  int fd = bpf_prog_load(BPF_PROG_TYPE_SYSCALL, "nfjit_jiffies", "GPL", prog, std::size(prog), &lo);
  if (fd < 0) return make_error(errno ? errno : EINVAL, "cannot load the jiffies probe (BPF_PROG_TYPE_SYSCALL)");
  uint64_t ctx = 0;
  LIBBPF_OPTS(bpf_test_run_opts, ro, .ctx_in = &ctx, .ctx_size_in = sizeof ctx);
  int rc = bpf_prog_test_run_opts(fd, &ro);
  int err = errno;
  close(fd);
  if (rc != 0) return make_error(err ? err : EINVAL, "cannot run the jiffies probe");
  return ctx;
}

Result<uint32_t> kernel_hz() {
  static std::mutex mu;
  static uint32_t cached = 0;
  std::lock_guard lock(mu);
  if (cached) return cached;
  uint32_t hz = hz_from_boot_config();
  if (!hz) hz = hz_from_proc_config();
  if (!hz) {
    auto m = hz_measured();
    if (!m) return m.error();
    hz = *m;
  }
  cached = hz;
  return hz;
}

}  // namespace nfjit::codegen
