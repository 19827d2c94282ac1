#include "daemon/log.h"

#include <cstdarg>
#include <cstdio>

namespace nfjit::daemon {
namespace {
bool g_stderr = true;
bool g_syslog = false;
bool g_debug = false;

const char* level_name(int priority) {
  switch (priority) {
    case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
    case LOG_WARNING: return "warning";
    case LOG_DEBUG: return "debug";
    default: return "info";
  }
}
}  // namespace

void log_open(bool to_stderr, bool to_syslog) {
  g_stderr = to_stderr;
  g_syslog = to_syslog;
  if (to_syslog) openlog("nfjitd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close() {
  if (g_syslog) closelog();
  g_syslog = false;
}

void log_set_debug(bool on) { g_debug = on; }
bool log_debug_enabled() { return g_debug; }

void logf(int priority, const char* fmt, ...) {
  if (priority == LOG_DEBUG && !g_debug) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (g_stderr) std::fprintf(stderr, "nfjitd: %s: %s\n", level_name(priority), msg);
  if (g_syslog) syslog(priority, "%s", msg);
}

}  // namespace nfjit::daemon
