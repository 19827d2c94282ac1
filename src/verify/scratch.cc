#include "verify/scratch.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace nfjit::verify {
namespace fs = std::filesystem;

void CleanupStack::run() {
  while (!steps_.empty()) {
    auto f = std::move(steps_.back());
    steps_.pop_back();
    try {
      f();
    } catch (...) {
      // Cleanup goes on whatever one step says.
    }
  }
}

std::string mac_text(const std::array<uint8_t, 6>& m) {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

namespace {

void write_sysctl(const std::string& path, const std::string& value, bool must = true) {
  std::ofstream f("/proc/sys/" + path);
  f << value;
  f.flush();
  if (!f && must) throw std::runtime_error("cannot set " + path);
}

}  // namespace

Scratch::Scratch(std::vector<std::string> ifnames) {
  std::random_device rd;
  char id[32];
  std::snprintf(id, sizeof id, "nfjv-%d-%04x", static_cast<int>(getpid()), static_cast<unsigned>(rd() & 0xffff));
  s = std::string(id) + "-s";
  k = std::string(id) + "-k";
  n = std::string(id) + "-n";
  char t[] = "/tmp/nfjit-verify-XXXXXX";
  if (!mkdtemp(t)) throw std::runtime_error("mkdtemp failed");
  dir = t;
  cleanup_.push([d = dir] {
    std::error_code ec;
    fs::remove_all(d, ec);
  });
  sock = dir + "/nfjitd.sock";
  bpffs = dir + "/bpffs";
  ifnames.push_back("nfjv-other");
  for (size_t i = 0; i < ifnames.size(); ++i) {
    HostIface h;
    h.name = ifnames[i];
    h.host_mac = {0x02, 0x4e, 0x4a, 0x00, 0x01, static_cast<uint8_t>(i + 1)};
    h.peer_mac = {0x02, 0x4e, 0x4a, 0x00, 0x02, static_cast<uint8_t>(i + 1)};
    h.v4 = "198.18." + std::to_string(i + 1) + ".1";
    h.peer_v4 = "198.18." + std::to_string(i + 1) + ".2";
    char v6[64];
    std::snprintf(v6, sizeof v6, "2001:db8:%zx::1", i + 1);
    h.v6 = v6;
    std::snprintf(v6, sizeof v6, "2001:db8:%zx::2", i + 1);
    h.peer_v6 = v6;
    h.s_dev_k = "k" + std::to_string(i);
    h.s_dev_n = "n" + std::to_string(i);
    ifaces.push_back(h);
  }
  make_topology();
}

Scratch::~Scratch() {
  if (daemon_ > 0) {
    kill(daemon_, SIGTERM);
    int st;
    for (int i = 0; i < 300; ++i) {
      if (waitpid(daemon_, &st, WNOHANG) == daemon_) {
        daemon_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (daemon_ > 0) {
      kill(daemon_, SIGKILL);
      waitpid(daemon_, &st, 0);
    }
  }
  cleanup_.run();
}

const HostIface& Scratch::iface(const std::string& name) const {
  for (const auto& i : ifaces)
    if (i.name == name) return i;
  throw std::runtime_error("no scratch interface " + name);
}

CmdResult Scratch::in(const std::string& ns, const std::vector<std::string>& argv, const std::string& input,
                      const std::vector<std::string>& env) {
  InNetns guard(ns);
  return run(argv, input, env);
}

std::string Scratch::in_ok(const std::string& ns, const std::vector<std::string>& argv, const std::string& input,
                           const std::vector<std::string>& env) {
  InNetns guard(ns);
  return run_ok(argv, input, env);
}

void Scratch::ip_batch_hosts(const std::string& batch) {
  for (const auto& ns : {k, n}) in_ok(ns, {"ip", "-batch", "-"}, batch);
}

void Scratch::make_topology() {
  for (const auto& ns : {s, k, n}) {
    run_ok({"ip", "netns", "add", ns});
    cleanup_.push([ns] { run({"ip", "netns", "del", ns}); });
  }
  // S: one veth pair per interface and per host; the host end is created directly in K/N under the
  // ruleset's name.
  std::string sb;
  for (const auto& h : ifaces) {
    sb += "link add " + h.s_dev_k + " address " + mac_text(h.peer_mac) + " type veth peer name " + h.name +
          " address " + mac_text(h.host_mac) + " netns " + k + "\n";
    sb += "link add " + h.s_dev_n + " address " + mac_text(h.peer_mac) + " type veth peer name " + h.name +
          " address " + mac_text(h.host_mac) + " netns " + n + "\n";
  }
  sb += "link set lo up\n";
  {
    InNetns g(s);
    // S never answers or originates anything by itself (no addresses, no IPv6 autoconf).
    write_sysctl("net/ipv6/conf/all/disable_ipv6", "1");
    write_sysctl("net/ipv6/conf/default/disable_ipv6", "1");
    run_ok({"ip", "-batch", "-"}, sb);
  }
  for (const auto& ns : {k, n}) {
    InNetns g(ns);
    // No spontaneous traffic (DAD, router solicitations) and no rate limit on the ICMP errors the
    // kernel sends: K and N must answer each packet the same way however fast it comes.
    for (const char* c : {"all", "default"}) {
      write_sysctl(std::string("net/ipv6/conf/") + c + "/accept_dad", "0");
      write_sysctl(std::string("net/ipv6/conf/") + c + "/router_solicitations", "0");
      write_sysctl(std::string("net/ipv6/conf/") + c + "/accept_ra", "0");
      write_sysctl(std::string("net/ipv4/conf/") + c + "/rp_filter", "0");
      write_sysctl(std::string("net/ipv6/conf/") + c + "/forwarding", "1");
      // No ICMP redirects: their per-peer rate limit depends on history, and each one the host sends
      // would move OUTPUT counters differently in K and N (seen: seed 41, +1 packet in K's OUTPUT).
      write_sysctl(std::string("net/ipv4/conf/") + c + "/send_redirects", "0");
    }
    write_sysctl("net/ipv4/ip_forward", "1");
    write_sysctl("net/ipv4/icmp_ratelimit", "0");
    write_sysctl("net/ipv6/icmp/ratelimit", "0");
    write_sysctl("net/ipv4/icmp_msgs_per_sec", "1000000", false);
    write_sysctl("net/ipv4/icmp_msgs_burst", "1000000", false);
    write_sysctl("net/ipv4/icmp_echo_ignore_broadcasts", "0", false);
    std::string hb = "link set lo up\n";
    for (const auto& h : ifaces) {
      hb += "addr add " + h.v4 + "/24 dev " + h.name + "\n";
      hb += "addr add " + h.v6 + "/64 dev " + h.name + " nodad\n";
      hb += "link set " + h.name + " up\n";
      hb += "neigh replace " + h.peer_v4 + " lladdr " + mac_text(h.peer_mac) + " dev " + h.name + " nud permanent\n";
      hb += "neigh replace " + h.peer_v6 + " lladdr " + mac_text(h.peer_mac) + " dev " + h.name + " nud permanent\n";
    }
    run_ok({"ip", "-batch", "-"}, hb);
    for (const auto& h : ifaces) {
      write_sysctl("net/ipv4/conf/" + h.name + "/rp_filter", "0");
      write_sysctl("net/ipv4/conf/" + h.name + "/send_redirects", "0");
      write_sysctl("net/ipv6/conf/" + h.name + "/router_solicitations", "0", false);
    }
    // Default routes through the last interface ("nfjv-other"): replies to any source go somewhere S sees.
    const auto& o = ifaces.back();
    run_ok({"ip", "-batch", "-"},
           "route add default via " + o.peer_v4 + " dev " + o.name + "\nroute add default via " + o.peer_v6 +
               " dev " + o.name + "\n");
  }
  {
    InNetns g(s);
    std::string up;
    for (const auto& h : ifaces) up += "link set " + h.s_dev_k + " up\nlink set " + h.s_dev_n + " up\n";
    run_ok({"ip", "-batch", "-"}, up);
  }
}

void Scratch::start_daemon(const std::string& nfjitd, const std::vector<std::string>& env) {
  fs::create_directories(bpffs);
  if (mount("bpf", bpffs.c_str(), "bpf", 0, nullptr) != 0)
    throw std::runtime_error("cannot mount a bpffs on " + bpffs + ": " + std::string(strerror(errno)));
  cleanup_.push([p = bpffs] { umount2(p.c_str(), MNT_DETACH); });
  {
    InNetns g(n);
    daemon_ = spawn({nfjitd, "-f", "--socket", sock, "--state-dir", dir + "/state", "--bpffs", bpffs},
                    dir + "/nfjitd.log", env);
  }
  struct stat st;
  for (int i = 0; i < 1000; ++i) {
    check_interrupt();
    int status;
    if (waitpid(daemon_, &status, WNOHANG) == daemon_) {
      daemon_ = -1;
      throw std::runtime_error("nfjitd exited at start: " + daemon_log());
    }
    if (stat(sock.c_str(), &st) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("nfjitd did not start serving within 10 s: " + daemon_log());
}

std::string Scratch::daemon_log() const {
  std::ifstream f(dir + "/nfjitd.log");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> Scratch::shim_env(const std::string& preload_lib) const {
  return {"LD_PRELOAD=" + preload_lib, "NFJIT_SOCKET=" + sock};
}

}  // namespace nfjit::verify
