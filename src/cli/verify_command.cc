#include "cli/verify_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "cli/preload_path.h"
#include "verify/process.h"
#include "verify/verify.h"

namespace nfjit::cli {
namespace fs = std::filesystem;
namespace {

const char* kUsage =
    "usage: nfjit verify [--seed N] [--max-packets N] [--json] [-4|-6] FILE\n"
    "  FILE            an iptables-save or ip6tables-save dump (nft rulesets: not yet)\n"
    "  --seed N        packet corpus seed (default 1): the same seed sends the same packets\n"
    "  --max-packets N at most N packets (default 1000)\n"
    "  --json          the report as JSON on stdout\n"
    "  -4 / -6         the dump's family when it cannot be told from the rules\n"
    "Exit status: 0 no divergence, 1 divergences, 2 usage or setup error, 130 interrupted.\n"
    "Needs root: it creates (and always removes) scratch network namespaces and a private nfjitd.\n";

// nfjitd next to us: installed (bindir -> sbindir) or in the meson build tree (src/cli -> src/daemon).
std::string find_nfjitd() {
  if (const char* e = std::getenv("NFJIT_NFJITD"); e && *e) return e;
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  fs::path rel = fs::path(NFJIT_INSTALL_SBINDIR).lexically_relative(NFJIT_INSTALL_BINDIR);
  for (const fs::path& c : {(dir / rel / "nfjitd").lexically_normal(), (dir / ".." / "daemon" / "nfjitd").lexically_normal(),
                            (dir / "nfjitd").lexically_normal()})
    if (fs::exists(c, ec)) return c.string();
  return "";
}

bool parse_u64(const char* s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || !end || *end || end == s) return false;
  *out = v;
  return true;
}

}  // namespace

int run_verify(int argc, char** argv) {
  verify::Options opt;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    uint64_t v = 0;
    if ((a == "--seed" || a == "--max-packets") && i + 1 < argc) {
      if (!parse_u64(argv[++i], &v)) {
        std::fprintf(stderr, "nfjit verify: %s wants a number\n%s", a.c_str(), kUsage);
        return 2;
      }
      if (a == "--seed") opt.seed = v;
      else opt.max_packets = v;
    } else if (a == "--json") {
      json = true;
    } else if (a == "-4" || a == "-6") {
      opt.family = a == "-4" ? 4 : 6;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "nfjit verify: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else if (opt.file.empty()) {
      opt.file = a;
    } else {
      std::fprintf(stderr, "nfjit verify: one FILE only\n%s", kUsage);
      return 2;
    }
  }
  if (opt.file.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  opt.nfjitd = find_nfjitd();
  if (opt.nfjitd.empty()) {
    std::fprintf(stderr, "nfjit verify: cannot find nfjitd next to nfjit (set NFJIT_NFJITD)\n");
    return 2;
  }
  auto lib = find_preload_library();
  if (!lib) {
    std::fprintf(stderr, "nfjit verify: %s\n", lib.error().message.c_str());
    return 2;
  }
  opt.preload_lib = *lib;
  // Test hook (see docs/verify.md): a deliberately wrong lowering, for nfjitd only — verify's own
  // reading of the rules must stay right, or it could not tell.
  if (const char* m = std::getenv("NFJIT_DEBUG_MISLOWER"); m && *m) {
    opt.daemon_env.push_back(std::string("NFJIT_DEBUG_MISLOWER=") + m);
    unsetenv("NFJIT_DEBUG_MISLOWER");
  }
  if (isatty(STDERR_FILENO)) {
    opt.progress = [last = -1](size_t done, size_t total) mutable {
      int pct = total ? static_cast<int>(done * 100 / total) : 100;
      if (pct == last && done != total) return;
      last = pct;
      int bar = pct * 40 / 100;
      std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu packets", bar, "========================================", 40 - bar, "",
                   done, total);
      if (done == total) std::fputc('\n', stderr);
    };
  }
  try {
    verify::Report r = verify::run_verify(opt);
    std::fputs((json ? verify::report_json(r) : verify::report_text(r)).c_str(), stdout);
    return r.clean() ? 0 : 1;
  } catch (const verify::Interrupted&) {
    std::fprintf(stderr, "\nnfjit verify: interrupted; scratch namespaces and mounts removed\n");
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nfjit verify: %s\n", e.what());
    return 2;
  }
}

}  // namespace nfjit::cli
