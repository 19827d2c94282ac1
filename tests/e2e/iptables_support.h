// The real nfjitd as a user runs it, for the iptables end-to-end tests: started in a test namespace
// with a private bpffs mounted OUTSIDE `ip netns exec` (so its pins outlive one daemon process), killed
// and restarted, and the unmodified iptables-legacy tools run through `nfjit exec`.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>
#include <string>
#include <thread>

#include "../runtime/bpffs_mount.h"
#include "netns.h"

namespace nfjit::e2e {

class Nfjitd {
 public:
  Nfjitd(const test::Netns& ns, std::string extra_args = "") : ns_(ns), extra_(std::move(extra_args)) {
    char t[] = "/tmp/nfjit-ipt-XXXXXX";
    dir_ = mkdtemp(t);
    sock_ = dir_ + "/nfjitd.sock";
  }
  ~Nfjitd() {
    stop(SIGTERM);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Starts nfjitd in the foreground of a background shell (so its stderr, the log, stays in log())
  // and waits until it serves.
  void start() {
    unlink(sock_.c_str());
    ns_.run_ok("sh -c '" + std::string(NFJITD_PATH) + " -f --socket " + sock_ + " --state-dir " + dir_ +
               "/state --bpffs " + bpffs_.path() + " " + extra_ + " >>" + dir_ + "/nfjitd.log 2>&1 &'");
    struct stat st;
    for (int i = 0; i < 1000; ++i) {
      if (stat(sock_.c_str(), &st) == 0 && pid() > 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "nfjitd did not start: " << log();
  }
  pid_t pid() const {
    std::ifstream f(dir_ + "/state/nfjitd.pid");
    pid_t p = 0;
    f >> p;
    return p;
  }
  // Sends `sig` and waits for the process to be gone.
  void stop(int sig) {
    pid_t p = pid();
    if (p <= 0 || kill(p, 0) != 0) return;
    kill(p, sig);
    for (int i = 0; i < 500 && kill(p, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (sig == SIGKILL) unlink((dir_ + "/state/nfjitd.pid").c_str());
  }
  std::string log() const {
    std::ifstream f(dir_ + "/nfjitd.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  // "nfjit exec --socket S -- " prefix for a command inside the namespace.
  std::string shim() const { return std::string(NFJIT_CLI_PATH) + " exec --socket " + sock_ + " -- "; }
  std::string status() const { return ns_.run_ok(std::string(NFJIT_CLI_PATH) + " status --socket " + sock_); }
  const std::string& socket() const { return sock_; }
  const std::string& dir() const { return dir_; }

 private:
  const test::Netns& ns_;
  std::string extra_;
  test::BpffsMount bpffs_;
  std::string dir_, sock_;
};

// iptables-save output without its "# Generated/Completed" comment lines (they carry a time stamp).
inline std::string strip_save_comments(const std::string& save) {
  std::string out, line;
  std::istringstream in(save);
  while (std::getline(in, line))
    if (line.empty() || line[0] != '#') out += line + "\n";
  return out;
}

// Tables with rules in a save text ("*filter" sections with at least one -A line).
inline std::vector<std::string> tables_with_rules(const std::string& save) {
  std::vector<std::string> out;
  std::string line, table;
  std::istringstream in(save);
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    else if ((line.rfind("-A ", 0) == 0 || line.find("] -A ") != std::string::npos) &&
             (out.empty() || out.back() != table))
      out.push_back(table);
  }
  return out;
}

}  // namespace nfjit::e2e
