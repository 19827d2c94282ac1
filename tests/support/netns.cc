#include "netns.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>

namespace nfjit::test {

int sh(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string buf;
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = fread(chunk.data(), 1, chunk.size(), p)) > 0) buf.append(chunk.data(), n);
  int st = pclose(p);
  if (out) *out = buf;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string sh_ok(const std::string& cmd) {
  std::string out;
  int rc = sh(cmd, &out);
  if (rc != 0) ADD_FAILURE() << "command failed (" << rc << "): " << cmd << "\n" << out;
  return out;
}

namespace {
std::atomic<int> g_seq{0};
}

Netns::Netns(const std::string& tag) {
  name_ = "nfjit-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(g_seq++);
  sh_ok("ip netns add " + name_);
  sh_ok(exec() + "ip link set lo up");
}

Netns::~Netns() { sh("ip netns del " + name_); }

int Netns::run(const std::string& cmd, std::string* out) const { return sh(exec() + cmd, out); }

std::string Netns::run_ok(const std::string& cmd) const { return sh_ok(exec() + cmd); }

EnterNetns::EnterNetns(const Netns& ns) {
  old_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) ADD_FAILURE() << "setns into " << ns.name() << " failed";
  if (fd >= 0) close(fd);
}

EnterNetns::~EnterNetns() {
  if (old_fd_ >= 0) {
    if (setns(old_fd_, CLONE_NEWNET) != 0) ADD_FAILURE() << "setns back failed";
    close(old_fd_);
  }
}

VethPair::VethPair(const std::string& tag) : a(tag + "a"), b(tag + "b") {
  // Create the pair inside `a` and move one end to `b`: the root namespace never holds a device of ours.
  a.run_ok("ip link add " + dev + " type veth peer name peer0");
  a.run_ok("ip link set peer0 netns " + b.name());
  b.run_ok("ip link set peer0 name " + dev);
  for (auto* ns : {&a, &b}) {
    ns->run_ok("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
    ns->run_ok("sysctl -qw net.ipv6.conf." + dev + ".accept_dad=0");
  }
  a.run_ok("ip addr add " + a_ip4 + "/24 dev " + dev);
  b.run_ok("ip addr add " + b_ip4 + "/24 dev " + dev);
  a.run_ok("ip -6 addr add " + a_ip6 + "/64 dev " + dev + " nodad");
  b.run_ok("ip -6 addr add " + b_ip6 + "/64 dev " + dev + " nodad");
  a.run_ok("ip link set " + dev + " up");
  b.run_ok("ip link set " + dev + " up");
  // Static neighbours so the first test packet is not an ARP/ND exchange.
  std::string amac, bmac;
  a.run("cat /sys/class/net/" + dev + "/address", &amac);
  b.run("cat /sys/class/net/" + dev + "/address", &bmac);
  while (!amac.empty() && (amac.back() == '\n')) amac.pop_back();
  while (!bmac.empty() && (bmac.back() == '\n')) bmac.pop_back();
  a.run_ok("ip neigh replace " + b_ip4 + " lladdr " + bmac + " dev " + dev + " nud permanent");
  b.run_ok("ip neigh replace " + a_ip4 + " lladdr " + amac + " dev " + dev + " nud permanent");
  a.run_ok("ip -6 neigh replace " + b_ip6 + " lladdr " + bmac + " dev " + dev + " nud permanent");
  b.run_ok("ip -6 neigh replace " + a_ip6 + " lladdr " + amac + " dev " + dev + " nud permanent");
}

}  // namespace nfjit::test
