#include "daemon/engine_setup.h"

#include <sys/mount.h>

#include <cstring>

#include "codegen/compile.h"
#include "codegen/gen.h"
#include "codegen/sets.h"
#include "daemon/reject_status.h"
#include "runtime/bpffs.h"

namespace nfjit::daemon {

namespace {

Result<void> mount_bpffs(const std::string& dir) {
  if (auto ok = runtime::make_dirs(dir); !ok) return ok;
  if (mount("bpf", dir.c_str(), "bpf", 0, "mode=0700") != 0) {
    int err = errno;
    return make_error(err, "cannot mount a bpf filesystem on " + dir + ": " + strerror(err));
  }
  return {};
}

Result<void> ensure_bpffs(const std::string& dir) {
  if (runtime::is_bpffs(dir)) return {};
  const std::string sys = "/sys/fs/bpf";
  if (dir.rfind(sys + "/", 0) == 0) {
    // /sys/fs/bpf/<x>: sysfs cannot hold our directory, the bpffs mounted on /sys/fs/bpf can.
    if (!runtime::is_bpffs(sys))
      if (auto ok = mount_bpffs(sys); !ok) return ok;
    return runtime::make_dirs(dir);
  }
  return mount_bpffs(dir);
}

}  // namespace

Result<EngineSetup> setup_engine(const std::string& bpffs_dir, bool reject_in_kernel) {
  if (auto ok = ensure_bpffs(bpffs_dir); !ok) return ok.error();
  EngineSetup s;
  auto btf = codegen::KernelBtf::load();
  if (!btf) return btf.error();
  s.btf = std::make_unique<codegen::KernelBtf>(std::move(btf.value()));

  runtime::EngineOptions opt;
  const codegen::KernelBtf* kbtf = s.btf.get();
  opt.compile = [kbtf, reject_in_kernel](const ir::Table& t, const std::string& chain,
                                         const codegen::AttachPoint& at) -> Result<codegen::Program> {
    RejectStatus::instance().note(t);
    std::string origin;
    if (reject_in_kernel && has_reject(t, &origin))
      return make_error(EOPNOTSUPP, "cannot lower at " + codegen::where(at) + ": rule '" + origin +
                                        "': REJECT stays in the kernel (nfjitd --reject=kernel)");
    return codegen::compile(t, chain, at, *kbtf);
  };
  opt.encode_set_element = [](const codegen::MapSpec&, const ir::Set& set,
                              const ir::SetElement& el) -> Result<std::vector<runtime::MapEntry>> {
    auto enc = codegen::encode_set_element(set, el);
    if (!enc) return enc.error();
    std::vector<runtime::MapEntry> out;
    for (auto& e : enc.value()) out.push_back({std::move(e.key), std::move(e.value)});
    return out;
  };
  opt.bpffs = bpffs_dir;
  s.engine = std::make_unique<runtime::Engine>(std::move(opt));
  auto keys = s.engine->restore();
  if (!keys) return keys.error();
  s.restored_keys = std::move(keys.value());
  return s;
}

}  // namespace nfjit::daemon
