#include "daemon/xtables_handler.h"

#include <algorithm>

#include "daemon/engine_table_sink.h"
#include "daemon/kernel_table_names.h"
#include "daemon/log.h"
#include "daemon/reject_status.h"

namespace nfjit::daemon {

XtablesHandler::XtablesHandler(xt::XtablesService& service, const runtime::Engine& engine)
    : service_(service), engine_(engine) {}

SockoptReply XtablesHandler::sockopt(const SockoptRequest& req) {
  SockoptReply r = service_.handle(req);
  // The errno reaches the iptables command; the reason in words goes to the daemon's log, naming the
  // rule, so an operator can see why a table was refused or passed to the kernel.
  if (r.err != 0 && !service_.last_message().empty()) {
    logf(LOG_WARNING, "%s", service_.last_message().c_str());
    r.message = service_.last_message();
  }
  return r;
}

std::string XtablesHandler::table_names(int family) {
  // The kernel lists a table once it is instantiated, newest first. nfjit's tables are not in the
  // kernel's list (their rules run as BPF), nat & co. are; merge by first use, and put what only the
  // kernel knows (tables made before this daemon, or without it) after, in the kernel's own order.
  auto kernel = kernel_table_names(family);
  auto in_kernel = [&](const std::string& n) { return std::find(kernel.begin(), kernel.end(), n) != kernel.end(); };
  std::vector<std::string> out;
  for (const auto& t : service_.known_tables(family == 6 ? ir::Family::Ipv6 : ir::Family::Ipv4))
    if ((t.held || in_kernel(t.name)) && std::find(out.begin(), out.end(), t.name) == out.end()) out.push_back(t.name);
  for (const auto& n : kernel)
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return table_names_text(out);
}

std::string XtablesHandler::status() {
  std::string out;
  auto tables = service_.status();
  if (tables.empty() && service_.last_refusal().empty())
    return "no tables yet: every table is empty and runs nowhere\n";
  for (const auto& t : tables) {
    out += std::string(t.family == ir::Family::Ipv6 ? "ip6" : "ip") + " " + t.table + ": ";
    if (t.bpf) {
      out += "BPF";
      // Each point with the id of the program in force there (it changes when that program is replaced).
      auto points = engine_.program_ids(EngineTableSink::key_for(t.family, t.table));
      if (!points.empty()) {
        out += " at";
        for (const auto& [p, id] : points) out += " " + p + " (prog " + std::to_string(id) + ")";
      }
    } else {
      out += "kernel ip_tables";
      if (!t.why.empty()) out += " (" + t.why + ")";
    }
    out += RejectStatus::instance().describe(t.family, t.table, t.bpf);
    out += "\n";
  }
  // Tables the kernel holds that no client made through nfjit (created before it ran, or without it).
  for (int fam : {4, 6})
    for (const auto& n : kernel_table_names(fam)) {
      bool known = std::any_of(tables.begin(), tables.end(), [&](const xt::TableStatus& t) {
        return t.table == n && (t.family == ir::Family::Ipv6) == (fam == 6);
      });
      if (!known) out += std::string(fam == 6 ? "ip6 " : "ip ") + n + ": kernel ip_tables (made without nfjit)\n";
    }
  if (!service_.last_refusal().empty()) out += "last refusal: " + service_.last_refusal() + "\n";
  return out;
}

}  // namespace nfjit::daemon
