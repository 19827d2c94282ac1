// nfjit: the user's command for a host running nfjitd.
#include <cstdio>
#include <cstring>

#include "cli/exec_command.h"
#include "cli/status_command.h"
#include "cli/verify_command.h"

namespace {

const char* kUsage =
    "usage: nfjit COMMAND [ARGS]\n"
    "  exec [--socket PATH] -- CMD ARGS...  run CMD (e.g. iptables-legacy) with its xtables calls served\n"
    "                                       by nfjitd (LD_PRELOAD=libnfjit-preload.so, NFJIT_SOCKET=PATH)\n"
    "  status [--socket PATH]               list every table, where it runs (BPF or kernel) and why\n"
    "  verify [--seed N] [--max-packets N] [--json] [-4|-6] FILE\n"
    "                                       prove FILE (an iptables-save / ip6tables-save dump) runs the same\n"
    "                                       in nfjit as in the kernel: scratch namespaces, same packets, every\n"
    "                                       verdict and counter compared; exit 0 only with no divergence\n"
    "  --help                               this text\n"
    "The socket defaults to $NFJIT_SOCKET, else /run/nfjit/nfjitd.sock. Without a daemon there, calls go\n"
    "to the kernel's own netfilter.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const char* cmd = argv[1];
  if (!std::strcmp(cmd, "--help") || !std::strcmp(cmd, "-h") || !std::strcmp(cmd, "help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!std::strcmp(cmd, "exec")) return nfjit::cli::run_exec(argc - 1, argv + 1);
  if (!std::strcmp(cmd, "status")) return nfjit::cli::run_status(argc - 1, argv + 1);
  if (!std::strcmp(cmd, "verify")) return nfjit::cli::run_verify(argc - 1, argv + 1);
  std::fprintf(stderr, "nfjit: unknown command '%s'\n%s", cmd, kUsage);
  return 2;
}
