// The scratch world `nfjit verify` builds and always removes: three network namespaces — S (the sender,
// no addresses: it injects frames and watches what comes back), K (the kernel's own netfilter) and N (a
// private nfjitd with its own socket, state dir and bpffs) — joined by one veth pair per interface the
// ruleset names, K and N having identical device names, MACs and addresses. Names are unique per run;
// every step is undone in reverse order on every exit path (errors and Ctrl-C included).
#pragma once

#include <sys/types.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "verify/process.h"

namespace nfjit::verify {

// Undo steps, run in reverse order when the object dies (never throws).
class CleanupStack {
 public:
  ~CleanupStack() { run(); }
  void push(std::function<void()> f) { steps_.push_back(std::move(f)); }
  void run();

 private:
  std::vector<std::function<void()>> steps_;
};

struct HostIface {
  std::string name;                       // as the ruleset names it, in K and in N
  std::array<uint8_t, 6> host_mac{}, peer_mac{};
  std::string v4, v6;                     // K's and N's address on it (198.18.I.1, 2001:db8:I::1)
  std::string peer_v4, peer_v6;           // S's side (198.18.I.2, 2001:db8:I::2), resolved statically
  std::string s_dev_k, s_dev_n;           // S's end towards K / towards N
};

class Scratch {
 public:
  // `ifnames`: the interfaces the ruleset names (lo excluded); one more, "nfjv-other", is always added
  // for packets that should come from anywhere else.
  explicit Scratch(std::vector<std::string> ifnames);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  std::string s, k, n;  // namespace names
  std::vector<HostIface> ifaces;
  std::string dir, sock, bpffs;

  const HostIface& iface(const std::string& name) const;
  const HostIface& other_iface() const { return ifaces.back(); }

  // Runs argv inside namespace `ns` (the calling thread moves there while it starts).
  CmdResult in(const std::string& ns, const std::vector<std::string>& argv, const std::string& input = "",
               const std::vector<std::string>& env = {});
  std::string in_ok(const std::string& ns, const std::vector<std::string>& argv, const std::string& input = "",
                    const std::vector<std::string>& env = {});
  // `ip -batch -` in both K and N.
  void ip_batch_hosts(const std::string& batch);

  // Mounts the private bpffs and starts nfjitd in N; waits until its socket serves.
  void start_daemon(const std::string& nfjitd, const std::vector<std::string>& env);
  std::string daemon_log() const;
  // The environment that puts a command under the shim, talking to our nfjitd.
  std::vector<std::string> shim_env(const std::string& preload_lib) const;

 private:
  void make_topology();
  CleanupStack cleanup_;
  pid_t daemon_ = -1;
};

// "02:4e:4a:00:01:05"
std::string mac_text(const std::array<uint8_t, 6>& m);

}  // namespace nfjit::verify
