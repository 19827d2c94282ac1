#include "cli/status_command.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon/client.h"
#include "nfjit/wire.h"

namespace nfjit::cli {

int run_status(int argc, char** argv) {
  const char* env = std::getenv(wire::kSocketEnv);
  std::string socket = env && *env ? env : wire::kDefaultSocket;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) socket = argv[++i];
    else if (a.rfind("--socket=", 0) == 0) socket = a.substr(9);
    else {
      std::fprintf(stderr, "usage: nfjit status [--socket PATH]\n");
      return 2;
    }
  }
  auto client = wire::Client::connect(socket);
  if (!client) {
    if (client.error().err == ENOENT || client.error().err == ECONNREFUSED) {
      // The shim falls through to the kernel in exactly this case, so that is where everything runs.
      std::printf("no nfjitd at %s: every table runs in the kernel's netfilter\n", socket.c_str());
      return 3;
    }
    std::fprintf(stderr, "nfjit status: %s\n", client.error().message.c_str());
    return 1;
  }
  auto text = client->status();
  if (!text) {
    std::fprintf(stderr, "nfjit status: %s\n", text.error().message.c_str());
    return 1;
  }
  std::fputs(text->c_str(), stdout);
  return 0;
}

}  // namespace nfjit::cli
