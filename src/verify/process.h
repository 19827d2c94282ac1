// Running the tools `nfjit verify` drives (ip, iptables-legacy-restore, iptables-legacy-save, nft, nfjitd)
// and moving the calling thread between network namespaces. Unlike system(), commands here do not make
// the caller ignore SIGINT: Ctrl-C reaches the tool, which stops and cleans up (see interrupted()).
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace nfjit::verify {

// Thrown when SIGINT/SIGTERM/SIGHUP arrived; unwinding runs every cleanup destructor.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Installs the handlers (once). They only set a flag; long loops call check_interrupt().
void install_interrupt_handlers();
bool interrupted();
void check_interrupt();

struct CmdResult {
  int status = -1;   // exit status, 128+signal when killed
  std::string out;   // stdout and stderr, interleaved
};

// argv[0] is looked up in PATH. `input` is written to its stdin (empty: /dev/null). `env` adds KEY=VALUE.
CmdResult run(const std::vector<std::string>& argv, const std::string& input = "",
              const std::vector<std::string>& env = {});
// run() that throws std::runtime_error naming the command and its output when it fails.
std::string run_ok(const std::vector<std::string>& argv, const std::string& input = "",
                   const std::vector<std::string>& env = {});

// Starts a background process (stdout/stderr to `log_path`); returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path, const std::vector<std::string>& env = {});

// Moves the calling thread into the named namespace (/run/netns/NAME) for its lifetime.
class InNetns {
 public:
  explicit InNetns(const std::string& name);
  ~InNetns();
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;

 private:
  int old_ = -1;
};

}  // namespace nfjit::verify
