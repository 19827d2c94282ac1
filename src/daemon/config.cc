#include "daemon/config.h"

#include <cstring>
#include <string_view>

namespace nfjit::daemon {

const char* daemon_usage_text() {
  return "usage: nfjitd [options]\n"
         "  --socket PATH     unix socket to serve (default /run/nfjit/nfjitd.sock)\n"
         "  --bpffs DIR       bpffs directory for pinned programs and maps (default /sys/fs/bpf/nfjit)\n"
         "  --state-dir DIR   pidfile and saved state (default /var/lib/nfjit)\n"
         "  --strict          refuse tables that cannot run as BPF instead of passing them through\n"
         "  --xdp IFACE       also attach eligible chains at XDP on IFACE (repeatable)\n"
         "  --tc IFACE        also attach eligible chains at TC ingress on IFACE (repeatable)\n"
         "  --reject=MODE     userspace (default): REJECT runs as BPF, nfjitd sends the RST/ICMP reply;\n"
         "                    kernel: tables with a REJECT rule stay in the kernel's netfilter\n"
         "  -f, --foreground  stay in the foreground and log to stderr as well as syslog\n"
         "  --debug           also log per-stage timings of every call and install (debug level)\n"
         "  -h, --help        this text\n"
         "One nfjitd serves the network namespace it was started in. SIGTERM/SIGINT stop it and leave\n"
         "pinned rules in force; SIGHUP is ignored.\n";
}

Result<DaemonConfig> parse_daemon_args(int argc, const char* const* argv) {
  DaemonConfig cfg;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    // Options with a value accept both "--opt VALUE" and "--opt=VALUE".
    auto value = [&](std::string_view name, std::string* out) -> Result<bool> {
      if (a == name) {
        if (i + 1 >= argc) return make_error(EINVAL, std::string(name) + " needs a value");
        *out = argv[++i];
        return true;
      }
      if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=') {
        *out = std::string(a.substr(name.size() + 1));
        return true;
      }
      return false;
    };
    std::string v;
    bool matched = false;
    for (auto [name, dst] : {std::pair{"--socket", &cfg.socket_path}, std::pair{"--bpffs", &cfg.bpffs_dir},
                             std::pair{"--state-dir", &cfg.state_dir}}) {
      auto r = value(name, &v);
      if (!r) return r.error();
      if (*r) {
        if (v.empty()) return make_error(EINVAL, std::string(name) + " needs a non-empty value");
        *dst = v;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    for (auto [name, dst] : {std::pair{"--xdp", &cfg.xdp_ifaces}, std::pair{"--tc", &cfg.tc_ifaces}}) {
      auto r = value(name, &v);
      if (!r) return r.error();
      if (*r) {
        if (v.empty()) return make_error(EINVAL, std::string(name) + " needs an interface name");
        dst->push_back(v);
        matched = true;
        break;
      }
    }
    if (matched) continue;
    {
      std::string mode;
      auto r = value("--reject", &mode);
      if (!r) return r.error();
      if (*r) {
        if (mode == "userspace") cfg.reject_in_kernel = false;
        else if (mode == "kernel") cfg.reject_in_kernel = true;
        else return make_error(EINVAL, "--reject needs 'userspace' or 'kernel', not '" + mode + "'");
        continue;
      }
    }
    if (a == "--strict") cfg.strict = true;
    else if (a == "-f" || a == "--foreground") cfg.foreground = true;
    else if (a == "--debug") cfg.debug = true;
    else if (a == "-h" || a == "--help") cfg.help = true;
    else return make_error(EINVAL, "unknown argument '" + std::string(a) + "'");
  }
  return cfg;
}

}  // namespace nfjit::daemon
