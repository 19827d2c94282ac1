#include "daemon/reject_status.h"

#include <map>
#include <mutex>

namespace nfjit::daemon {

namespace {
std::mutex mu;
RejectMode g_mode = RejectMode::Userspace;
std::map<std::pair<ir::Family, std::string>, bool> g_tables;
}  // namespace

RejectStatus& RejectStatus::instance() {
  static RejectStatus s;
  return s;
}

void RejectStatus::set_mode(RejectMode m) {
  std::lock_guard<std::mutex> l(mu);
  g_mode = m;
}

RejectMode RejectStatus::mode() const {
  std::lock_guard<std::mutex> l(mu);
  return g_mode;
}

bool has_reject(const ir::Table& t, std::string* origin) {
  for (const auto& c : t.chains)
    for (const auto& r : c.rules)
      if (r.action.kind == ir::ActionKind::Reject) {
        if (origin) *origin = r.origin;
        return true;
      }
  return false;
}

void RejectStatus::note(const ir::Table& t) {
  std::lock_guard<std::mutex> l(mu);
  g_tables[{t.family, t.name}] = has_reject(t);
}

std::string RejectStatus::describe(ir::Family family, const std::string& table, bool bpf) const {
  std::lock_guard<std::mutex> l(mu);
  auto it = g_tables.find({family, table});
  if (it == g_tables.end() || !it->second) return "";
  if (bpf) return "; REJECT: userspace (the rule drops in BPF, nfjitd sends the reply; docs/reject.md)";
  return g_mode == RejectMode::Kernel ? "; REJECT: kernel (nfjitd --reject=kernel)"
                                      : "; REJECT: kernel (the table is held by the kernel)";
}

std::string RejectStatus::mode_line() const {
  return mode() == RejectMode::Kernel
             ? "REJECT mode: kernel (--reject=kernel: tables with REJECT rules stay in the kernel's netfilter)\n"
             : "REJECT mode: userspace (REJECT rules of BPF tables drop in BPF; nfjitd sends the RST/ICMP reply)\n";
}

}  // namespace nfjit::daemon
