// Building the runtime Engine the daemon runs: bpffs ready for pins, the kernel's BTF loaded once, codegen
// bound in as the Engine's compiler, and everything pinned by a previous nfjitd adopted.
#pragma once

#include <memory>
#include <string>

#include "codegen/kernel_btf.h"
#include "nfjit/result.h"
#include "runtime/engine.h"

namespace nfjit::daemon {

struct EngineSetup {
  std::unique_ptr<codegen::KernelBtf> btf;
  std::unique_ptr<runtime::Engine> engine;
  std::vector<std::string> restored_keys;
};

// `bpffs_dir` is where pins live. When it is not on a bpf filesystem: if /sys/fs/bpf is not mounted
// either, one is mounted there (as systemd does at boot); a directory elsewhere gets its own bpffs.
// `reject_in_kernel` (--reject=kernel): a table with a REJECT rule is refused (EOPNOTSUPP naming the rule),
// so the front-ends keep it in the kernel's netfilter.
Result<EngineSetup> setup_engine(const std::string& bpffs_dir, bool reject_in_kernel = false);

}  // namespace nfjit::daemon
