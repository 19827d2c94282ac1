#include "cli/preload_path.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace nfjit::cli {
namespace fs = std::filesystem;

namespace {
constexpr const char* kLibName = "libnfjit-preload.so";
}

Result<std::string> find_preload_library() {
  if (const char* env = std::getenv("NFJIT_PRELOAD_LIB"); env && *env) return std::string(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return make_error(ec.value(), "cannot resolve /proc/self/exe: " + ec.message());
  fs::path dir = exe.parent_path();
  // Installed: the same relation as between the configured bindir and libdir, applied to where we
  // really are (so a relocated prefix or DESTDIR staging still works).
  fs::path rel = fs::path(NFJIT_INSTALL_LIBDIR).lexically_relative(NFJIT_INSTALL_BINDIR);
  const fs::path candidates[] = {
      (dir / rel / kLibName).lexically_normal(),
      (dir / ".." / "preload" / kLibName).lexically_normal(),  // meson build tree
  };
  for (const auto& c : candidates) {
    if (fs::exists(c, ec)) return c.string();
  }
  return make_error(ENOENT, std::string("cannot find ") + kLibName + " (looked in " + candidates[0].string() +
                                " and " + candidates[1].string() + "; set NFJIT_PRELOAD_LIB)");
}

}  // namespace nfjit::cli
