// The installed programs as a user runs them: nfjitd in a fresh namespace (backgrounding, pidfile,
// signals, refusing a second daemon) and the nfjit CLI (exec, status, help).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "netns.h"
#include "privileged.h"

namespace nfjit::test {
namespace {

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

bool wait_gone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

struct TempDir {
  TempDir() {
    char t[] = "/tmp/nfjit-bin-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

TEST(Binaries, DaemonLifecycleAndCli) {
  NFJIT_REQUIRE_ROOT();
  Netns ns("bin");
  TempDir dir;
  std::string sock = dir.path + "/run/nfjitd.sock", state = dir.path + "/state";
  std::string daemon_args = std::string(NFJITD_PATH) + " --socket " + sock + " --state-dir " + state + " --bpffs " + dir.path + "/bpf";
  // Backgrounds itself and returns once it serves.
  ns.run_ok(daemon_args);
  ASSERT_TRUE(exists(sock));
  std::ifstream pf(state + "/nfjitd.pid");
  pid_t pid = 0;
  pf >> pid;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, 0), 0);

  // A second daemon on the same socket refuses to start, and leaves the first one's socket alone.
  std::string out;
  EXPECT_EQ(ns.run(daemon_args + " -f --state-dir " + dir.path + "/state2", &out), 1);
  EXPECT_NE(out.find("already serves"), std::string::npos) << out;
  EXPECT_TRUE(exists(sock));

  std::string cli = std::string(NFJIT_CLI_PATH);
  std::string shim = cli + " exec --socket " + sock + " -- ";
  ns.run_ok(shim + "iptables-legacy -A INPUT -s 192.0.2.9 -j ACCEPT");
  // Through the shim the rule is there; the kernel's own ip_tables holds nothing: it runs as BPF.
  EXPECT_NE(ns.run_ok(shim + "iptables-legacy -S INPUT").find("-A INPUT -s 192.0.2.9/32 -j ACCEPT"), std::string::npos);
  EXPECT_EQ(ns.run_ok("iptables-legacy -S INPUT").find("192.0.2.9"), std::string::npos);
  std::string status = ns.run_ok(cli + " status --socket " + sock);
  EXPECT_NE(status.find("ip filter: BPF at "), std::string::npos) << status;
  EXPECT_NE(status.find("nf-ipv4-input"), std::string::npos) << status;

  // SIGHUP is ignored; SIGTERM stops it cleanly: socket and pidfile removed, rules left in force.
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(kill(pid, 0), 0);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_TRUE(wait_gone(pid));
  EXPECT_FALSE(exists(sock));
  EXPECT_FALSE(exists(state + "/nfjitd.pid"));
  // (That the BPF rules stay in force across a restart is tested with traffic in tests/e2e.)

  EXPECT_EQ(ns.run(cli + " status --socket " + sock, &out), 3);
  EXPECT_NE(out.find("every table runs in the kernel's netfilter"), std::string::npos) << out;
}

TEST(Binaries, ExecSetsUpTheShimForAnyCommand) {
  std::string out;
  ASSERT_EQ(sh(std::string(NFJIT_CLI_PATH) + " exec --socket /x/y.sock -- sh -c 'echo $LD_PRELOAD $NFJIT_SOCKET'", &out), 0);
  EXPECT_EQ(out, std::string(NFJIT_PRELOAD_PATH) + " /x/y.sock\n");
  // An existing preload is kept, after ours.
  std::string other = "/lib/x86_64-linux-gnu/libm.so.6";
  ASSERT_EQ(sh("LD_PRELOAD=" + other + " " + NFJIT_CLI_PATH + " exec -- sh -c 'echo $LD_PRELOAD'", &out), 0);
  EXPECT_EQ(out, std::string(NFJIT_PRELOAD_PATH) + ":" + other + "\n");
  EXPECT_EQ(sh(std::string(NFJIT_CLI_PATH) + " exec --socket /x", &out), 2);
  EXPECT_EQ(sh(std::string(NFJIT_CLI_PATH) + " exec -- /nonexistent/cmd", &out), 127);
  EXPECT_EQ(sh(std::string(NFJIT_CLI_PATH) + " --help", &out), 0);
  EXPECT_NE(out.find("status [--socket PATH]"), std::string::npos);
  EXPECT_EQ(sh(std::string(NFJITD_PATH) + " --bogus", &out), 2);
  EXPECT_NE(out.find("unknown argument '--bogus'"), std::string::npos);
}

TEST(Binaries, ExecFindsThePreloadLibraryInAnInstalledTree) {
  // The layout `meson install` produces, under an arbitrary prefix (as DESTDIR staging would put it).
  TempDir prefix;
  std::filesystem::path bin = std::filesystem::path(prefix.path) / NFJIT_TEST_BINDIR;
  std::filesystem::path lib = std::filesystem::path(prefix.path) / NFJIT_TEST_LIBDIR;
  std::filesystem::create_directories(bin);
  std::filesystem::create_directories(lib);
  std::filesystem::copy_file(NFJIT_CLI_PATH, bin / "nfjit");
  std::filesystem::copy_file(NFJIT_PRELOAD_PATH, lib / "libnfjit-preload.so");
  std::string out;
  ASSERT_EQ(sh((bin / "nfjit").string() + " exec -- sh -c 'echo $LD_PRELOAD'", &out), 0) << out;
  EXPECT_EQ(out, (lib / "libnfjit-preload.so").string() + "\n");
  std::filesystem::remove(lib / "libnfjit-preload.so");
  EXPECT_EQ(sh((bin / "nfjit").string() + " exec -- true", &out), 1);
  EXPECT_NE(out.find("cannot find libnfjit-preload.so"), std::string::npos) << out;
}

}  // namespace
}  // namespace nfjit::test
