// nfjitd: where the pieces are put together: the runtime Engine (codegen bound in, pins adopted from a
// previous run), the xtables front-end on top of it, the LOG pump, and the serving loop.
#include <signal.h>

#include <cstdio>
#include <cstdlib>

#include "daemon/config.h"
#include "daemon/daemonize.h"
#include "daemon/engine_setup.h"
#include "daemon/engine_table_sink.h"
#include "daemon/log_pump.h"
#include "daemon/reject_sender.h"
#include "daemon/reject_status.h"
#include "daemon/xtables_handler.h"
#include "daemon/log.h"
#include "daemon/pidfile.h"
#include "daemon/netlink_kernel.h"
#include "daemon/netlink_ruleset.h"
#include "daemon/netlink_sessions.h"
#include "daemon/server.h"

namespace {

nfjit::daemon::Server* g_server = nullptr;

extern "C" void on_stop_signal(int) {
  if (g_server) g_server->request_stop();
}

void install_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGHUP, SIG_IGN);   // no reload semantics yet; never die of a closed terminal
  signal(SIGPIPE, SIG_IGN);  // a vanished client is an EPIPE, not our end
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nfjit::daemon;
  using namespace nfjit;
  auto cfg = parse_daemon_args(argc, argv);
  if (!cfg) {
    std::fprintf(stderr, "nfjitd: %s\n%s", cfg.error().message.c_str(), daemon_usage_text());
    return 2;
  }
  if (cfg->help) {
    std::fputs(daemon_usage_text(), stdout);
    return 0;
  }
  if (!cfg->foreground) daemonize_begin();
  log_open(/*to_stderr=*/true, /*to_syslog=*/true);
  log_set_debug(cfg->debug);
  install_signals();

  auto pidfile = Pidfile::create(cfg->pidfile_path());
  if (!pidfile) {
    logf(LOG_ERR, "%s", pidfile.error().message.c_str());
    return 1;
  }
  RejectStatus::instance().set_mode(cfg->reject_in_kernel ? RejectMode::Kernel : RejectMode::Userspace);
  auto setup = setup_engine(cfg->bpffs_dir, cfg->reject_in_kernel);
  if (!setup) {
    logf(LOG_ERR, "%s", setup.error().message.c_str());
    return 1;
  }
  runtime::Engine& engine = *setup->engine;
  for (const auto& key : setup->restored_keys)
    logf(LOG_INFO, "adopted pinned ruleset %s: still filtering", key.c_str());
  // REJECT rules running as BPF drop and leave a record; nfjitd sends the reply (docs/reject.md).
  RejectSender rejects;
  LogPump logs(engine, [&rejects](const uint8_t* rec, size_t size) { rejects.handle(rec, size); });
  EngineTableSink sink(engine, [&logs] { logs.refresh(); });
  xt::KernelXtables kernel;
  // Each table's state (blob, base counters, where it runs) is saved under --state-dir after every
  // change and reconciled here with the programs adopted from the pins above.
  xt::StateStore xt_store(cfg->state_dir + "/xtables");
  xt::XtablesService xtables(sink, kernel,
                             xt::ServiceOptions{.strict = cfg->strict,
                                                .store = &xt_store,
                                                .warn = [](const std::string& m) { logf(LOG_ERR, "%s", m.c_str()); },
                                                .debug = log_debug_enabled() ? std::function<void(const std::string&)>(
                                                                                   [](const std::string& m) {
                                                                                     logf(LOG_DEBUG, "%s", m.c_str());
                                                                                   })
                                                                             : nullptr});
  for (const auto& line : xtables.restore()) logf(LOG_INFO, "restored %s", line.c_str());
  XtablesHandler xt_handler(xtables, engine);
  // nf_tables: one server for the namespace, shared by every shim netlink session. Each table a batch
  // changes runs as BPF when it lowers, else in the kernel's own nf_tables (refused under --strict).
  nft::NftServer nft_server;
  KernelNftables kernel_nft;
  NftLowerFn lower = [](const nft::Store& s, uint8_t family, const std::string& table, std::vector<nft::Refusal>* why,
                        nft::LowerCache* cache) { return nft::lower_table(s, family, table, why, cache); };
  NftRuleset nft_ruleset(nft_server, engine, lower, kernel_nft, cfg->strict);
  nft_ruleset.set_on_change([&logs] { logs.refresh(); });
  // iptables-nft asks which xt extension revisions exist: only the kernel knows.
  nft_server.set_compat_forward([&kernel_nft](const nlmsghdr* nlh, const nft::Peer& peer)
                                    -> std::optional<std::vector<nft::Datagram>> {
    auto r = kernel_nft.forward(reinterpret_cast<const uint8_t*>(nlh), nlh->nlmsg_len, peer.portid);
    if (!r) {
      logf(LOG_ERR, "nft_compat query: %s", r.error().message.c_str());
      return std::nullopt;
    }
    return std::move(*r);
  });
  WithNftStatus handler(xt_handler, nft_ruleset);
  Server server(ServerOptions{.socket_path = cfg->socket_path}, handler);
  NetlinkSessions netlink(nft_server, SelfNamespaces::current());
  server.set_netlink(&netlink);
  if (auto ok = server.start(); !ok) {
    logf(LOG_ERR, "%s", ok.error().message.c_str());
    return 1;
  }
  g_server = &server;
  logf(LOG_INFO, "serving (state %s, bpffs %s%s%s)", cfg->state_dir.c_str(), cfg->bpffs_dir.c_str(),
       cfg->strict ? ", strict" : "", cfg->reject_in_kernel ? ", REJECT in the kernel" : "");
  daemonize_ready();
  server.run();
  g_server = nullptr;
  // Pinned programs and maps under --bpffs stay in force: the firewall outlives the daemon.
  logf(LOG_INFO, "stopped; pinned state under %s left in place", cfg->bpffs_dir.c_str());
  log_close();
  return 0;
}
