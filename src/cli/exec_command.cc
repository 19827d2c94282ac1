#include "cli/exec_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli/preload_path.h"
#include "nfjit/wire.h"

namespace nfjit::cli {
namespace {

// Puts `lib` first in LD_PRELOAD, keeping what the caller already preloads.
std::string with_preload(const std::string& lib) {
  const char* old = std::getenv("LD_PRELOAD");
  if (!old || !*old) return lib;
  std::string rest = old;
  if (rest.find(lib) != std::string::npos) return rest;  // nested `nfjit exec`
  return lib + ":" + rest;
}

}  // namespace

int run_exec(int argc, char** argv) {
  // argv[0] is "exec".
  std::string socket;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (a.rfind("--socket=", 0) == 0) {
      socket = a.substr(9);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "nfjit exec: unknown option '%s'\n", a.c_str());
      return 2;
    } else {
      break;  // the command itself
    }
  }
  if (i >= argc) {
    std::fprintf(stderr, "usage: nfjit exec [--socket PATH] -- CMD ARGS...\n");
    return 2;
  }
  auto lib = find_preload_library();
  if (!lib) {
    std::fprintf(stderr, "nfjit exec: %s\n", lib.error().message.c_str());
    return 1;
  }
  setenv("LD_PRELOAD", with_preload(*lib).c_str(), 1);
  if (!socket.empty()) setenv(wire::kSocketEnv, socket.c_str(), 1);
  execvp(argv[i], argv + i);
  std::fprintf(stderr, "nfjit exec: %s: %s\n", argv[i], std::strerror(errno));
  return errno == ENOENT ? 127 : 126;
}

}  // namespace nfjit::cli
