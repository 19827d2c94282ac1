#include "daemon/xtables_handler.h"

#include "daemon/engine_table_sink.h"
#include "daemon/log.h"

namespace nfjit::daemon {

XtablesHandler::XtablesHandler(xt::XtablesService& service, const runtime::Engine& engine)
    : service_(service), engine_(engine) {}

SockoptReply XtablesHandler::sockopt(const SockoptRequest& req) {
  SockoptReply r = service_.handle(req);
  // The errno reaches the iptables command; the reason in words goes to the daemon's log, naming the
  // rule, so an operator can see why a table was refused or passed to the kernel.
  if (r.err != 0 && !service_.last_message().empty())
    logf(LOG_WARNING, "%s", service_.last_message().c_str());
  return r;
}

std::string XtablesHandler::status() {
  std::string out;
  auto tables = service_.status();
  if (tables.empty()) return "no tables yet: every table is empty and runs nowhere\n";
  for (const auto& t : tables) {
    out += std::string(t.family == ir::Family::Ipv6 ? "ip6" : "ip") + " " + t.table + ": ";
    if (t.bpf) {
      out += "BPF";
      auto points = engine_.attachment_names(EngineTableSink::key_for(t.family, t.table));
      if (!points.empty()) {
        out += " at";
        for (const auto& p : points) out += " " + p;
      }
    } else {
      out += "kernel ip_tables";
      if (!t.why.empty()) out += " (" + t.why + ")";
    }
    out += "\n";
  }
  return out;
}

}  // namespace nfjit::daemon
