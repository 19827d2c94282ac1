// Network namespaces that a test creates and always deletes, and a guard that moves the calling thread
// into one. Everything that touches networking in the test suite happens inside these: nothing is ever
// attached to, or changed in, the root namespace.
#pragma once

#include <string>
#include <vector>

namespace nfjit::test {

// Runs a shell command; returns its exit status (and its stdout in *out when given).
int sh(const std::string& cmd, std::string* out = nullptr);
// Like sh() but fails the current test (ADD_FAILURE) when the command exits non-zero.
std::string sh_ok(const std::string& cmd);

class Netns {
 public:
  // Creates `ip netns add nfjit-<tag>-<pid>-<n>` with loopback up.
  explicit Netns(const std::string& tag);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  // "ip netns exec NAME " prefix for shell commands.
  std::string exec() const { return "ip netns exec " + name_ + " "; }
  // Runs `cmd` inside the namespace (via ip netns exec); returns the exit status.
  int run(const std::string& cmd, std::string* out = nullptr) const;
  std::string run_ok(const std::string& cmd) const;

 private:
  std::string name_;
};

// Moves the calling thread into a namespace for its lifetime, then back to where it was.
class EnterNetns {
 public:
  explicit EnterNetns(const Netns& ns);
  ~EnterNetns();
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;

 private:
  int old_fd_ = -1;
};

// Two namespaces joined by a veth pair: `a` (198.18.0.1/24, 2001:db8::1/64, device "veth0") and `b`
// (198.18.0.2/24, 2001:db8::2/64, device "veth0"). Both up, IPv6 DAD disabled, neighbours resolved.
struct VethPair {
  explicit VethPair(const std::string& tag);
  Netns a, b;
  std::string a_ip4 = "198.18.0.1", b_ip4 = "198.18.0.2";
  std::string a_ip6 = "2001:db8::1", b_ip6 = "2001:db8::2";
  std::string dev = "veth0";
};

}  // namespace nfjit::test
