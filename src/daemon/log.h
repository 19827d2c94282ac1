// nfjitd's log: stderr (when attached to a terminal or run in the foreground) and syslog (LOG_DAEMON).
#pragma once

#include <syslog.h>

namespace nfjit::daemon {

void log_open(bool to_stderr, bool to_syslog);
void log_close();
// printf-style; `priority` is a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
void logf(int priority, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// LOG_DEBUG lines (per-stage timings of every sockopt call and install) are dropped unless enabled
// (nfjitd --debug).
void log_set_debug(bool on);
bool log_debug_enabled();

}  // namespace nfjit::daemon
